// Differentiable BPTT of one layer-direction: re-run the layer as composed
// ops, then backpropagate by hand with composed ops (see the header).
//
// Notation per step t (b = batch_sizes[t] active rows, rows [off_t, off_t + b)
// of the packed input): hp, cp the incoming states (b rows), dht = dL/dh_t
// (from the next step and from y), dct = dL/dc_t.
//   RNN:  a = x W_ih^T + b_ih + hp W_hh^T + b_hh, h = act(a)
//         da = dht * act'(a)
//   LSTM: (i, f, g, o) = (sig, sig, tanh, sig)(gates), c = f cp + i g,
//         hc = o tanh(c), h = hc W_hr^T (or hc without projection)
//         dhc = dht W_hr (or dht), dc = dct + dhc o (1 - tanh(c)^2),
//         d(i, f, g, o) = (dc g, dc cp, dc i, dhc tanh(c)) times each
//         activation's derivative, dcp = dc f
//   GRU:  r, z = sig(.), n = tanh(gi_n + r gh_n), h = n + z (hp - n)
//         dz = dht (hp - n), dn = dht (1 - z), dan = dn (1 - n^2),
//         dr = dan gh_n; the input part of the n gate gets dan, the hidden
//         part dan * r
// dhp = (gate gradients of the hidden part) W_hh (+ dht z for GRU). The
// weight gradients are whole-sequence products: dW_ih = DGI^T x,
// dW_hh = DGH^T HP, dW_hr = DH^T HC, biases the column sums.
#include "nn/rnn_double_backward.h"

#include "autograd/functions.h"

namespace loom::nn {

namespace {

using kernels::RnnMode;

// What the re-run keeps of one step for the hand-written backward.
struct StepValues {
  Tensor hp, cp;           // incoming states (b rows)
  Tensor a, h;             // RNN: pre-activation and output
  Tensor i, f, g, o, c, tc;  // LSTM gates, the new cell state and tanh(c)
  Tensor hc;               // LSTM o * tanh(c) (the projection's input)
  Tensor r, z, n, gh_n;    // GRU gates and the hidden part of the n gate
};

Tensor rows(const Tensor& t, std::int64_t start, std::int64_t count) {
  return narrow(t, 0, start, count);
}

// The first `b` rows of `state`, growing it from `initial` first when the
// reverse direction reaches steps with more active sequences.
Tensor grow(const Tensor& state, const Tensor& initial, std::int64_t b) {
  const std::int64_t cur = state.size(0);
  if (b == cur) return state;
  if (b < cur) return rows(state, 0, b);
  return cat({state, rows(initial, cur, b - cur)}, 0);
}

// One step forward from (hp, cp) with input projection xi [b, G].
StepValues step_forward(RnnMode mode, const Tensor& xi, const Tensor& hp, const Tensor& cp,
                        const FusedRnnLayerInputs& in) {
  StepValues s;
  s.hp = hp;
  s.cp = cp;
  if (mode == RnnMode::Gru) {
    std::vector<Tensor> gi = chunk(xi, 3, 1);
    std::vector<Tensor> gh = chunk(linear(hp, in.w_hh, in.b_hh), 3, 1);
    s.r = sigmoid(gi[0] + gh[0]);
    s.z = sigmoid(gi[1] + gh[1]);
    s.gh_n = gh[2];
    s.n = tanh(gi[2] + s.r * gh[2]);
    s.h = s.n + s.z * (hp - s.n);
    return s;
  }
  Tensor pre = xi + linear(hp, in.w_hh, in.b_hh);
  if (mode == RnnMode::Lstm) {
    std::vector<Tensor> ch = chunk(pre, 4, 1);
    s.i = sigmoid(ch[0]);
    s.f = sigmoid(ch[1]);
    s.g = tanh(ch[2]);
    s.o = sigmoid(ch[3]);
    s.c = s.f * cp + s.i * s.g;
    s.tc = tanh(s.c);
    s.hc = s.o * s.tc;
    s.h = in.w_hr.defined() ? linear(s.hc, in.w_hr) : s.hc;
    return s;
  }
  s.a = pre;
  s.h = mode == RnnMode::RnnTanh ? tanh(pre) : relu(pre);
  return s;
}

// One step backward: from dht (and dct) returns the gate gradients of the
// input part (dgi) and hidden part (dgh), and the incoming-state gradients.
struct StepGrads {
  Tensor dgi, dgh, dhp, dcp;
};

StepGrads step_backward(RnnMode mode, const StepValues& s, const Tensor& dht, const Tensor& dct,
                        const FusedRnnLayerInputs& in) {
  StepGrads d;
  if (mode == RnnMode::Gru) {
    Tensor dz = dht * (s.hp - s.n);
    Tensor dn = dht * (1.0 - s.z);
    Tensor dan = dn * (1.0 - s.n * s.n);
    Tensor dar = dan * s.gh_n * s.r * (1.0 - s.r);
    Tensor daz = dz * s.z * (1.0 - s.z);
    d.dgi = cat({dar, daz, dan}, 1);
    d.dgh = cat({dar, daz, dan * s.r}, 1);
    d.dhp = dht * s.z + matmul(d.dgh, in.w_hh);
    return d;
  }
  if (mode == RnnMode::Lstm) {
    Tensor dhc = in.w_hr.defined() ? matmul(dht, in.w_hr) : dht;
    Tensor dc = dct + dhc * s.o * (1.0 - s.tc * s.tc);
    Tensor dai = dc * s.g * s.i * (1.0 - s.i);
    Tensor daf = dc * s.cp * s.f * (1.0 - s.f);
    Tensor dag = dc * s.i * (1.0 - s.g * s.g);
    Tensor dao = dhc * s.tc * s.o * (1.0 - s.o);
    d.dgi = d.dgh = cat({dai, daf, dag, dao}, 1);
    d.dcp = dc * s.f;
    d.dhp = matmul(d.dgh, in.w_hh);
    return d;
  }
  Tensor da = mode == RnnMode::RnnTanh ? dht * (1.0 - s.h * s.h)
                                       : where(gt(s.a, 0.0), dht, zeros_like(dht));
  d.dgi = d.dgh = da;
  d.dhp = matmul(da, in.w_hh);
  return d;
}

}  // namespace

std::vector<Tensor> rnn_layer_backward_composed(RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                                bool reverse, const FusedRnnLayerInputs& in,
                                                const std::array<Tensor, 3>& grads,
                                                const std::array<bool, 8>& wants) {
  const bool lstm = mode == RnnMode::Lstm;
  const std::int64_t T = static_cast<std::int64_t>(batch_sizes.size());
  const std::int64_t N = in.h0.size(0);
  std::vector<std::int64_t> offset(static_cast<std::size_t>(T), 0);
  for (std::int64_t t = 1; t < T; ++t) offset[t] = offset[t - 1] + batch_sizes[t - 1];

  // ---- the layer again, as composed ops -------------------------------------------------
  const Tensor xi = linear(in.x, in.w_ih, in.b_ih);  // [R, G]
  std::vector<StepValues> steps(static_cast<std::size_t>(T));
  Tensor h = reverse ? rows(in.h0, 0, batch_sizes[T - 1]) : in.h0;
  Tensor c = lstm ? (reverse ? rows(in.c0, 0, batch_sizes[T - 1]) : in.c0) : Tensor();
  for (std::int64_t k = 0; k < T; ++k) {
    const std::int64_t t = reverse ? T - 1 - k : k;
    const std::int64_t b = batch_sizes[t];
    Tensor hp = reverse ? grow(h, in.h0, b) : rows(h, 0, b);
    Tensor cp = lstm ? (reverse ? grow(c, in.c0, b) : rows(c, 0, b)) : Tensor();
    StepValues& s = steps[t];
    s = step_forward(mode, rows(xi, offset[t], b), hp, cp, in);
    const Tensor& c1 = s.c;
    if (reverse) {
      h = s.h;
      c = c1;
    } else {
      // Finished sequences (rows >= b) keep their state.
      h = b == N ? s.h : cat({s.h, rows(h, b, N - b)}, 0);
      if (lstm) c = b == N ? c1 : cat({c1, rows(c, b, N - b)}, 0);
    }
  }

  // ---- backpropagation through time, by hand --------------------------------------------
  const Tensor& dy = grads[0];
  Tensor dh = grads[1];
  Tensor dc = lstm ? grads[2] : Tensor();
  std::vector<Tensor> dgi(static_cast<std::size_t>(T)), dgh(dgi.size()), dht_all(dgi.size());
  std::vector<Tensor> dh0_pieces, dc0_pieces;  // reverse: rows of h0 entering late
  for (std::int64_t k = 0; k < T; ++k) {
    const std::int64_t t = reverse ? k : T - 1 - k;
    const std::int64_t b = batch_sizes[t];
    Tensor dh_rest, dc_rest;  // forward: rows >= b pass through this step unchanged
    if (dh.size(0) > b) {
      const std::int64_t extra = dh.size(0) - b;
      if (reverse) {
        dh0_pieces.push_back(rows(dh, b, extra));
        if (lstm) dc0_pieces.push_back(rows(dc, b, extra));
      } else {
        dh_rest = rows(dh, b, extra);
        if (lstm) dc_rest = rows(dc, b, extra);
      }
      dh = rows(dh, 0, b);
      if (lstm) dc = rows(dc, 0, b);
    }
    Tensor dht = dh + rows(dy, offset[t], b);
    StepGrads g = step_backward(mode, steps[t], dht, dc, in);
    dgi[t] = g.dgi;
    dgh[t] = g.dgh;
    dht_all[t] = dht;
    dh = dh_rest.defined() ? cat({g.dhp, dh_rest}, 0) : g.dhp;
    if (lstm) dc = dc_rest.defined() ? cat({g.dcp, dc_rest}, 0) : g.dcp;
  }
  // Reverse: what is left covers h0's first rows; the pieces follow, lowest rows last pushed.
  for (auto it = dh0_pieces.rbegin(); it != dh0_pieces.rend(); ++it) dh = cat({dh, *it}, 0);
  for (auto it = dc0_pieces.rbegin(); it != dc0_pieces.rend(); ++it) dc = cat({dc, *it}, 0);

  // ---- whole-sequence products ------------------------------------------------------------
  std::vector<Tensor> hp_all;
  std::vector<Tensor> hc_all;
  for (const StepValues& s : steps) {
    hp_all.push_back(s.hp);
    if (in.w_hr.defined()) hc_all.push_back(s.hc);
  }
  const Tensor DGI = cat(dgi, 0);  // [R, G]
  const Tensor DGH = cat(dgh, 0);  // [R, G]
  std::vector<Tensor> out(8);
  if (wants[0]) out[0] = matmul(DGI, in.w_ih);
  if (wants[1]) out[1] = dh;
  if (wants[2] && lstm) out[2] = dc;
  if (wants[3]) out[3] = matmul(transpose(DGI, 0, 1), in.x);
  if (wants[4]) out[4] = matmul(transpose(DGH, 0, 1), cat(hp_all, 0));
  if (wants[5] && in.b_ih.defined()) out[5] = sum(DGI, {0});
  if (wants[6] && in.b_hh.defined()) out[6] = sum(DGH, {0});
  if (wants[7] && in.w_hr.defined()) out[7] = matmul(transpose(cat(dht_all, 0), 0, 1), cat(hc_all, 0));
  return out;
}

}  // namespace loom::nn
