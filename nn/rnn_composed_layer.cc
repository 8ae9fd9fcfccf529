#include "nn/rnn_composed_layer.h"

#include "autograd/functions.h"
#include "nn/layer_norm.h"
#include "nn/research_cells.h"

namespace loom::nn {

namespace {

// LN(x W^T; w, b) + bias, or x W^T + bias without layer norm (ln_w
// undefined); bias may be undefined.
Tensor normed(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& ln_w, const Tensor& ln_b,
              double eps) {
  if (!ln_w.defined()) return linear(x, weight, bias);
  Tensor a = layer_norm(linear(x, weight), {weight.size(0)}, ln_w, ln_b, eps);
  return bias.defined() ? a + bias : a;
}

// Zoneout of the rows [row0, row0 + rows) of one step: the mask's rows in
// training, the expectation without a mask, `next` when p == 0.
Tensor zone(const Tensor& prev, const Tensor& next, double p, const Tensor& mask, std::int64_t row0,
            std::int64_t rows) {
  if (p == 0) return next;
  if (mask.defined()) return zoneout(prev, next, p, narrow(mask, 0, row0, rows), true);
  return zoneout(prev, next, p, Tensor(), false);
}

// The first `rows` rows of a state [N, S] (the state itself when all are active).
Tensor head(const Tensor& state, std::int64_t rows) {
  return rows == state.size(0) ? state : narrow(state, 0, 0, rows);
}

// `fresh` [rows, S] over the first rows of `state` [N, S], the rest kept.
Tensor merge(const Tensor& fresh, const Tensor& state) {
  const std::int64_t rows = fresh.size(0), N = state.size(0);
  return rows == N ? fresh : cat({fresh, narrow(state, 0, rows, N - rows)}, 0);
}

}  // namespace

FusedRnnLayerOutputs composed_rnn_layer(kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                        bool reverse, const FusedRnnLayerInputs& in, const RnnLayerNormParams& ln) {
  const bool lstm = mode == kernels::RnnMode::Lstm;
  LOOM_CHECK(lstm || mode == kernels::RnnMode::Gru, "composed_rnn_layer: only LSTM and GRU");
  LOOM_CHECK(!in.w_hr.defined(), "layer_norm is not supported with proj_size > 0");
  const std::int64_t T = static_cast<std::int64_t>(batch_sizes.size());
  const std::int64_t H = in.h0.size(1);
  std::vector<std::int64_t> row0(T, 0);
  for (std::int64_t t = 1; t < T; ++t) row0[t] = row0[t - 1] + batch_sizes[t - 1];
  LOOM_CHECK(T > 0 && row0[T - 1] + batch_sizes[T - 1] == in.x.size(0),
             "composed_rnn_layer: x has {} rows, batch_sizes do not add up to it", in.x.size(0));

  // The input projections of every row at once, normalised row by row.
  const Tensor xg = normed(in.x, in.w_ih, in.b_ih, ln.ih_weight, ln.ih_bias, ln.eps);  // [R, G]
  Tensor h = in.h0, c = in.c0;
  std::vector<Tensor> ys(static_cast<std::size_t>(T));
  for (std::int64_t s = 0; s < T; ++s) {
    const std::int64_t t = reverse ? T - 1 - s : s, rows = batch_sizes[t];
    const Tensor xt = narrow(xg, 0, row0[t], rows);
    const Tensor hp = head(h, rows);
    const Tensor gh = normed(hp, in.w_hh, in.b_hh, ln.hh_weight, ln.hh_bias, ln.eps);
    Tensor h_new;
    if (lstm) {
      const Tensor cp = head(c, rows);
      const std::vector<Tensor> g = chunk(xt + gh, 4, 1);  // i, f, g, o
      const Tensor c_cell = sigmoid(g[1]) * cp + sigmoid(g[0]) * tanh(g[2]);
      const Tensor c_out = ln.c_weight.defined() ? layer_norm(c_cell, {H}, ln.c_weight, ln.c_bias, ln.eps) : c_cell;
      h_new = sigmoid(g[3]) * tanh(c_out);
      c = merge(zone(cp, c_cell, in.zoneout_c, in.zoneout_c_mask, row0[t], rows), c);
    } else {
      const std::vector<Tensor> i = chunk(xt, 3, 1), r = chunk(gh, 3, 1);  // r, z, n
      const Tensor reset = sigmoid(i[0] + r[0]), update = sigmoid(i[1] + r[1]);
      const Tensor n = tanh(i[2] + reset * r[2]);
      h_new = rsub(update, 1.0) * n + update * hp;
    }
    h_new = zone(hp, h_new, in.zoneout_h, in.zoneout_h_mask, row0[t], rows);
    ys[static_cast<std::size_t>(t)] = h_new;
    h = merge(h_new, h);
  }
  FusedRnnLayerOutputs out;
  out.y = cat(ys, 0);
  out.h_n = h;
  if (lstm) out.c_n = c;
  return out;
}

}  // namespace loom::nn
