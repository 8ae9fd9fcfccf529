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
//   so the CPU tests exercise every index computation the CUDA path uses.
#pragma once

#include "kernels/common.h"
#include "kernels/rnn.h"
#include "kernels/rnn_cells.h"

namespace loom::kernels::rnn_detail {

// One forward step. Pointers into [R, .] or [N, .] arrays point at the
// step's first row, so element (n, j) of every one of them is at row n.
template <typename T>
struct RnnStepForward {
  RnnMode mode = RnnMode::Lstm;
  index_t H = 0, P = 0;
  index_t rows = 0;        // active rows at this step
  bool proj = false;       // LSTM with projection: h is written later by a GEMM
  const T* xg = nullptr;   // [rows, G] x W_ih^T (no bias)
  const T* hg = nullptr;   // [rows, G] h_prev W_hh^T (no bias)
  const T* b_ih = nullptr; // [G] or null
  const T* b_hh = nullptr; // [G] or null
  T* h = nullptr;          // [rows, P] hidden state: h_prev in, h out (not written with projection)
  T* c = nullptr;          // [rows, H] LSTM cell state: c_prev in, c out
  T* y = nullptr;          // [rows, P] output (not written with projection)
  T* r = nullptr;          // [rows, H] projection input o * tanh(c) (projection only)
  // Saved for backward; all null for inference.
  T* gates = nullptr;      // [rows, G]
  T* hprev = nullptr;      // [rows, P]
  T* cprev = nullptr;      // [rows, H] LSTM
  T* hn = nullptr;         // [rows, H] GRU
};

template <typename T>
LOOM_HD T gate_input(const T* xg, const T* hg, const T* b_ih, const T* b_hh, index_t k) {
  return xg[k] + hg[k] + (b_ih ? b_ih[k] : T(0)) + (b_hh ? b_hh[k] : T(0));
}

// Element (n, j), j < H, of one forward step.
template <typename T>
LOOM_HD void rnn_step_forward_point(const RnnStepForward<T>& s, index_t n, index_t j) {
  const index_t H = s.H, P = s.P, G = gate_rows(s.mode, H);
  const T* xg = s.xg + n * G;
  const T* hg = s.hg + n * G;
  T* gates = s.gates ? s.gates + n * G : nullptr;
  if (s.hprev && j < P) s.hprev[n * P + j] = s.h[n * P + j];
  T h;
  switch (s.mode) {
    case RnnMode::RnnTanh:
    case RnnMode::RnnRelu: {
      const T a = gate_input(xg, hg, s.b_ih, s.b_hh, j);
      h = s.mode == RnnMode::RnnTanh ? rnn_tanh_forward(a) : rnn_relu_forward(a);
      if (gates) gates[j] = h;
      break;
    }
    case RnnMode::Lstm: {
      T& c = s.c[n * H + j];
      if (s.cprev) s.cprev[n * H + j] = c;
      const LstmPoint<T> p = lstm_forward(gate_input(xg, hg, s.b_ih, s.b_hh, j),
                                          gate_input(xg, hg, s.b_ih, s.b_hh, H + j),
                                          gate_input(xg, hg, s.b_ih, s.b_hh, 2 * H + j),
                                          gate_input(xg, hg, s.b_ih, s.b_hh, 3 * H + j), c);
      c = p.c;
      if (gates) gates[j] = p.i, gates[H + j] = p.f, gates[2 * H + j] = p.g, gates[3 * H + j] = p.o;
      if (s.proj) {
        s.r[n * H + j] = p.h;
        return;
      }
      h = p.h;
      break;
    }
    case RnnMode::Gru:
    default: {
      const index_t k = 2 * H + j;
      const T x_n = xg[k] + (s.b_ih ? s.b_ih[k] : T(0));
      const T h_n = hg[k] + (s.b_hh ? s.b_hh[k] : T(0));
      const GruPoint<T> p = gru_forward(gate_input(xg, hg, s.b_ih, s.b_hh, j),
                                        gate_input(xg, hg, s.b_ih, s.b_hh, H + j), x_n, h_n,
                                        s.h[n * P + j]);
      if (gates) gates[j] = p.r, gates[H + j] = p.z, gates[2 * H + j] = p.n;
      if (s.hn) s.hn[n * H + j] = h_n;
      h = p.h;
      break;
    }
  }
  s.h[n * P + j] = h;
  s.y[n * P + j] = h;
}

// One backward step; same pointer convention as RnnStepForward.
template <typename T>
struct RnnStepBackward {
  RnnMode mode = RnnMode::Lstm;
  index_t H = 0, P = 0;
  index_t rows = 0;
  bool proj = false;
  const T* dy = nullptr;     // [rows, P] dL/dy or null (no projection)
  const T* dr = nullptr;     // [rows, H] dL/d(o * tanh(c)) (projection only)
  T* dh = nullptr;           // [rows, P] dL/dh in; GRU: out, the direct part of dL/dh_prev
  T* dc = nullptr;           // [rows, H] LSTM: dL/dc in, dL/dc_prev out
  const T* gates = nullptr;  // [rows, G] saved
  const T* hprev = nullptr;  // [rows, P] saved
  const T* cprev = nullptr;  // [rows, H] saved, LSTM
  const T* hn = nullptr;     // [rows, H] saved, GRU
  T* dg = nullptr;           // [rows, G] out: dL/d(x W_ih^T + b_ih), the input part
  T* dgh = nullptr;          // [rows, G] out: dL/d(h_prev W_hh^T + b_hh); GRU only (else == dg)
};

// Element (n, j), j < H, of one backward step.
template <typename T>
LOOM_HD void rnn_step_backward_point(const RnnStepBackward<T>& s, index_t n, index_t j) {
  const index_t H = s.H, P = s.P, G = gate_rows(s.mode, H);
  const T* gates = s.gates + n * G;
  T* dg = s.dg + n * G;
  const T dh = s.proj ? s.dr[n * H + j] : s.dh[n * P + j] + (s.dy ? s.dy[n * P + j] : T(0));
  switch (s.mode) {
    case RnnMode::RnnTanh:
      dg[j] = rnn_tanh_backward(gates[j], dh);
      break;
    case RnnMode::RnnRelu:
      dg[j] = rnn_relu_backward(gates[j], dh);
      break;
    case RnnMode::Lstm: {
      T& dc = s.dc[n * H + j];
      const LstmGrad<T> d = lstm_backward(gates[j], gates[H + j], gates[2 * H + j],
                                          gates[3 * H + j], s.cprev[n * H + j], dh, dc);
      dg[j] = d.da_i, dg[H + j] = d.da_f, dg[2 * H + j] = d.da_g, dg[3 * H + j] = d.da_o;
      dc = d.dc_prev;
      break;
    }
    case RnnMode::Gru:
    default: {
      const GruGrad<T> d = gru_backward(gates[j], gates[H + j], gates[2 * H + j],
                                        s.hn[n * H + j], s.hprev[n * P + j], dh);
      T* dgh = s.dgh + n * G;
      dg[j] = dgh[j] = d.da_r;
      dg[H + j] = dgh[H + j] = d.da_z;
      dg[2 * H + j] = d.dx_n;
      dgh[2 * H + j] = d.dh_n;
      s.dh[n * P + j] = d.dh_prev;
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

// Workspace layout (elements). Forward: xg [R, G], hg [N, G], r [N, H]
// (projection inference). Backward: dg [R, G], dgh [R, G] (GRU),
// dhtot [R, P] and dr [N, H] (projection).
struct RnnWorkspaceLayout {
  index_t xg = 0, hg = 0, r = 0, forward_size = 0;
  index_t dg = 0, dgh = 0, dhtot = 0, dr = 0, backward_size = 0;
};

inline RnnWorkspaceLayout rnn_workspace_layout(const RnnLayerShape& s) {
  const index_t R = s.rows(), G = s.G(), N = s.N, H = s.H, P = s.P;
  RnnWorkspaceLayout w;
  w.xg = 0;
  w.hg = w.xg + R * G;
  w.r = w.hg + N * G;
  w.forward_size = w.r + (s.has_proj ? N * H : 0);
  w.dg = 0;
  w.dgh = s.mode == RnnMode::Gru ? w.dg + R * G : w.dg;
  w.dhtot = w.dgh + R * G;
  w.dr = w.dhtot + (s.has_proj ? R * P : 0);
  w.backward_size = w.dr + (s.has_proj ? N * H : 0);
  return w;
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
  l.size = end;
  return l;
}

// Forward of one layer and direction; arguments already validated.
template <typename T, typename Ops>
void rnn_forward(const RnnLayerShape& s, const RnnForwardArgs<T>& a, Ops& ops) {
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H, P = s.P;
  const bool lstm = s.mode == RnnMode::Lstm, train = a.reserve != nullptr;
  const RnnWorkspaceLayout ws = rnn_workspace_layout(s);
  const RnnReserveLayout rl = reserve_layout(s);
  T* xg = a.workspace + ws.xg;
  T* hg = a.workspace + ws.hg;

  // The input projection of every row at once: xg = x W_ih^T.
  ops.gemm(false, true, R, G, C, T(1), a.x, C, a.w.w_ih, C, T(0), xg, G);

  // h_n and c_n hold the running state: a row not active at a step keeps its value.
  if (!a.h0) ops.zero(a.h_n, N * P);
  else if (a.h0 != a.h_n) ops.copy(a.h_n, a.h0, N * P);
  if (lstm) {
    if (!a.c0) ops.zero(a.c_n, N * H);
    else if (a.c0 != a.c_n) ops.copy(a.c_n, a.c0, N * H);
  }

  for_each_step(s, s.reverse, [&](index_t row0, index_t rows) {
    ops.gemm(false, true, rows, G, P, T(1), a.h_n, P, a.w.w_hh, P, T(0), hg, G);
    RnnStepForward<T> st;
    st.mode = s.mode, st.H = H, st.P = P, st.rows = rows, st.proj = s.has_proj;
    st.xg = xg + row0 * G, st.hg = hg, st.b_ih = a.w.b_ih, st.b_hh = a.w.b_hh;
    st.h = a.h_n, st.c = lstm ? a.c_n : nullptr, st.y = a.y + row0 * P;
    st.r = s.has_proj ? (train ? a.reserve + rl.rproj + row0 * H : a.workspace + ws.r) : nullptr;
    if (train) {
      st.gates = a.reserve + rl.gates + row0 * G;
      st.hprev = a.reserve + rl.hprev + row0 * P;
      st.cprev = lstm ? a.reserve + rl.cprev + row0 * H : nullptr;
      st.hn = s.mode == RnnMode::Gru ? a.reserve + rl.hn + row0 * H : nullptr;
    }
    ops.step_forward(st);
    if (s.has_proj) {  // h = r W_hr^T, the output and the new state
      ops.gemm(false, true, rows, P, H, T(1), st.r, H, a.w.w_hr, H, T(0), st.y, P);
      ops.copy(a.h_n, st.y, rows * P);
    }
  });
}

// Backward of one layer and direction; arguments already validated.
template <typename T, typename Ops>
void rnn_backward(const RnnLayerShape& s, const RnnBackwardArgs<T>& a, Ops& ops) {
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H, P = s.P;
  const bool lstm = s.mode == RnnMode::Lstm, gru = s.mode == RnnMode::Gru;
  const RnnWorkspaceLayout ws = rnn_workspace_layout(s);
  const RnnReserveLayout rl = reserve_layout(s);
  T* dg = a.workspace + ws.dg;
  T* dgh = a.workspace + ws.dgh;  // == dg except for GRU
  T* dhtot = s.has_proj ? a.workspace + ws.dhtot : nullptr;
  T* dr = s.has_proj ? a.workspace + ws.dr : nullptr;
  const T* hprev = a.reserve + rl.hprev;

  // dh0 and dc0 hold the running state gradient, starting from dh_n and dc_n.
  if (!a.dh_n) ops.zero(a.dh0, N * P);
  else if (a.dh_n != a.dh0) ops.copy(a.dh0, a.dh_n, N * P);
  if (lstm) {
    if (!a.dc_n) ops.zero(a.dc0, N * H);
    else if (a.dc_n != a.dc0) ops.copy(a.dc0, a.dc_n, N * H);
  }

  for_each_step(s, !s.reverse, [&](index_t row0, index_t rows) {
    RnnStepBackward<T> st;
    st.mode = s.mode, st.H = H, st.P = P, st.rows = rows, st.proj = s.has_proj;
    if (s.has_proj) {  // dL/dh = dh + dy, then through W_hr: dr = dL/dh W_hr
      T* dht = dhtot + row0 * P;
      ops.add(dht, a.dh0, a.dy ? a.dy + row0 * P : nullptr, rows * P);
      ops.gemm(false, false, rows, H, P, T(1), dht, P, a.w.w_hr, H, T(0), dr, H);
      st.dr = dr;
    } else {
      st.dy = a.dy ? a.dy + row0 * P : nullptr;
    }
    st.dh = a.dh0, st.dc = lstm ? a.dc0 : nullptr;
    st.gates = a.reserve + rl.gates + row0 * G;
    st.hprev = hprev + row0 * P;
    st.cprev = lstm ? a.reserve + rl.cprev + row0 * H : nullptr;
    st.hn = gru ? a.reserve + rl.hn + row0 * H : nullptr;
    st.dg = dg + row0 * G, st.dgh = dgh + row0 * G;
    ops.step_backward(st);
    // dL/dh_prev = (direct part, GRU only) + dgh W_hh
    ops.gemm(false, false, rows, P, G, T(1), dgh + row0 * G, G, a.w.w_hh, P, gru ? T(1) : T(0),
             a.dh0, P);
  });

  // Whole-sequence products over all R rows.
  if (a.dx) ops.gemm(false, false, R, C, G, T(1), dg, G, a.w.w_ih, C, T(0), a.dx, C);
  if (a.dw_ih) ops.gemm(true, false, G, C, R, T(1), dg, G, a.x, C, T(0), a.dw_ih, C);
  if (a.dw_hh) ops.gemm(true, false, G, P, R, T(1), dgh, G, hprev, P, T(0), a.dw_hh, P);
  if (a.db_ih) ops.column_sum(dg, R, G, a.db_ih);
  if (a.db_hh) ops.column_sum(dgh, R, G, a.db_hh);
  if (a.dw_hr)
    ops.gemm(true, false, P, H, R, T(1), dhtot, P, a.reserve + rl.rproj, H, T(0), a.dw_hr, H);
}

}  // namespace loom::kernels::rnn_detail
