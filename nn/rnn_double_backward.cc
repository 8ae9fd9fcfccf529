// Differentiable BPTT of one layer-direction: re-run the layer as composed
// ops, then backpropagate by hand with composed ops (see the header).
//
// Notation per step t (b = batch_sizes[t] active rows, rows [off_t, off_t + b)
// of the packed input): hp, cp the incoming states (b rows), dht = dL/dh_t
// (from the next step and from y), dct = dL/dc_t.
//   Pre-activations: ai = x W_ih^T + b_ih, ah = hp W_hh^T + b_hh; with layer
//   norms ai = LN(x W_ih^T; ln_ih) + b_ih, ah = LN(hp W_hh^T; ln_hh) + b_hh.
//   RNN:  a = ai + ah, h~ = act(a)
//         da = dh~ * act'(a)
//   LSTM: (i, f, g, o) = (sig, sig, tanh, sig)(ai + ah), c~ = f cp + i g,
//         cn = LN(c~; ln_c) (or c~), hc = o tanh(cn), h~ = hc W_hr^T (or hc)
//         dhc = dh~ W_hr (or dh~), dcn = dhc o (1 - tanh(cn)^2),
//         dc~ = dc~_direct + LN'(dcn) (or dcn),
//         d(i, f, g, o) = (dc~ g, dc~ cp, dc~ i, dhc tanh(cn)) times each
//         activation's derivative, dcp = dc~ f
//   GRU:  r, z = sig(.), n = tanh(ai_n + r ah_n), h~ = n + z (hp - n)
//         dz = dh~ (hp - n), dn = dh~ (1 - z), dan = dn (1 - n^2),
//         dr = dan ah_n; the input part of the n gate gets dan, the hidden
//         part dan * r; dhp gets dh~ z directly
//   Zoneout (mask m, or the probability in eval): h_t = m hp + (1 - m) h~,
//         c_t = m_c cp + (1 - m_c) c~ (h~ from the un-zoned c~), so
//         dh~ = (1 - m) dht, dhp += m dht; dc~_direct = (1 - m_c) dct,
//         dcp += m_c dct.
//   Layer norm LN(v; w, b) = xhat w + b, xhat = (v - mean v) rstd,
//         rstd = 1 / sqrt(var v + eps) over a row; with dy its output's
//         gradient and gy = dy w:
//         dv = rstd (gy - mean(gy) - xhat mean(gy xhat)),
//         dw = sum over rows of dy xhat, db = sum over rows of dy.
// dhp = (raw gradient of the hidden projection) W_hh + the direct parts. The
// weight gradients are whole-sequence products: dW_ih = DGI_raw^T x,
// dW_hh = DGH_raw^T HP, dW_hr = DH~^T HC, biases the column sums of the
// pre-activation gradients.
#include "nn/rnn_double_backward.h"

#include "autograd/functions.h"
#include "core/error.h"

namespace loom::nn {

namespace {

using kernels::RnnMode;

// A layer norm's forward values its backward needs.
struct Normed {
  Tensor out;   // xhat * w + b
  Tensor xhat;  // [rows, F]
  Tensor rstd;  // [rows, 1]
};

// LN(v; w, b) over the last dimension of v [rows, F] (biased variance).
Normed layer_norm_forward(const Tensor& v, const Tensor& w, const Tensor& b, double eps) {
  Normed n;
  const Tensor centred = v - mean(v, {1}, true);
  n.rstd = pow(mean(centred * centred, {1}, true) + eps, -0.5);
  n.xhat = centred * n.rstd;
  n.out = n.xhat * w + b;
  return n;
}

// dL/dv of LN(v; w, b) from dy = dL/d(output).
Tensor layer_norm_backward(const Tensor& dy, const Normed& n, const Tensor& w) {
  const Tensor gy = dy * w;
  return n.rstd * (gy - mean(gy, {1}, true) - n.xhat * mean(gy * n.xhat, {1}, true));
}

// A projection's pre-activation: v W^T (+ LN when ln_w is defined) + bias.
struct Projection {
  Tensor pre;   // what the gates read
  Normed norm;  // with layer norm only
};

Projection project(const Tensor& v, const Tensor& weight, const Tensor& bias, const Tensor& ln_w,
                   const Tensor& ln_b, double eps) {
  Projection p;
  if (!ln_w.defined()) {
    p.pre = linear(v, weight, bias);
    return p;
  }
  p.norm = layer_norm_forward(linear(v, weight), ln_w, ln_b, eps);
  p.pre = bias.defined() ? p.norm.out + bias : p.norm.out;
  return p;
}

// The zoneout of one state: probability p (0: off) and the training mask
// [R, S] (undefined: the expectation p).
struct Zone {
  double p = 0;
  Tensor mask;

  bool on() const { return p > 0; }
  // m * prev + (1 - m) * next for rows [row0, row0 + b).
  Tensor apply(const Tensor& prev, const Tensor& next, std::int64_t row0, std::int64_t b) const {
    if (!on()) return next;
    if (!mask.defined()) return prev * p + next * (1 - p);
    const Tensor m = narrow(mask, 0, row0, b);
    return m * prev + rsub(m, 1.0) * next;
  }
  // The gradient's shares: (1 - m) * d to the new value, m * d to the previous.
  Tensor to_next(const Tensor& d, std::int64_t row0, std::int64_t b) const {
    if (!on()) return d;
    if (!mask.defined()) return d * (1 - p);
    return d * rsub(narrow(mask, 0, row0, b), 1.0);
  }
  Tensor to_prev(const Tensor& d, std::int64_t row0, std::int64_t b) const {
    if (!mask.defined()) return d * p;
    return d * narrow(mask, 0, row0, b);
  }
};

// What the re-run keeps of one step for the hand-written backward.
struct StepValues {
  Tensor hp, cp;               // incoming states (b rows)
  Normed hh_norm;              // the recurrent projection's layer norm
  Tensor a, h;                 // RNN: pre-activation; h~ (before zoneout)
  Tensor i, f, g, o, tc;       // LSTM gates and tanh(cn)
  Tensor cc;                   // LSTM c~ (before zoneout)
  Normed c_norm;               // LSTM: the layer norm of c~
  Tensor hc;                   // LSTM o * tanh(cn) (the projection's input)
  Tensor r, z, n, gh_n;        // GRU gates and the hidden part of the n gate
  Tensor h_out, c_out;         // the states carried on (after zoneout)
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

// One step forward from (hp, cp) with input pre-activation xi [b, G] (rows
// [row0, row0 + b)).
StepValues step_forward(RnnMode mode, const Tensor& xi, const Tensor& hp, const Tensor& cp,
                        const FusedRnnLayerInputs& in, const RnnLayerNormParams& ln, const Zone& zh,
                        const Zone& zc, std::int64_t row0) {
  StepValues s;
  s.hp = hp;
  s.cp = cp;
  const std::int64_t b = hp.size(0);
  Projection ph = project(hp, in.w_hh, in.b_hh, ln.hh_weight, ln.hh_bias, ln.eps);
  s.hh_norm = ph.norm;
  if (mode == RnnMode::Gru) {
    std::vector<Tensor> gi = chunk(xi, 3, 1);
    std::vector<Tensor> gh = chunk(ph.pre, 3, 1);
    s.r = sigmoid(gi[0] + gh[0]);
    s.z = sigmoid(gi[1] + gh[1]);
    s.gh_n = gh[2];
    s.n = tanh(gi[2] + s.r * gh[2]);
    s.h = s.n + s.z * (hp - s.n);
  } else if (mode == RnnMode::Lstm) {
    std::vector<Tensor> ch = chunk(xi + ph.pre, 4, 1);
    s.i = sigmoid(ch[0]);
    s.f = sigmoid(ch[1]);
    s.g = tanh(ch[2]);
    s.o = sigmoid(ch[3]);
    s.cc = s.f * cp + s.i * s.g;
    Tensor cn = s.cc;
    if (ln.c_weight.defined()) {
      s.c_norm = layer_norm_forward(s.cc, ln.c_weight, ln.c_bias, ln.eps);
      cn = s.c_norm.out;
    }
    s.tc = tanh(cn);
    s.hc = s.o * s.tc;
    s.h = in.w_hr.defined() ? linear(s.hc, in.w_hr) : s.hc;
    s.c_out = zc.apply(cp, s.cc, row0, b);
  } else {
    s.a = xi + ph.pre;
    s.h = mode == RnnMode::RnnTanh ? tanh(s.a) : relu(s.a);
  }
  s.h_out = zh.apply(hp, s.h, row0, b);
  return s;
}

// One step backward: from dh~ = dL/dh~ (after zoneout's share) and dc~ (the
// direct part of dL/dc~) returns the gradients of the input-part and
// hidden-part pre-activations (dgi, dgh: of ai and ah), the gradient of the
// raw recurrent projection hp W_hh^T (dgh_raw), the incoming-state
// gradients (before zoneout's direct parts) and, for LSTM with a layer norm
// on c, dcn (the gradient of that layer norm's output).
struct StepGrads {
  Tensor dgi, dgh, dgh_raw, dhp, dcp, dcn;
};

StepGrads step_backward(RnnMode mode, const StepValues& s, const Tensor& dh, const Tensor& dcc,
                        const FusedRnnLayerInputs& in, const RnnLayerNormParams& ln) {
  StepGrads d;
  Tensor dhp_direct;
  if (mode == RnnMode::Gru) {
    Tensor dz = dh * (s.hp - s.n);
    Tensor dn = dh * (1.0 - s.z);
    Tensor dan = dn * (1.0 - s.n * s.n);
    Tensor dar = dan * s.gh_n * s.r * (1.0 - s.r);
    Tensor daz = dz * s.z * (1.0 - s.z);
    d.dgi = cat({dar, daz, dan}, 1);
    d.dgh = cat({dar, daz, dan * s.r}, 1);
    dhp_direct = dh * s.z;
  } else if (mode == RnnMode::Lstm) {
    Tensor dhc = in.w_hr.defined() ? matmul(dh, in.w_hr) : dh;
    Tensor dcn = dhc * s.o * (1.0 - s.tc * s.tc);
    Tensor dc = dcc;
    if (ln.c_weight.defined()) {
      d.dcn = dcn;
      dc = dc + layer_norm_backward(dcn, s.c_norm, ln.c_weight);
    } else {
      dc = dc + dcn;
    }
    Tensor dai = dc * s.g * s.i * (1.0 - s.i);
    Tensor daf = dc * s.cp * s.f * (1.0 - s.f);
    Tensor dag = dc * s.i * (1.0 - s.g * s.g);
    Tensor dao = dhc * s.tc * s.o * (1.0 - s.o);
    d.dgi = d.dgh = cat({dai, daf, dag, dao}, 1);
    d.dcp = dc * s.f;
  } else {
    Tensor da = mode == RnnMode::RnnTanh ? dh * (1.0 - s.h * s.h)
                                         : where(gt(s.a, 0.0), dh, zeros_like(dh));
    d.dgi = d.dgh = da;
  }
  d.dgh_raw = ln.hh_weight.defined() ? layer_norm_backward(d.dgh, s.hh_norm, ln.hh_weight) : d.dgh;
  d.dhp = matmul(d.dgh_raw, in.w_hh);
  if (dhp_direct.defined()) d.dhp = d.dhp + dhp_direct;
  return d;
}

}  // namespace

std::vector<Tensor> rnn_layer_backward_composed(RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                                bool reverse, const FusedRnnLayerInputs& in,
                                                const RnnLayerNormParams& ln, const std::array<Tensor, 3>& grads,
                                                const std::vector<bool>& wants) {
  const bool lstm = mode == RnnMode::Lstm;
  const bool normed = ln.ih_weight.defined();
  LOOM_CHECK(wants.size() == 14, "rnn_layer_backward_composed: wants has {} entries, expected 14", wants.size());
  LOOM_CHECK(!normed || lstm || mode == RnnMode::Gru,
             "rnn_layer_backward_composed: layer norms only for LSTM and GRU");
  LOOM_CHECK(!normed || !in.w_hr.defined(), "layer_norm is not supported with proj_size > 0");
  LOOM_CHECK(!normed || (ln.ih_bias.defined() && ln.hh_weight.defined() && ln.hh_bias.defined()),
             "rnn_layer_backward_composed: the layer norms need ih_weight, ih_bias, hh_weight and hh_bias");
  LOOM_CHECK(!ln.c_weight.defined() || (lstm && ln.c_bias.defined()),
             "rnn_layer_backward_composed: c_weight/c_bias are LSTM's, and need each other");
  const std::int64_t T = static_cast<std::int64_t>(batch_sizes.size());
  LOOM_CHECK(T > 0, "rnn_layer_backward_composed: no steps");
  const std::int64_t N = in.h0.size(0);
  std::vector<std::int64_t> offset(static_cast<std::size_t>(T), 0);
  for (std::int64_t t = 1; t < T; ++t) offset[t] = offset[t - 1] + batch_sizes[t - 1];
  const Zone zh{in.zoneout_h, in.zoneout_h_mask};
  const Zone zc{lstm ? in.zoneout_c : 0.0, in.zoneout_c_mask};

  // ---- the layer again, as composed ops -------------------------------------------------
  const Projection pi = project(in.x, in.w_ih, in.b_ih, ln.ih_weight, ln.ih_bias, ln.eps);  // [R, G]
  std::vector<StepValues> steps(static_cast<std::size_t>(T));
  Tensor h = reverse ? rows(in.h0, 0, batch_sizes[T - 1]) : in.h0;
  Tensor c = lstm ? (reverse ? rows(in.c0, 0, batch_sizes[T - 1]) : in.c0) : Tensor();
  for (std::int64_t k = 0; k < T; ++k) {
    const std::int64_t t = reverse ? T - 1 - k : k;
    const std::int64_t b = batch_sizes[t];
    Tensor hp = reverse ? grow(h, in.h0, b) : rows(h, 0, b);
    Tensor cp = lstm ? (reverse ? grow(c, in.c0, b) : rows(c, 0, b)) : Tensor();
    StepValues& s = steps[t];
    s = step_forward(mode, rows(pi.pre, offset[t], b), hp, cp, in, ln, zh, zc, offset[t]);
    if (reverse) {
      h = s.h_out;
      c = s.c_out;
    } else {
      // Finished sequences (rows >= b) keep their state.
      h = b == N ? s.h_out : cat({s.h_out, rows(h, b, N - b)}, 0);
      if (lstm) c = b == N ? s.c_out : cat({s.c_out, rows(c, b, N - b)}, 0);
    }
  }

  // ---- backpropagation through time, by hand --------------------------------------------
  const Tensor& dy = grads[0];
  Tensor dh = grads[1];
  Tensor dc = lstm ? grads[2] : Tensor();
  const std::size_t steps_n = static_cast<std::size_t>(T);
  std::vector<Tensor> dgi(steps_n), dgh(steps_n), dgh_raw(steps_n), dh_tilde(steps_n), dcn(steps_n);
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
    const Tensor dht = dh + rows(dy, offset[t], b);
    const Tensor dh_new = zh.to_next(dht, offset[t], b);
    const Tensor dc_new = lstm ? zc.to_next(dc, offset[t], b) : Tensor();
    StepGrads g = step_backward(mode, steps[t], dh_new, dc_new, in, ln);
    dgi[t] = g.dgi;
    dgh[t] = g.dgh;
    dgh_raw[t] = g.dgh_raw;
    dh_tilde[t] = dh_new;
    dcn[t] = g.dcn;
    Tensor dhp = zh.on() ? g.dhp + zh.to_prev(dht, offset[t], b) : g.dhp;
    dh = dh_rest.defined() ? cat({dhp, dh_rest}, 0) : dhp;
    if (lstm) {
      Tensor dcp = zc.on() ? g.dcp + zc.to_prev(dc, offset[t], b) : g.dcp;
      dc = dc_rest.defined() ? cat({dcp, dc_rest}, 0) : dcp;
    }
  }
  // Reverse: what is left covers h0's first rows; the pieces follow, lowest rows last pushed.
  for (auto it = dh0_pieces.rbegin(); it != dh0_pieces.rend(); ++it) dh = cat({dh, *it}, 0);
  for (auto it = dc0_pieces.rbegin(); it != dc0_pieces.rend(); ++it) dc = cat({dc, *it}, 0);

  // ---- whole-sequence products ------------------------------------------------------------
  std::vector<Tensor> hp_all, hc_all, xhat_hh, xhat_c;
  for (const StepValues& s : steps) {
    hp_all.push_back(s.hp);
    if (in.w_hr.defined()) hc_all.push_back(s.hc);
    if (normed) xhat_hh.push_back(s.hh_norm.xhat);
    if (ln.c_weight.defined()) xhat_c.push_back(s.c_norm.xhat);
  }
  const Tensor DGI = cat(dgi, 0);                                            // [R, G] of ai
  const Tensor DGI_raw = normed ? layer_norm_backward(DGI, pi.norm, ln.ih_weight) : DGI;  // of x W_ih^T
  const Tensor DGH = cat(dgh, 0);                                            // [R, G] of ah
  const Tensor DGH_raw = normed ? cat(dgh_raw, 0) : DGH;                     // of hp W_hh^T
  std::vector<Tensor> out(14);
  if (wants[0]) out[0] = matmul(DGI_raw, in.w_ih);
  if (wants[1]) out[1] = dh;
  if (wants[2] && lstm) out[2] = dc;
  if (wants[3]) out[3] = matmul(transpose(DGI_raw, 0, 1), in.x);
  if (wants[4]) out[4] = matmul(transpose(DGH_raw, 0, 1), cat(hp_all, 0));
  if (wants[5] && in.b_ih.defined()) out[5] = sum(DGI, {0});
  if (wants[6] && in.b_hh.defined()) out[6] = sum(DGH, {0});
  if (wants[7] && in.w_hr.defined()) out[7] = matmul(transpose(cat(dh_tilde, 0), 0, 1), cat(hc_all, 0));
  if (normed) {
    if (wants[8]) out[8] = sum(DGI * pi.norm.xhat, {0});
    if (wants[9]) out[9] = sum(DGI, {0});
    if (wants[10]) out[10] = sum(DGH * cat(xhat_hh, 0), {0});
    if (wants[11]) out[11] = sum(DGH, {0});
  }
  if (ln.c_weight.defined()) {
    const Tensor DCN = cat(dcn, 0);  // [R, H]
    if (wants[12]) out[12] = sum(DCN * cat(xhat_c, 0), {0});
    if (wants[13]) out[13] = sum(DCN, {0});
  }
  return out;
}

std::vector<Tensor> rnn_layer_backward_composed(RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                                bool reverse, const FusedRnnLayerInputs& in,
                                                const std::array<Tensor, 3>& grads,
                                                const std::array<bool, 8>& wants) {
  std::vector<bool> all(14, false);
  for (std::size_t i = 0; i < wants.size(); ++i) all[i] = wants[i];
  std::vector<Tensor> out = rnn_layer_backward_composed(mode, batch_sizes, reverse, in, RnnLayerNormParams{},
                                                        grads, all);
  out.resize(8);
  return out;
}

}  // namespace loom::nn
