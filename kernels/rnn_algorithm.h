// The recurrent-layer algorithm of kernels/rnn.h, written once for both
// devices. Internal to kernels/cpu/rnn_cpu.cc and kernels/cuda/rnn.cu.
//
// Two levels:
// - step points: one (n, j) element of one step, which gather the GEMM
//   results and biases, call the cell math of kernels/rnn_cells.h and scatter
//   the new state, the output and the saved values. The CPU loops over (n, j);
//   the CUDA kernel maps a thread to each.
// - rnn_forward / rnn_backward: the sequence of GEMMs and steps, generic over
//   an `Ops` object that supplies the device's primitives:
//     gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
//     copy(dst, src, n), zero(dst, n), add(dst, a, b_or_null, n)
//     step_forward(RnnStepForward), step_backward(RnnStepBackward)
//     column_sum(m [rows, cols], rows, cols, out [cols]) in a fixed order
//     layer norm (kernels/rnn.h): step_forward_output, step_backward_output
//     (the LayerNorm-LSTM's second forward / first backward pass of a step),
//     layer_norm_rows(RowLayerNorm), layer_norm_rows_backward(RowLayerNormBackward),
//     column_dot(a, b [rows, cols], rows, cols, out [cols]) in a fixed order
//   so the CPU tests exercise every index computation the CUDA path uses.
//
// Types: S is the storage type (float, double, bfloat16, float16) and
// F = opmath_t<S> the compute type (S itself for float and double, float for
// the 16-bit types). Which value is held in which type is listed in
// kernels/rnn.h ("Precision"). The Ops primitives are templates over the
// element types they move:
//     gemm(trans_a, trans_b, M, N, K, F alpha, const S* A, lda, const S* B, ldb,
//          F beta, Out* C, ldc) with Out = S or F: products summed in F,
//          C = alpha * op(A) op(B) + beta * C computed in F, rounded once to Out
//     copy(S* dst, const S* src, n), convert(To* dst, const From* src, n) (one
//     rounding), zero(X* dst, n), add(S* dst, const F* a, const S* b_or_null, n)
//     step_forward(RnnStepForward<S>), step_backward(RnnStepBackward<S>)
//     column_sum(const S* m [rows, cols], rows, cols, S* out [cols]) summed in F
//     in a fixed order; column_dot(const S* a, const S* b, rows, cols, S* out)
//     the same for sum_r a[r, c] * b[r, c]; layer_norm_rows(const RowLayerNorm<S>&)
//     and layer_norm_rows_backward(const RowLayerNormBackward<S>&), one row at a
//     time with the row statistics in F (the math of kernels/rnn_cells.h).
// For S = F (float, double) every convert is a plain copy the algorithm never
// issues: the running states live in the caller's buffers as before.
#pragma once

#include <type_traits>

#include "kernels/common.h"
#include "kernels/half.h"
#include "kernels/rnn.h"
#include "kernels/rnn_cells.h"

namespace loom::kernels::rnn_detail {

// One forward step. Pointers into [R, .] or [N, .] arrays point at the
// step's first row, so element (n, j) of every one of them is at row n.
// S: storage type, F = opmath_t<S>: compute type (kernels/rnn.h, "Precision").
template <typename S>
struct RnnStepForward {
  using F = opmath_t<S>;
  RnnMode mode = RnnMode::Lstm;
  index_t H = 0, P = 0;
  index_t rows = 0;        // active rows at this step
  bool proj = false;       // LSTM with projection: h is written later by a GEMM
  const F* xg = nullptr;   // [rows, G] x W_ih^T (no bias)
  const F* hg = nullptr;   // [rows, G] h_prev W_hh^T (no bias)
  const S* b_ih = nullptr; // [G] or null
  const S* b_hh = nullptr; // [G] or null
  S* h = nullptr;          // [rows, P] hidden state: h_prev in, h out (not written with projection)
  F* c = nullptr;          // [rows, H] LSTM cell state: c_prev in, c out
  S* y = nullptr;          // [rows, P] output (not written with projection)
  S* r = nullptr;          // [rows, H] projection input o * tanh(c) (projection only)
  // Saved for backward; all null for inference.
  S* gates = nullptr;      // [rows, G]
  S* hprev = nullptr;      // [rows, P]
  S* cprev = nullptr;      // [rows, H] LSTM
  S* hn = nullptr;         // [rows, H] GRU
  // Zoneout (kernels/rnn.h): on when the probability is > 0; the mask element
  // where a mask is given (training), else the probability (the expectation).
  F zoneout_h = F(0), zoneout_c = F(0);
  const S* zh = nullptr;   // [rows, P] 1 = keep the previous h
  const S* zc = nullptr;   // [rows, H] LSTM: 1 = keep the previous c
  // LayerNorm-LSTM: the step runs in two passes. step_forward writes the new
  // cell state (before zoneout) into cc and neither h nor y; the caller then
  // normalises cc in place (layer_norm_rows: cc = LN(c; ln_c)) and
  // step_forward_output computes h = o * tanh(cc), zoneout of h, h and y.
  F* cc = nullptr;         // [rows, H] or null (every other case)
};

// A layer norm of each row of a [rows, cols] matrix in F, in place:
// v = xhat * w + b with xhat = (v - mean) * rstd (kernels/rnn_cells.h).
template <typename S>
struct RowLayerNorm {
  using F = opmath_t<S>;
  index_t rows = 0, cols = 0;
  F* v = nullptr;        // [rows, cols] in: the values; out: the layer norm's output
  const S* w = nullptr;  // [cols] gain
  const S* b = nullptr;  // [cols] bias
  F eps = F(0);
  S* xhat = nullptr;     // [rows, cols] out (saved for backward) or null
  S* rstd = nullptr;     // [rows] out or null
};

// The backward of RowLayerNorm: dx = dL/dv from dy = dL/d(output).
template <typename S>
struct RowLayerNormBackward {
  index_t rows = 0, cols = 0;
  const S* dy = nullptr;    // [rows, cols]
  const S* xhat = nullptr;  // [rows, cols] saved by the forward
  const S* rstd = nullptr;  // [rows] saved by the forward
  const S* w = nullptr;     // [cols] gain
  S* dx = nullptr;          // [rows, cols] out; may be dy itself (each row read before written)
};

// The zoneout keep-weight m of element k: the mask's value, or the probability.
template <typename S, typename F>
LOOM_HD F zoneout_weight(const S* mask, F p, index_t k) {
  return mask ? F(mask[k]) : p;
}

// Value `v` of compute type F rounded once to storage type S (a no-op when S == F).
template <typename S, typename F>
LOOM_HD S to_storage(F v) {
  return static_cast<S>(v);
}

template <typename S, typename F>
LOOM_HD F gate_input(const F* xg, const F* hg, const S* b_ih, const S* b_hh, index_t k) {
  return xg[k] + hg[k] + (b_ih ? F(b_ih[k]) : F(0)) + (b_hh ? F(b_hh[k]) : F(0));
}

// The new hidden state h~ of element (n, j): zoneout (s.h still holds h_prev;
// never with projection), then h and y.
template <typename S>
LOOM_HD void store_hidden(const RnnStepForward<S>& s, index_t n, index_t j, opmath_t<S> h) {
  using F = opmath_t<S>;
  const index_t P = s.P;
  if (s.zoneout_h > F(0)) {
    const F m = zoneout_weight(s.zh, s.zoneout_h, n * P + j);
    h = m * F(s.h[n * P + j]) + (F(1) - m) * h;
  }
  const S hs = to_storage<S>(h);
  s.h[n * P + j] = hs;
  s.y[n * P + j] = hs;
}

// Element (n, j), j < H, of one forward step.
template <typename S>
LOOM_HD void rnn_step_forward_point(const RnnStepForward<S>& s, index_t n, index_t j) {
  using F = opmath_t<S>;
  const index_t H = s.H, P = s.P, G = gate_rows(s.mode, H);
  const F* xg = s.xg + n * G;
  const F* hg = s.hg + n * G;
  S* gates = s.gates ? s.gates + n * G : nullptr;
  if (s.hprev && j < P) s.hprev[n * P + j] = s.h[n * P + j];
  F h;
  switch (s.mode) {
    case RnnMode::RnnTanh:
    case RnnMode::RnnRelu: {
      const F a = gate_input(xg, hg, s.b_ih, s.b_hh, j);
      h = s.mode == RnnMode::RnnTanh ? rnn_tanh_forward(a) : rnn_relu_forward(a);
      if (gates) gates[j] = to_storage<S>(h);
      break;
    }
    case RnnMode::Lstm: {
      F& c = s.c[n * H + j];
      if (s.cprev) s.cprev[n * H + j] = to_storage<S>(c);
      const LstmPoint<F> p = lstm_forward(gate_input(xg, hg, s.b_ih, s.b_hh, j),
                                          gate_input(xg, hg, s.b_ih, s.b_hh, H + j),
                                          gate_input(xg, hg, s.b_ih, s.b_hh, 2 * H + j),
                                          gate_input(xg, hg, s.b_ih, s.b_hh, 3 * H + j), c);
      if (s.zoneout_c > F(0)) {  // c zoned out first; h~ came from the un-zoned c~
        const F m = zoneout_weight(s.zc, s.zoneout_c, n * H + j);
        c = m * c + (F(1) - m) * p.c;
      } else {
        c = p.c;
      }
      if (gates) {
        gates[j] = to_storage<S>(p.i), gates[H + j] = to_storage<S>(p.f);
        gates[2 * H + j] = to_storage<S>(p.g), gates[3 * H + j] = to_storage<S>(p.o);
      }
      if (s.cc) {  // layer norm: h waits for LN(c) (rnn_step_forward_output_point)
        s.cc[n * H + j] = p.c;
        return;
      }
      if (s.proj) {
        s.r[n * H + j] = to_storage<S>(p.h);
        return;
      }
      h = p.h;
      break;
    }
    case RnnMode::Gru:
    default: {
      const index_t k = 2 * H + j;
      const F x_n = xg[k] + (s.b_ih ? F(s.b_ih[k]) : F(0));
      const F h_n = hg[k] + (s.b_hh ? F(s.b_hh[k]) : F(0));
      const GruPoint<F> p = gru_forward(gate_input(xg, hg, s.b_ih, s.b_hh, j),
                                        gate_input(xg, hg, s.b_ih, s.b_hh, H + j), x_n, h_n,
                                        F(s.h[n * P + j]));
      if (gates) {
        gates[j] = to_storage<S>(p.r), gates[H + j] = to_storage<S>(p.z);
        gates[2 * H + j] = to_storage<S>(p.n);
      }
      if (s.hn) s.hn[n * H + j] = to_storage<S>(h_n);
      h = p.h;
      break;
    }
  }
  store_hidden(s, n, j, h);
}

// LayerNorm-LSTM, the second pass of a step (see RnnStepForward::cc): element
// (n, j), j < H, with s.cc holding LN(c). o is recomputed from the gate input.
template <typename S>
LOOM_HD void rnn_step_forward_output_point(const RnnStepForward<S>& s, index_t n, index_t j) {
  using F = opmath_t<S>;
  const index_t H = s.H, G = gate_rows(s.mode, H);
  const F o = sigmoid(gate_input(s.xg + n * G, s.hg + n * G, s.b_ih, s.b_hh, 3 * H + j));
  store_hidden(s, n, j, lstm_ln_output(o, s.cc[n * H + j]));
}

// One backward step; same pointer convention as RnnStepForward.
template <typename S>
struct RnnStepBackward {
  using F = opmath_t<S>;
  RnnMode mode = RnnMode::Lstm;
  index_t H = 0, P = 0;
  index_t rows = 0;
  bool proj = false;
  const S* dy = nullptr;     // [rows, P] dL/dy or null (no projection)
  const F* dr = nullptr;     // [rows, H] dL/d(o * tanh(c)) (projection only)
  F* dh = nullptr;           // [rows, P] dL/dh in; GRU: out, the direct part of dL/dh_prev
  F* dc = nullptr;           // [rows, H] LSTM: dL/dc in, dL/dc_prev out
  const S* gates = nullptr;  // [rows, G] saved
  const S* hprev = nullptr;  // [rows, P] saved
  const S* cprev = nullptr;  // [rows, H] saved, LSTM
  const S* hn = nullptr;     // [rows, H] saved, GRU
  S* dg = nullptr;           // [rows, G] out: dL/d(x W_ih^T + b_ih), the input part
  S* dgh = nullptr;          // [rows, G] out: dL/d(h_prev W_hh^T + b_hh); GRU only (else == dg)
  // Zoneout as in RnnStepForward. With zoneout_h > 0, dh is out for every
  // mode: the direct part m * dL/dh of dL/dh_prev (the GEMM adds the rest).
  F zoneout_h = F(0), zoneout_c = F(0);
  const S* zh = nullptr;     // [rows, P]
  const S* zc = nullptr;     // [rows, H] LSTM
  // LayerNorm-LSTM: two passes per step. step_backward_output (first) reads
  // l = LN(c) = ln_c_xhat * ln_c_w + ln_c_b and writes da_o into dg, dL/dl
  // into dl and (zoneout of h) the direct part into dh; the caller runs the c
  // layer norm's backward from dl into dcc; step_backward (second, dcc set)
  // writes da_i, da_f, da_g and dc, and leaves dh alone.
  const S* ln_c_xhat = nullptr;  // [rows, H] saved
  const S* ln_c_w = nullptr;     // [H]
  const S* ln_c_b = nullptr;     // [H]
  S* dl = nullptr;               // [rows, H] out (first pass)
  const S* dcc = nullptr;        // [rows, H] dL/dc through LN(c) (second pass); null otherwise
};

// LayerNorm-LSTM, the first backward pass of a step (see RnnStepBackward::dl).
template <typename S>
LOOM_HD void rnn_step_backward_output_point(const RnnStepBackward<S>& s, index_t n, index_t j) {
  using F = opmath_t<S>;
  const index_t H = s.H, P = s.P, G = gate_rows(s.mode, H);
  const F dh_total = s.dh[n * P + j] + (s.dy ? F(s.dy[n * P + j]) : F(0));
  const bool zone_h = s.zoneout_h > F(0);
  const F mh = zone_h ? zoneout_weight(s.zh, s.zoneout_h, n * P + j) : F(0);
  const F l = F(s.ln_c_xhat[n * H + j]) * F(s.ln_c_w[j]) + F(s.ln_c_b[j]);
  const LstmLnOutputGrad<F> d =
      lstm_ln_output_backward(F(s.gates[n * G + 3 * H + j]), l, zone_h ? (F(1) - mh) * dh_total : dh_total);
  s.dg[n * G + 3 * H + j] = to_storage<S>(d.da_o);
  s.dl[n * H + j] = to_storage<S>(d.dl);
  if (zone_h) s.dh[n * P + j] = mh * dh_total;
}

// Element (n, j), j < H, of one backward step.
template <typename S>
LOOM_HD void rnn_step_backward_point(const RnnStepBackward<S>& s, index_t n, index_t j) {
  using F = opmath_t<S>;
  const index_t H = s.H, P = s.P, G = gate_rows(s.mode, H);
  const S* gates = s.gates + n * G;
  S* dg = s.dg + n * G;
  if (s.dcc) {  // LayerNorm-LSTM, second pass: c = f c_prev + i g gets dcc and the carried dc
    F& dc = s.dc[n * H + j];
    const bool zone_c = s.zoneout_c > F(0);
    const F mc = zone_c ? zoneout_weight(s.zc, s.zoneout_c, n * H + j) : F(0);
    const LstmCellGrad<F> d = lstm_cell_backward(F(gates[j]), F(gates[H + j]), F(gates[2 * H + j]),
                                                 F(s.cprev[n * H + j]),
                                                 F(s.dcc[n * H + j]) + (zone_c ? (F(1) - mc) * dc : dc));
    dg[j] = to_storage<S>(d.da_i), dg[H + j] = to_storage<S>(d.da_f), dg[2 * H + j] = to_storage<S>(d.da_g);
    dc = zone_c ? d.dc_prev + mc * dc : d.dc_prev;
    return;
  }
  const F dh_total = s.proj ? s.dr[n * H + j] : s.dh[n * P + j] + (s.dy ? F(s.dy[n * P + j]) : F(0));
  // Zoneout of h: h_t = m h_prev + (1 - m) h~, so h~ gets (1 - m) of the
  // gradient and h_prev m of it directly.
  const bool zone_h = s.zoneout_h > F(0);
  const F mh = zone_h ? zoneout_weight(s.zh, s.zoneout_h, n * P + j) : F(0);
  const F dh = zone_h ? (F(1) - mh) * dh_total : dh_total;
  const F dh_direct = mh * dh_total;
  switch (s.mode) {
    case RnnMode::RnnTanh:
      dg[j] = to_storage<S>(rnn_tanh_backward(F(gates[j]), dh));
      if (zone_h) s.dh[n * P + j] = dh_direct;
      break;
    case RnnMode::RnnRelu:
      dg[j] = to_storage<S>(rnn_relu_backward(F(gates[j]), dh));
      if (zone_h) s.dh[n * P + j] = dh_direct;
      break;
    case RnnMode::Lstm: {
      F& dc = s.dc[n * H + j];
      // Zoneout of c: c~ gets (1 - m) of dL/dc, c_prev m of it directly.
      const F mc = s.zoneout_c > F(0) ? zoneout_weight(s.zc, s.zoneout_c, n * H + j) : F(0);
      const LstmGrad<F> d = lstm_backward(F(gates[j]), F(gates[H + j]), F(gates[2 * H + j]),
                                          F(gates[3 * H + j]), F(s.cprev[n * H + j]), dh,
                                          s.zoneout_c > F(0) ? (F(1) - mc) * dc : dc);
      dg[j] = to_storage<S>(d.da_i), dg[H + j] = to_storage<S>(d.da_f);
      dg[2 * H + j] = to_storage<S>(d.da_g), dg[3 * H + j] = to_storage<S>(d.da_o);
      dc = s.zoneout_c > F(0) ? d.dc_prev + mc * dc : d.dc_prev;
      if (zone_h) s.dh[n * P + j] = dh_direct;
      break;
    }
    case RnnMode::Gru:
    default: {
      const GruGrad<F> d = gru_backward(F(gates[j]), F(gates[H + j]), F(gates[2 * H + j]),
                                        F(s.hn[n * H + j]), F(s.hprev[n * P + j]), dh);
      S* dgh = s.dgh + n * G;
      dg[j] = dgh[j] = to_storage<S>(d.da_r);
      dg[H + j] = dgh[H + j] = to_storage<S>(d.da_z);
      dg[2 * H + j] = to_storage<S>(d.dx_n);
      dgh[2 * H + j] = to_storage<S>(d.dh_n);
      s.dh[n * P + j] = zone_h ? d.dh_prev + dh_direct : d.dh_prev;
      break;
    }
  }
}

// Calls f(row0, rows) for each step in processing order: ascending t for the
// forward direction's forward pass (and the reverse direction's backward pass),
// descending otherwise. row0 is the packed row of the step's first row.
template <typename F>
void for_each_step(const RnnLayerShape& s, bool descending, F&& f) {
  if (!descending) {
    index_t row0 = 0;
    for (index_t t = 0; t < s.T; ++t) {
      f(row0, s.batch_sizes[t]);
      row0 += s.batch_sizes[t];
    }
  } else {
    index_t row0 = s.rows();
    for (index_t t = s.T - 1; t >= 0; --t) {
      row0 -= s.batch_sizes[t];
      f(row0, s.batch_sizes[t]);
    }
  }
}

// Workspace layout, in elements of the storage type S. Forward: xg [R, G] F,
// hg [N, G] F, r [N, H] S (projection inference), cst [N, H] F (LSTM, S != F:
// the running cell state). Backward: dg [R, G] S, dgh [R, G] S (GRU), dhtot
// [R, P] S and dr [N, H] F (projection), dhst [N, P] F and dcst [N, H] F
// (S != F: the running state gradients; LSTM for dcst). For S == F the
// running states live in the caller's h_n/c_n/dh0/dc0 and cst, dhst, dcst are
// -1; the layout is then exactly the float32/float64 one of before. Layer
// norm adds, forward: cc [N, H] F (LSTM: c, then LN(c), of the step);
// backward: dpre [R, G] S (the recurrent layer norm's backward: dL/d(h W_hh^T)),
// dl [R, H] S (LSTM: dL/dLN(c), kept for the gain gradient), dcc [N, H] S
// (LSTM: dL/dc through LN(c), per step); -1 without layer norm. For the
// 16-bit types an F region of n values takes 2n elements and every region
// starts at a multiple of 8 elements (16 bytes) of a 16-byte aligned buffer.
struct RnnWorkspaceLayout {
  index_t xg = 0, hg = 0, r = 0, cst = -1, cc = -1, forward_size = 0;
  index_t dg = 0, dgh = 0, dhtot = 0, dr = 0, dhst = -1, dcst = -1, dpre = -1, dl = -1, dcc = -1,
          backward_size = 0;
};

template <typename S>
RnnWorkspaceLayout rnn_workspace_layout(const RnnLayerShape& s) {
  using F = opmath_t<S>;
  constexpr bool mixed = !std::is_same_v<S, F>;
  constexpr index_t per_f = static_cast<index_t>(sizeof(F) / sizeof(S));  // S elements per F value
  const auto f_len = [](index_t n) { return n * per_f; };
  const auto align = [](index_t o) { return mixed ? (o + 7) / 8 * 8 : o; };
  const index_t R = s.rows(), G = s.G(), N = s.N, H = s.H, P = s.P;
  const bool lstm = s.mode == RnnMode::Lstm;
  RnnWorkspaceLayout w;
  w.xg = 0;
  w.hg = align(w.xg + f_len(R * G));
  w.r = align(w.hg + f_len(N * G));
  index_t end = align(w.r + (s.has_proj ? N * H : 0));
  if (mixed && lstm) w.cst = end, end = align(end + f_len(N * H));
  if (s.layer_norm && lstm) w.cc = end, end = align(end + f_len(N * H));
  w.forward_size = end;
  w.dg = 0;
  w.dgh = s.mode == RnnMode::Gru ? align(w.dg + R * G) : w.dg;
  w.dhtot = align(w.dgh + R * G);
  w.dr = align(w.dhtot + (s.has_proj ? R * P : 0));
  end = align(w.dr + (s.has_proj ? f_len(N * H) : 0));
  if (mixed) {
    w.dhst = end, end = align(end + f_len(N * P));
    if (lstm) w.dcst = end, end = align(end + f_len(N * H));
  }
  if (s.layer_norm) {
    w.dpre = end, end = align(end + R * G);
    if (lstm) {
      w.dl = end, end = align(end + R * H);
      w.dcc = end, end = align(end + N * H);
    }
  }
  w.backward_size = end;
  return w;
}

// The F-typed region of `ws` (S elements) that starts at S-element `offset`.
template <typename S>
opmath_t<S>* f_region(S* ws, index_t offset) {
  return reinterpret_cast<opmath_t<S>*>(ws + offset);
}

inline RnnReserveLayout reserve_layout(const RnnLayerShape& s) {
  const index_t R = s.rows(), H = s.H;
  RnnReserveLayout l;
  l.gates = 0;
  l.hprev = l.gates + R * s.G();
  index_t end = l.hprev + R * s.P;
  if (s.mode == RnnMode::Lstm) l.cprev = end, end += R * H;
  if (s.has_proj) l.rproj = end, end += R * H;
  if (s.mode == RnnMode::Gru) l.hn = end, end += R * H;
  if (s.layer_norm) {
    const index_t G = s.G();
    l.ln_ih_xhat = end, end += R * G;
    l.ln_ih_rstd = end, end += R;
    l.ln_hh_xhat = end, end += R * G;
    l.ln_hh_rstd = end, end += R;
    if (s.mode == RnnMode::Lstm) {
      l.ln_c_xhat = end, end += R * H;
      l.ln_c_rstd = end, end += R;
    }
  }
  l.size = end;
  return l;
}

// Forward of one layer and direction; arguments already validated.
// The running LSTM cell state [N, H] of the forward, started from c0 (zeros
// when absent): c_n itself when S is its own math type, a float region of the
// workspace otherwise. Shared by the standard and the persistent forward.
template <typename S, typename Ops>
opmath_t<S>* start_cell_state(const RnnForwardArgs<S>& a, const RnnWorkspaceLayout& ws, index_t N, index_t H,
                              Ops& ops) {
  if constexpr (!std::is_same_v<S, opmath_t<S>>) {
    opmath_t<S>* c = f_region(a.workspace, ws.cst);
    if (!a.c0) ops.zero(c, N * H);
    else ops.convert(c, a.c0, N * H);
    return c;
  } else {
    if (!a.c0) ops.zero(a.c_n, N * H);
    else if (a.c0 != a.c_n) ops.copy(a.c_n, a.c0, N * H);
    return a.c_n;
  }
}

template <typename S, typename Ops>
void rnn_forward(const RnnLayerShape& s, const RnnForwardArgs<S>& a, Ops& ops) {
  using F = opmath_t<S>;
  constexpr bool mixed = !std::is_same_v<S, F>;
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H, P = s.P;
  const bool lstm = s.mode == RnnMode::Lstm, train = a.reserve != nullptr;
  const RnnWorkspaceLayout ws = rnn_workspace_layout<S>(s);
  const RnnReserveLayout rl = reserve_layout(s);
  F* xg = f_region(a.workspace, ws.xg);
  F* hg = f_region(a.workspace, ws.hg);

  // The input projection of every row at once: xg = x W_ih^T (layer norm: normalised in place).
  ops.gemm(false, true, R, G, C, F(1), a.x, C, a.w.w_ih, C, F(0), xg, G);
  const bool ln = s.layer_norm;
  // A layer norm of `rows` rows of v (saved from reserve row `row0` on, in training).
  auto norm = [&](F* v, index_t rows, index_t cols, const S* w, const S* b, index_t xhat_at,
                  index_t rstd_at, index_t row0) {
    RowLayerNorm<S> l;
    l.rows = rows, l.cols = cols, l.v = v, l.w = w, l.b = b, l.eps = F(s.layer_norm_eps);
    l.xhat = train ? a.reserve + xhat_at + row0 * cols : nullptr;
    l.rstd = train ? a.reserve + rstd_at + row0 : nullptr;
    ops.layer_norm_rows(l);
  };
  if (ln) norm(xg, R, G, a.w.ln_ih_w, a.w.ln_ih_b, rl.ln_ih_xhat, rl.ln_ih_rstd, 0);
  F* cc = ln && lstm ? f_region(a.workspace, ws.cc) : nullptr;

  // h_n holds the running hidden state and `c` the running cell state (c_n
  // itself for S == F, a workspace region in F otherwise): a row not active
  // at a step keeps its value.
  if (!a.h0) ops.zero(a.h_n, N * P);
  else if (a.h0 != a.h_n) ops.copy(a.h_n, a.h0, N * P);
  F* c = lstm ? start_cell_state(a, ws, N, H, ops) : nullptr;

  for_each_step(s, s.reverse, [&](index_t row0, index_t rows) {
    ops.gemm(false, true, rows, G, P, F(1), a.h_n, P, a.w.w_hh, P, F(0), hg, G);
    if (ln) norm(hg, rows, G, a.w.ln_hh_w, a.w.ln_hh_b, rl.ln_hh_xhat, rl.ln_hh_rstd, row0);
    RnnStepForward<S> st;
    st.mode = s.mode, st.H = H, st.P = P, st.rows = rows, st.proj = s.has_proj;
    st.xg = xg + row0 * G, st.hg = hg, st.b_ih = a.w.b_ih, st.b_hh = a.w.b_hh;
    st.h = a.h_n, st.c = c, st.y = a.y + row0 * P;
    st.zoneout_h = F(s.zoneout_h), st.zoneout_c = F(s.zoneout_c);
    st.zh = a.zoneout_h_mask ? a.zoneout_h_mask + row0 * P : nullptr;
    st.zc = a.zoneout_c_mask ? a.zoneout_c_mask + row0 * H : nullptr;
    st.r = s.has_proj ? (train ? a.reserve + rl.rproj + row0 * H : a.workspace + ws.r) : nullptr;
    if (train) {
      st.gates = a.reserve + rl.gates + row0 * G;
      st.hprev = a.reserve + rl.hprev + row0 * P;
      st.cprev = lstm ? a.reserve + rl.cprev + row0 * H : nullptr;
      st.hn = s.mode == RnnMode::Gru ? a.reserve + rl.hn + row0 * H : nullptr;
    }
    st.cc = cc;
    ops.step_forward(st);
    if (cc) {  // LayerNorm-LSTM: h = o * tanh(LN(c)) once the rows of c are known
      norm(cc, rows, H, a.w.ln_c_w, a.w.ln_c_b, rl.ln_c_xhat, rl.ln_c_rstd, row0);
      ops.step_forward_output(st);
    }
    if (s.has_proj) {  // h = r W_hr^T, the output and the new state
      ops.gemm(false, true, rows, P, H, F(1), st.r, H, a.w.w_hr, H, F(0), st.y, P);
      ops.copy(a.h_n, st.y, rows * P);
    }
  });
  if constexpr (mixed) {
    if (lstm) ops.convert(a.c_n, c, N * H);  // c_n may be c0's buffer: c0 was read at the start
  }
}

// Backward of one layer and direction; arguments already validated.
// The running state gradients of BPTT, dh [N, P] and (LSTM) dc [N, H],
// started from dh_n and dc_n (zeros where absent): dh0 and dc0 themselves when
// S is its own math type, float regions of the workspace otherwise. Shared by
// the standard and the persistent backward.
template <typename S, typename Ops>
void start_state_grads(const RnnBackwardArgs<S>& a, const RnnWorkspaceLayout& ws, index_t N, index_t P,
                       index_t H, bool lstm, Ops& ops, opmath_t<S>*& dh, opmath_t<S>*& dc) {
  if constexpr (!std::is_same_v<S, opmath_t<S>>) {
    dh = f_region(a.workspace, ws.dhst);
    if (!a.dh_n) ops.zero(dh, N * P);
    else ops.convert(dh, a.dh_n, N * P);
    if (lstm) {
      dc = f_region(a.workspace, ws.dcst);
      if (!a.dc_n) ops.zero(dc, N * H);
      else ops.convert(dc, a.dc_n, N * H);
    }
  } else {
    dh = a.dh0;
    if (!a.dh_n) ops.zero(a.dh0, N * P);
    else if (a.dh_n != a.dh0) ops.copy(a.dh0, a.dh_n, N * P);
    if (lstm) {
      dc = a.dc0;
      if (!a.dc_n) ops.zero(a.dc0, N * H);
      else if (a.dc_n != a.dc0) ops.copy(a.dc0, a.dc_n, N * H);
    }
  }
}

template <typename S, typename Ops>
void rnn_backward(const RnnLayerShape& s, const RnnBackwardArgs<S>& a, Ops& ops) {
  using F = opmath_t<S>;
  constexpr bool mixed = !std::is_same_v<S, F>;
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H, P = s.P;
  const bool lstm = s.mode == RnnMode::Lstm, gru = s.mode == RnnMode::Gru;
  const RnnWorkspaceLayout ws = rnn_workspace_layout<S>(s);
  const RnnReserveLayout rl = reserve_layout(s);
  S* dg = a.workspace + ws.dg;
  S* dgh = a.workspace + ws.dgh;  // == dg except for GRU
  S* dhtot = s.has_proj ? a.workspace + ws.dhtot : nullptr;
  F* dr = s.has_proj ? f_region(a.workspace, ws.dr) : nullptr;
  const S* hprev = a.reserve + rl.hprev;
  const bool ln = s.layer_norm;
  // Layer norm: dpre = dL/d(h_prev W_hh^T) (else the GEMMs read dgh itself).
  S* dpre = ln ? a.workspace + ws.dpre : dgh;
  S* dl = ln && lstm ? a.workspace + ws.dl : nullptr;
  S* dcc = ln && lstm ? a.workspace + ws.dcc : nullptr;
  auto norm_backward = [&](const S* dy_, index_t rows, index_t cols, index_t xhat_at, index_t rstd_at,
                           index_t row0, const S* w, S* dx_) {
    RowLayerNormBackward<S> l;
    l.rows = rows, l.cols = cols, l.dy = dy_, l.w = w, l.dx = dx_;
    l.xhat = a.reserve + xhat_at + row0 * cols;
    l.rstd = a.reserve + rstd_at + row0;
    ops.layer_norm_rows_backward(l);
  };

  F* dh = nullptr;
  F* dc = nullptr;
  start_state_grads(a, ws, N, P, H, lstm, ops, dh, dc);

  for_each_step(s, !s.reverse, [&](index_t row0, index_t rows) {
    RnnStepBackward<S> st;
    st.mode = s.mode, st.H = H, st.P = P, st.rows = rows, st.proj = s.has_proj;
    if (s.has_proj) {  // dL/dh = dh + dy, then through W_hr: dr = dL/dh W_hr
      S* dht = dhtot + row0 * P;
      ops.add(dht, dh, a.dy ? a.dy + row0 * P : nullptr, rows * P);
      ops.gemm(false, false, rows, H, P, F(1), dht, P, a.w.w_hr, H, F(0), dr, H);
      st.dr = dr;
    } else {
      st.dy = a.dy ? a.dy + row0 * P : nullptr;
    }
    st.dh = dh, st.dc = dc;
    st.gates = a.reserve + rl.gates + row0 * G;
    st.hprev = hprev + row0 * P;
    st.cprev = lstm ? a.reserve + rl.cprev + row0 * H : nullptr;
    st.hn = gru ? a.reserve + rl.hn + row0 * H : nullptr;
    st.dg = dg + row0 * G, st.dgh = dgh + row0 * G;
    st.zoneout_h = F(s.zoneout_h), st.zoneout_c = F(s.zoneout_c);
    st.zh = a.zoneout_h_mask ? a.zoneout_h_mask + row0 * P : nullptr;
    st.zc = a.zoneout_c_mask ? a.zoneout_c_mask + row0 * H : nullptr;
    if (dl) {  // LayerNorm-LSTM: through h = o * tanh(LN(c)) first, then LN(c)'s backward
      st.ln_c_xhat = a.reserve + rl.ln_c_xhat + row0 * H;
      st.ln_c_w = a.w.ln_c_w, st.ln_c_b = a.w.ln_c_b;
      st.dl = dl + row0 * H;
      ops.step_backward_output(st);
      norm_backward(st.dl, rows, H, rl.ln_c_xhat, rl.ln_c_rstd, row0, a.w.ln_c_w, dcc);
      st.dcc = dcc;
    }
    ops.step_backward(st);
    if (ln) norm_backward(dgh + row0 * G, rows, G, rl.ln_hh_xhat, rl.ln_hh_rstd, row0, a.w.ln_hh_w, dpre + row0 * G);
    // dL/dh_prev = (direct part: GRU, or zoneout of h) + dpre W_hh
    const bool direct = gru || s.zoneout_h > 0;
    ops.gemm(false, false, rows, P, G, F(1), dpre + row0 * G, G, a.w.w_hh, P, direct ? F(1) : F(0), dh,
             P);
  });
  if constexpr (mixed) {  // one rounding of the running gradients (dh0 may be dh_n's buffer)
    ops.convert(a.dh0, dh, N * P);
    if (lstm) ops.convert(a.dc0, dc, N * H);
  }

  // Column sums first: the input layer norm's backward below overwrites dg.
  if (a.db_ih) ops.column_sum(dg, R, G, a.db_ih);
  if (a.db_hh) ops.column_sum(dgh, R, G, a.db_hh);
  if (ln) {  // the gains and biases: sum over rows of dL/d(output) * xhat and of dL/d(output)
    if (a.dln_ih_w) ops.column_dot(dg, a.reserve + rl.ln_ih_xhat, R, G, a.dln_ih_w);
    if (a.dln_ih_b) ops.column_sum(dg, R, G, a.dln_ih_b);
    if (a.dln_hh_w) ops.column_dot(dgh, a.reserve + rl.ln_hh_xhat, R, G, a.dln_hh_w);
    if (a.dln_hh_b) ops.column_sum(dgh, R, G, a.dln_hh_b);
    if (lstm && a.dln_c_w) ops.column_dot(dl, a.reserve + rl.ln_c_xhat, R, H, a.dln_c_w);
    if (lstm && a.dln_c_b) ops.column_sum(dl, R, H, a.dln_c_b);
    // dL/d(x W_ih^T) in place of dg, for dx and dW_ih
    if (a.dx || a.dw_ih) norm_backward(dg, R, G, rl.ln_ih_xhat, rl.ln_ih_rstd, 0, a.w.ln_ih_w, dg);
  }
  // Whole-sequence products over all R rows (float accumulation, one rounding).
  if (a.dx) ops.gemm(false, false, R, C, G, F(1), dg, G, a.w.w_ih, C, F(0), a.dx, C);
  if (a.dw_ih) ops.gemm(true, false, G, C, R, F(1), dg, G, a.x, C, F(0), a.dw_ih, C);
  if (a.dw_hh) ops.gemm(true, false, G, P, R, F(1), dpre, G, hprev, P, F(0), a.dw_hh, P);
  if (a.dw_hr)
    ops.gemm(true, false, P, H, R, F(1), dhtot, P, a.reserve + rl.rproj, H, F(0), a.dw_hr, H);
}

}  // namespace loom::kernels::rnn_detail
