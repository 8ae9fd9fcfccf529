// The persistent recurrent algorithm (kernels/rnn_persistent.h), written once
// for the CUDA kernels (kernels/cuda/persistent_rnn.cu) and a host emulation
// that runs the same index computations and the same summation order on the
// CPU (kernels/cpu/rnn_cpu.cc, tested in tests/kernels/rnn_persistent_test.cc).
// Internal; eligible shapes only: batch_sizes[t] == N for every t, P == H.
//
// Geometry: block b of `blocks` owns hidden units j in [b U, min(H, (b+1) U))
// (U = units). Rows of [T N, .] arrays: step t's rows are t N .. t N + N - 1.
//
// Forward, per step t in processing order (ascending, or descending for the
// reverse direction), in each block:
//   1. (staged) copy h_prev [N, H] into shared memory as F;
//   2. for each of its gate rows g H + j and batch rows n:
//        acc[n][g U + u] = dot(W_hh[g H + j, :], h_prev[n, :])        (persistent_dot)
//      with W_hh's rows held in shared memory for the whole sequence;
//   3. for each owned (n, j): the cell math of kernels/rnn_cells.h on
//      xg + acc + b_ih + b_hh (the standard path's order), writing y[t N + n, j]
//      and, when training, the reserve (gates, h_prev, c_prev, W_hn h + b_hn);
//   4. grid-wide barrier.
//   h_prev is h0 (zeros when null) at the first step, else y of the previous
//   step; h_n is copied from y of the last step after the final barrier (h0
//   may alias h_n). The LSTM cell state is updated in place: each (n, j) is
//   owned by one block.
// Backward, per step in the opposite order, in each block:
//   1. for each owned (n, j): rnn_step_backward_point (the standard path's
//      pointwise step, unchanged) writes dg/dgh at the step's rows, updates
//      dL/dc in place and, for GRU, sets dL/dh to its direct part;
//   2. grid-wide barrier (every block's dgh of the step is written);
//   3. (staged) copy the step's dgh rows [N, G] into shared memory as F;
//   4. for each owned (n, j): dh[n, j] = dot(dgh[t N + n, :], W_hh[:, j])
//      (+ dh[n, j] for GRU), with W_hh's columns of the owned units (rows of
//      W_hh^T) held in shared memory.
//   The running dL/dh and dL/dc of a unit are only touched by its block.
// Every dot product is summed in a fixed order (persistent_dot): lane l of a
// warp of 32 accumulates k = l, l + 32, ... with fused multiply-adds, then the
// lanes are combined by the butterfly v += v[lane ^ s] for s = 16, 8, 4, 2, 1.
// No atomics: the same bits on every run of the same device and grid.
#pragma once

#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/common.h"
#include "kernels/half.h"
#include "kernels/rnn.h"
#include "kernels/rnn_algorithm.h"
#include "kernels/rnn_cells.h"

namespace loom::kernels::rnn_detail {

constexpr int kPersistentWarp = 32;

// Gate blocks per hidden unit: 4 LSTM, 3 GRU, 1 RNN.
LOOM_HD constexpr index_t gates_per_unit(RnnMode mode) {
  return mode == RnnMode::Lstm ? 4 : mode == RnnMode::Gru ? 3 : 1;
}

LOOM_HD constexpr index_t align16(index_t bytes) { return (bytes + 15) / 16 * 16; }

// Byte offsets of a block's shared memory regions.
//   Forward:  w   [ng U, H] S   rows g U + u = W_hh row g H + j0 + u
//             acc [N, ng U] F   the step's recurrent pre-activations
//             op  [N, H] F      h_prev (staged only)
//   Backward: w   [U, G] S      row u = W_hh column j0 + u (W_hh^T row)
//             acc unused (0 bytes)
//             op  [N, G] F      the step's dgh rows (staged only)
struct PersistentSmemLayout {
  index_t w = 0, acc = 0, op = 0, size = 0;
};

LOOM_HD PersistentSmemLayout persistent_smem_layout(bool backward, RnnMode mode, index_t N,
                                                           index_t H, index_t units, bool staged,
                                                           index_t storage_bytes,
                                                           index_t compute_bytes) {
  const index_t ng = gates_per_unit(mode), G = ng * H;
  PersistentSmemLayout l;
  l.w = 0;
  if (!backward) {
    l.acc = align16(ng * units * H * storage_bytes);
    l.op = align16(l.acc + N * ng * units * compute_bytes);
    l.size = align16(l.op + (staged ? N * H * compute_bytes : 0));
  } else {
    l.acc = align16(units * G * storage_bytes);
    l.op = l.acc;
    l.size = align16(l.op + (staged ? N * G * compute_bytes : 0));
  }
  return l;
}

// One layer-direction's persistent forward (an eligible shape).
template <typename S>
struct PersistentForward {
  using F = opmath_t<S>;
  RnnMode mode = RnnMode::Lstm;
  index_t T = 0, N = 0, H = 0;
  bool reverse = false;
  int blocks = 0, threads = 0;
  index_t units = 0;
  bool staged = false;
  const F* xg = nullptr;    // [T N, G] x W_ih^T (no bias)
  const S* w_hh = nullptr;  // [G, H]
  const S* b_ih = nullptr;  // [G] or null
  const S* b_hh = nullptr;  // [G] or null
  const S* h0 = nullptr;    // [N, H] or null (zeros); may alias h_n
  S* y = nullptr;           // [T N, H] out
  S* h_n = nullptr;         // [N, H] out
  F* c = nullptr;           // [N, H] LSTM: the running cell state, c0 in, c_n out
  S* gates = nullptr;       // [T N, G] reserve, or null for inference
  S* hprev = nullptr;       // [T N, H] reserve
  S* cprev = nullptr;       // [T N, H] reserve, LSTM
  S* hn = nullptr;          // [T N, H] reserve, GRU
};

// One layer-direction's persistent BPTT loop (the whole-sequence GEMMs
// before and after it are the standard path's).
template <typename S>
struct PersistentBackward {
  using F = opmath_t<S>;
  RnnMode mode = RnnMode::Lstm;
  index_t T = 0, N = 0, H = 0;
  bool reverse = false;
  int blocks = 0, threads = 0;
  index_t units = 0;
  bool staged = false;
  const S* w_hh = nullptr;   // [G, H]
  const S* dy = nullptr;     // [T N, H] or null
  F* dh = nullptr;           // [N, H] running dL/dh: dL/dh_n in, dL/dh0 out
  F* dc = nullptr;           // [N, H] LSTM running dL/dc
  const S* gates = nullptr;  // [T N, G] reserve
  const S* hprev = nullptr;  // [T N, H] reserve
  const S* cprev = nullptr;  // [T N, H] reserve, LSTM
  const S* hn = nullptr;     // [T N, H] reserve, GRU
  S* dg = nullptr;           // [T N, G] out
  S* dgh = nullptr;          // [T N, G] out (== dg except GRU)
};

// The step processed at position `i` (0-based) of a pass: the forward pass of
// the forward direction (and the backward pass of the reverse direction) goes
// up in t.
LOOM_HD index_t persistent_step(index_t T, bool descending, index_t i) {
  return descending ? T - 1 - i : i;
}

// Lane `lane`'s partial sum of the fixed-order dot product over k < K of
// a(k) * b(k) (see the top of this file).
template <typename F, typename A, typename B>
LOOM_HD F persistent_lane_sum(index_t K, int lane, A a, B b) {
  F acc = F(0);
  for (index_t k = lane; k < K; k += kPersistentWarp) acc = std::fma(a(k), b(k), acc);
  return acc;
}

// The whole fixed-order dot product on one host thread: the 32 lane sums,
// then the butterfly, exactly as a warp combines them with __shfl_xor_sync.
template <typename F, typename A, typename B>
F persistent_dot_host(index_t K, A a, B b) {
  F v[kPersistentWarp];
  for (int l = 0; l < kPersistentWarp; ++l) v[l] = persistent_lane_sum<F>(K, l, a, b);
  for (int s = kPersistentWarp / 2; s >= 1; s /= 2) {
    F next[kPersistentWarp];
    for (int l = 0; l < kPersistentWarp; ++l) next[l] = v[l] + v[l ^ s];
    for (int l = 0; l < kPersistentWarp; ++l) v[l] = next[l];
  }
  return v[0];
}

// The cell math of one (n, j) element of a forward step, shared by the
// persistent layer and the stacked wavefront (kernels/rnn_wavefront_algorithm.h).
// xin(g) is x W_ih^T and hrec(g) h_prev W_hh^T (no biases) at gate row
// g H + j, both in F; the pre-activation is xin + hrec + b_ih + b_hh, the
// standard path's order (gate_input). hp: h_prev at (n, j); c: LSTM's running
// cell state at (n, j), updated. Saved values go where their pointer is not
// null: cprev (LSTM c_prev), gates (the row's [G] activated gates), hn (GRU's
// W_hn h + b_hn). Returns the new h in F (the caller rounds and stores it).
template <typename S, typename XIn, typename HRec>
LOOM_HD opmath_t<S> persistent_cell_forward(RnnMode mode, index_t H, index_t j, XIn xin, HRec hrec,
                                            const S* b_ih, const S* b_hh, S hp, opmath_t<S>* c,
                                            S* cprev, S* gates, S* hn) {
  using F = opmath_t<S>;
  const auto pre = [&](index_t g) {
    const index_t k = g * H + j;
    return xin(g) + hrec(g) + (b_ih ? F(b_ih[k]) : F(0)) + (b_hh ? F(b_hh[k]) : F(0));
  };
  switch (mode) {
    case RnnMode::RnnTanh:
    case RnnMode::RnnRelu: {
      const F a = pre(0);
      const F h = mode == RnnMode::RnnTanh ? rnn_tanh_forward(a) : rnn_relu_forward(a);
      if (gates) gates[j] = to_storage<S>(h);
      return h;
    }
    case RnnMode::Lstm: {
      if (cprev) *cprev = to_storage<S>(*c);
      const LstmPoint<F> q = lstm_forward(pre(0), pre(1), pre(2), pre(3), *c);
      *c = q.c;
      if (gates) {
        gates[j] = to_storage<S>(q.i), gates[H + j] = to_storage<S>(q.f);
        gates[2 * H + j] = to_storage<S>(q.g), gates[3 * H + j] = to_storage<S>(q.o);
      }
      return q.h;
    }
    case RnnMode::Gru:
    default: {
      const index_t k = 2 * H + j;
      const F x_n = xin(2) + (b_ih ? F(b_ih[k]) : F(0));
      const F h_n = hrec(2) + (b_hh ? F(b_hh[k]) : F(0));
      const GruPoint<F> q = gru_forward(pre(0), pre(1), x_n, h_n, F(hp));
      if (gates) {
        gates[j] = to_storage<S>(q.r), gates[H + j] = to_storage<S>(q.z);
        gates[2 * H + j] = to_storage<S>(q.n);
      }
      if (hn) *hn = to_storage<S>(h_n);
      return q.h;
    }
  }
}

// Element (n, j = j0 + u) of forward step t. `acc` is row n's [ng U]
// recurrent pre-activations; hp the previous hidden state at (n, j).
template <typename S>
LOOM_HD void persistent_forward_point(const PersistentForward<S>& p, index_t t,
                                      const opmath_t<S>* acc, S hp, index_t n, index_t u,
                                      index_t j) {
  using F = opmath_t<S>;
  const index_t H = p.H, G = gate_rows(p.mode, H), U = p.units, row = t * p.N + n;
  const F* xg = p.xg + row * G;
  if (p.hprev) p.hprev[row * H + j] = hp;
  const F h = persistent_cell_forward<S>(
      p.mode, H, j, [&](index_t g) { return xg[g * H + j]; },
      [&](index_t g) { return acc[g * U + u]; }, p.b_ih, p.b_hh, hp,
      p.c ? p.c + n * H + j : nullptr, p.cprev ? p.cprev + row * H + j : nullptr,
      p.gates ? p.gates + row * G : nullptr, p.hn ? p.hn + row * H + j : nullptr);
  p.y[row * H + j] = to_storage<S>(h);
}

// The standard pointwise backward step of (n, j), over the reserve rows of step t.
template <typename S>
LOOM_HD void persistent_backward_point(const PersistentBackward<S>& p, index_t t, index_t n,
                                       index_t j) {
  const index_t H = p.H, G = gate_rows(p.mode, H), row0 = t * p.N;
  RnnStepBackward<S> st;
  st.mode = p.mode, st.H = H, st.P = H, st.rows = p.N, st.proj = false;
  st.dy = p.dy ? p.dy + row0 * H : nullptr;
  st.dh = p.dh, st.dc = p.dc;
  st.gates = p.gates + row0 * G;
  st.hprev = p.hprev + row0 * H;
  st.cprev = p.cprev ? p.cprev + row0 * H : nullptr;
  st.hn = p.hn ? p.hn + row0 * H : nullptr;
  st.dg = p.dg + row0 * G, st.dgh = p.dgh + row0 * G;
  rnn_step_backward_point(st, n, j);
}

// ---- Host emulation: the blocks of each step one after another -----------------

template <typename S>
void persistent_forward_host(const PersistentForward<S>& p) {
  using F = opmath_t<S>;
  const index_t N = p.N, H = p.H, U = p.units, ng = gates_per_unit(p.mode);
  std::vector<F> acc(static_cast<std::size_t>(N * ng * U));
  index_t prev = -1;  // the previous step, -1 before the first
  for (index_t i = 0; i < p.T; ++i) {
    const index_t t = persistent_step(p.T, p.reverse, i);
    const S* h_prev = prev < 0 ? p.h0 : p.y + prev * N * H;  // [N, H] or null
    for (int b = 0; b < p.blocks; ++b) {
      const index_t j0 = b * U;
      for (index_t g = 0; g < ng; ++g)
        for (index_t u = 0; u < U && j0 + u < H; ++u)
          for (index_t n = 0; n < N; ++n) {
            const S* w = p.w_hh + (g * H + j0 + u) * H;
            const S* h = h_prev ? h_prev + n * H : nullptr;
            acc[n * ng * U + g * U + u] =
                h ? persistent_dot_host<F>(
                        H, [&](index_t k) { return F(w[k]); }, [&](index_t k) { return F(h[k]); })
                  : F(0);
          }
      for (index_t n = 0; n < N; ++n)
        for (index_t u = 0; u < U && j0 + u < H; ++u) {
          const index_t j = j0 + u;
          const S hp = h_prev ? h_prev[n * H + j] : S(0.0f);
          persistent_forward_point(p, t, acc.data() + n * ng * U, hp, n, u, j);
        }
    }
    prev = t;  // barrier
  }
  for (index_t n = 0; n < N; ++n)
    for (index_t j = 0; j < H; ++j) p.h_n[n * H + j] = p.y[(prev * N + n) * H + j];
}

template <typename S>
void persistent_backward_host(const PersistentBackward<S>& p) {
  using F = opmath_t<S>;
  const index_t N = p.N, H = p.H, U = p.units, G = gate_rows(p.mode, H);
  const bool gru = p.mode == RnnMode::Gru;
  for (index_t i = 0; i < p.T; ++i) {
    const index_t t = persistent_step(p.T, !p.reverse, i);
    for (int b = 0; b < p.blocks; ++b)
      for (index_t n = 0; n < N; ++n)
        for (index_t j = b * U; j < (b + 1) * U && j < H; ++j) persistent_backward_point(p, t, n, j);
    // barrier
    for (int b = 0; b < p.blocks; ++b)
      for (index_t n = 0; n < N; ++n)
        for (index_t j = b * U; j < (b + 1) * U && j < H; ++j) {
          const S* d = p.dgh + (t * N + n) * G;
          const F dot = persistent_dot_host<F>(
              G, [&](index_t g) { return F(p.w_hh[g * H + j]); }, [&](index_t g) { return F(d[g]); });
          F& dh = p.dh[n * H + j];
          dh = gru ? dh + dot : dot;
        }
  }
}

// ---- The layer around the persistent loops -------------------------------------
//
// Ops as in rnn_algorithm.h (gemm, copy, convert, zero, column_sum) plus
//   persistent_forward(const PersistentForward<S>&), persistent_backward(const PersistentBackward<S>&)
// and the geometry of the launch from the plan.

struct PersistentGeometry {
  int blocks = 0, threads = 0;
  index_t units = 0;
  bool staged = false;
};

// Forward of one eligible layer and direction; arguments already validated.
template <typename S, typename Ops>
void rnn_forward_persistent(const RnnLayerShape& s, const RnnForwardArgs<S>& a,
                            const PersistentGeometry& geo, Ops& ops) {
  using F = opmath_t<S>;
  constexpr bool mixed = !std::is_same_v<S, F>;
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H;
  const bool lstm = s.mode == RnnMode::Lstm, train = a.reserve != nullptr;
  const RnnWorkspaceLayout ws = rnn_workspace_layout<S>(s);
  const RnnReserveLayout rl = reserve_layout(s);
  F* xg = f_region(a.workspace, ws.xg);
  ops.gemm(false, true, R, G, C, F(1), a.x, C, a.w.w_ih, C, F(0), xg, G);
  F* c = lstm ? start_cell_state(a, ws, N, H, ops) : nullptr;
  PersistentForward<S> p;
  p.mode = s.mode, p.T = s.T, p.N = N, p.H = H, p.reverse = s.reverse;
  p.blocks = geo.blocks, p.threads = geo.threads, p.units = geo.units, p.staged = geo.staged;
  p.xg = xg, p.w_hh = a.w.w_hh, p.b_ih = a.w.b_ih, p.b_hh = a.w.b_hh;
  p.h0 = a.h0, p.y = a.y, p.h_n = a.h_n, p.c = c;
  if (train) {
    p.gates = a.reserve + rl.gates;
    p.hprev = a.reserve + rl.hprev;
    p.cprev = lstm ? a.reserve + rl.cprev : nullptr;
    p.hn = s.mode == RnnMode::Gru ? a.reserve + rl.hn : nullptr;
  }
  ops.persistent_forward(p);
  if constexpr (mixed) {
    if (lstm) ops.convert(a.c_n, c, N * H);
  }
}

// Backward of one eligible layer and direction; arguments already validated.
template <typename S, typename Ops>
void rnn_backward_persistent(const RnnLayerShape& s, const RnnBackwardArgs<S>& a,
                             const PersistentGeometry& geo, Ops& ops) {
  using F = opmath_t<S>;
  constexpr bool mixed = !std::is_same_v<S, F>;
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H;
  const bool lstm = s.mode == RnnMode::Lstm, gru = s.mode == RnnMode::Gru;
  const RnnWorkspaceLayout ws = rnn_workspace_layout<S>(s);
  const RnnReserveLayout rl = reserve_layout(s);
  S* dg = a.workspace + ws.dg;
  S* dgh = a.workspace + ws.dgh;
  const S* hprev = a.reserve + rl.hprev;
  F* dh = nullptr;
  F* dc = nullptr;
  start_state_grads(a, ws, N, H, H, lstm, ops, dh, dc);  // no projections on this path: P == H
  PersistentBackward<S> p;
  p.mode = s.mode, p.T = s.T, p.N = N, p.H = H, p.reverse = s.reverse;
  p.blocks = geo.blocks, p.threads = geo.threads, p.units = geo.units, p.staged = geo.staged;
  p.w_hh = a.w.w_hh, p.dy = a.dy, p.dh = dh, p.dc = dc;
  p.gates = a.reserve + rl.gates, p.hprev = hprev;
  p.cprev = lstm ? a.reserve + rl.cprev : nullptr;
  p.hn = gru ? a.reserve + rl.hn : nullptr;
  p.dg = dg, p.dgh = dgh;
  ops.persistent_backward(p);
  if constexpr (mixed) {
    ops.convert(a.dh0, dh, N * H);
    if (lstm) ops.convert(a.dc0, dc, N * H);
  }
  // The standard path's whole-sequence products.
  if (a.dx) ops.gemm(false, false, R, C, G, F(1), dg, G, a.w.w_ih, C, F(0), a.dx, C);
  if (a.dw_ih) ops.gemm(true, false, G, C, R, F(1), dg, G, a.x, C, F(0), a.dw_ih, C);
  if (a.dw_hh) ops.gemm(true, false, G, H, R, F(1), dgh, G, hprev, H, F(0), a.dw_hh, H);
  if (a.db_ih) ops.column_sum(dg, R, G, a.db_ih);
  if (a.db_hh) ops.column_sum(dgh, R, G, a.db_hh);
}

}  // namespace loom::kernels::rnn_detail
