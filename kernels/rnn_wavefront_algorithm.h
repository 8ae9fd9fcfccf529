// The stacked-layer wavefront (kernels/rnn_wavefront.h), written once for the
// CUDA kernel (kernels/cuda/persistent_rnn.cu) and a host emulation that runs
// the same index computations, buffers and summation order on the CPU
// (kernels/cpu/rnn_cpu.cc, tested in tests/kernels/rnn_wavefront_test.cc).
// Internal; eligible shapes only (wavefront_ineligible_reason == "").
//
// Geometry: block b of `blocks` owns hidden units j in [b U, min(H, (b+1) U))
// of EVERY layer (U = units).
//
// Schedule. Phase p = 0 .. T + L - 2; layer l is active at phase p when its
// step s = p - l is in [0, T). "v_l at phase p" is layer l's output at step
// p - l - 1, the newest one at the start of the phase (h0's slice of layer l,
// or zeros, when that step is -1). An active layer l reads v_l (its h_prev)
// and, for l > 0, v_{l-1} (its input x_t = layer l - 1's output of the same
// step s): both were written in the previous phase. Per phase, in each block:
//   1. (staged) copy v_l into shared memory for every layer l read in this
//      phase (l active, or l + 1 active);
//   2. for each active layer l, gate row g H + j of an owned unit and batch
//      row n:
//        acc[l][n][g U + u]        = dot(W_hh_l[g H + j, :], v_l[n, :])
//        acc[l][n][ng U + g U + u] = dot(W_ih_l[g H + j, :], v_{l-1}[n, :])   (l > 0)
//      (persistent_dot order), the weight rows held in shared memory;
//   3. for each active layer l and owned (n, j): the cell math of
//      persistent_cell_forward (kernels/rnn_persistent_algorithm.h) on
//      x-part + h-part + b_ih + b_hh, where layer 0's x-part is the hoisted
//      GEMM's xg and a higher layer's the acc above; writes layer l's
//      output of step s;
//   4. grid-wide barrier.
// After the last phase, h_n[l] is copied from each layer's output of step
// T - 1 (h0 may alias h_n: nobody reads h0 any more). The LSTM cell states
// [L, N, H] are updated in place, each (l, n, j) by its one block.
//
// Where outputs live: the last layer writes y [T N, H]; a layer l < L - 1
// writes step s into slot s % 2 of its ring [2, N, H] in the workspace. The
// ring is safe with one barrier a phase: at phase p layer l writes slot
// (p - l) % 2 while the phase reads only v_l, slot (p - l - 1) % 2 (for layer
// l's own recurrence and layer l + 1's input).
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/common.h"
#include "kernels/half.h"
#include "kernels/rnn.h"
#include "kernels/rnn_algorithm.h"
#include "kernels/rnn_persistent_algorithm.h"
#include "kernels/rnn_wavefront.h"

namespace loom::kernels::rnn_detail {

// Byte offsets of a wavefront block's shared memory:
//   w   [2L - 1][ng U, H] S  matrix m = 0: W_hh_0; m = 2l - 1: W_ih_l, m = 2l: W_hh_l
//                            (l >= 1); row g U + u of each = the matrix's row g H + j0 + u
//   acc [L][N][2 ng U] F     the phase's dot products: recurrent part, then input part
//   op  [L][N, H] F          v_l of every layer (staged only)
struct WavefrontSmemLayout {
  index_t w = 0, acc = 0, op = 0, size = 0;
};

LOOM_HD WavefrontSmemLayout wavefront_smem_layout(RnnMode mode, index_t L, index_t N,
                                                         index_t H, index_t units, bool staged,
                                                         index_t storage_bytes,
                                                         index_t compute_bytes) {
  const index_t ngu = gates_per_unit(mode) * units;
  WavefrontSmemLayout l;
  l.w = 0;
  l.acc = align16((2 * L - 1) * ngu * H * storage_bytes);
  l.op = align16(l.acc + L * N * 2 * ngu * compute_bytes);
  l.size = align16(l.op + (staged ? L * N * H * compute_bytes : 0));
  return l;
}

// The shared-memory matrix m (layout above) of layer l: the recurrent one
// (part 0) or the input one (part 1, l >= 1).
LOOM_HD index_t wavefront_matrix(index_t l, int part) {
  return part == 0 ? 2 * l : 2 * l - 1;
}

// One stack's wavefront forward (an eligible shape, inference).
template <typename S>
struct WavefrontForward {
  using F = opmath_t<S>;
  RnnMode mode = RnnMode::Lstm;
  index_t L = 0, T = 0, N = 0, H = 0;
  int blocks = 0, threads = 0;
  index_t units = 0;
  bool staged = false;
  const F* xg = nullptr;                     // [T N, G] layer 0's x W_ih^T (no bias)
  const S* w_ih[kWavefrontMaxLayers] = {};   // [G, H] layers 1..L-1 (entry 0 unused)
  const S* w_hh[kWavefrontMaxLayers] = {};   // [G, H]
  const S* b_ih[kWavefrontMaxLayers] = {};   // [G] or null
  const S* b_hh[kWavefrontMaxLayers] = {};   // [G] or null
  const S* h0 = nullptr;                     // [L, N, H] or null (zeros); may alias h_n
  S* ring = nullptr;                         // [L - 1, 2, N, H] outputs of layers 0..L-2
  S* y = nullptr;                            // [T N, H] out: the last layer's output
  S* h_n = nullptr;                          // [L, N, H] out
  F* c = nullptr;                            // [L, N, H] LSTM running cell states
};

// Whether layer l runs a step at phase `phase`.
LOOM_HD bool wavefront_active(index_t T, index_t l, index_t phase) {
  return phase - l >= 0 && phase - l < T;
}

// The layers active at `phase`: lo .. hi (never empty for phase < T + L - 1).
struct WavefrontLayers {
  index_t lo = 0, hi = 0;
  // The layers whose v_l the phase reads (staged): lo - 1 (the input of
  // layer lo, when lo > 0) .. hi.
  LOOM_HD index_t first_read() const { return lo > 0 ? lo - 1 : 0; }
};

LOOM_HD WavefrontLayers wavefront_layers(index_t T, index_t L, index_t phase) {
  WavefrontLayers a;
  a.lo = phase - T + 1 > 0 ? phase - T + 1 : 0;
  a.hi = phase < L - 1 ? phase : L - 1;
  return a;
}

// Layer l's output [N, H] of step s (0 <= s < T).
template <typename S>
LOOM_HD S* wavefront_output(const WavefrontForward<S>& p, index_t l, index_t s) {
  const index_t NH = p.N * p.H;
  return l == p.L - 1 ? p.y + s * NH : p.ring + (2 * l + s % 2) * NH;
}

// v_l at phase `phase` (see the top of this file): [N, H], or null for zeros.
// Defined for -1 <= phase - l - 1 < T.
template <typename S>
LOOM_HD const S* wavefront_latest(const WavefrontForward<S>& p, index_t l, index_t phase) {
  const index_t s = phase - l - 1;
  if (s < 0) return p.h0 ? p.h0 + l * p.N * p.H : nullptr;
  return wavefront_output(p, l, s);
}

// The weight slice of shared-memory matrix m, row `row` of the [G, H] matrix.
template <typename S>
LOOM_HD const S* wavefront_weight_row(const WavefrontForward<S>& p, index_t m, index_t row) {
  const S* w = m % 2 == 0 ? p.w_hh[m / 2] : p.w_ih[(m + 1) / 2];
  return w + row * p.H;
}

// Element (n, j = j0 + u) of layer l's step s. `acc` is row n's [2 ng U]
// dot products of the phase; hp layer l's previous hidden state at (n, j).
template <typename S>
LOOM_HD void wavefront_point(const WavefrontForward<S>& p, index_t l, index_t s,
                             const opmath_t<S>* acc, S hp, index_t n, index_t u, index_t j) {
  using F = opmath_t<S>;
  const index_t H = p.H, G = gate_rows(p.mode, H), U = p.units;
  const index_t ngu = gates_per_unit(p.mode) * U;
  const F* xg = p.xg + (s * p.N + n) * G;  // read for layer 0 only
  const F h = persistent_cell_forward<S>(
      p.mode, H, j, [&](index_t g) { return l == 0 ? xg[g * H + j] : acc[ngu + g * U + u]; },
      [&](index_t g) { return acc[g * U + u]; }, p.b_ih[l], p.b_hh[l], hp,
      p.c ? p.c + (l * p.N + n) * H + j : nullptr, static_cast<S*>(nullptr),
      static_cast<S*>(nullptr), static_cast<S*>(nullptr));
  wavefront_output(p, l, s)[n * H + j] = to_storage<S>(h);
}

// ---- Host emulation: per phase, the blocks one after another -------------------
//
// With p.staged each block first copies v_l of the layers the phase reads
// into its own [L][N, H] F buffer (the kernel's shared memory) and takes the
// dot products from there, as the kernel does; otherwise from where v_l lies.
template <typename S>
void wavefront_forward_host(const WavefrontForward<S>& p) {
  using F = opmath_t<S>;
  const index_t L = p.L, T = p.T, N = p.N, H = p.H, U = p.units;
  const index_t ngu = gates_per_unit(p.mode) * U;
  std::vector<F> acc(static_cast<std::size_t>(L * N * 2 * ngu));
  std::vector<F> vs(p.staged ? static_cast<std::size_t>(L * N * H) : 0);
  for (index_t phase = 0; phase < T + L - 1; ++phase) {
    const WavefrontLayers act = wavefront_layers(T, L, phase);
    for (int b = 0; b < p.blocks; ++b) {
      const index_t j0 = b * U, here = H - j0 < U ? H - j0 : U;
      // 1. staging
      if (p.staged) {
        std::fill(vs.begin(), vs.end(), F(std::nan("")));  // a row read but never staged shows
        for (index_t l = act.first_read(); l <= act.hi; ++l) {
          const S* v = wavefront_latest(p, l, phase);
          for (index_t e = 0; e < N * H; ++e) vs[l * N * H + e] = v ? F(v[e]) : F(0);
        }
      }
      // 2. the dot products of every active layer
      for (index_t l = act.lo; l <= act.hi; ++l) {
        for (int part = 0; part < (l > 0 ? 2 : 1); ++part) {
          const index_t lv = part == 0 ? l : l - 1;
          const S* v = wavefront_latest(p, lv, phase);
          const index_t m = wavefront_matrix(l, part);
          for (index_t lr = 0; lr < ngu; ++lr) {
            const index_t g = lr / U, u = lr % U;
            if (u >= here) continue;
            const S* w = wavefront_weight_row(p, m, g * H + j0 + u);
            for (index_t n = 0; n < N; ++n) {
              F val = F(0);
              if (v && p.staged) {
                const F* vr = vs.data() + (lv * N + n) * H;
                val = persistent_dot_host<F>(
                    H, [&](index_t k) { return F(w[k]); }, [&](index_t k) { return vr[k]; });
              } else if (v) {
                const S* vr = v + n * H;
                val = persistent_dot_host<F>(
                    H, [&](index_t k) { return F(w[k]); }, [&](index_t k) { return F(vr[k]); });
              }
              acc[(l * N + n) * 2 * ngu + part * ngu + lr] = val;
            }
          }
        }
      }
      // 3. the cell math of every active layer
      for (index_t l = act.lo; l <= act.hi; ++l) {
        const S* v = wavefront_latest(p, l, phase);
        for (index_t n = 0; n < N; ++n)
          for (index_t u = 0; u < here; ++u) {
            const index_t j = j0 + u;
            const S hp = v ? v[n * H + j] : S(0.0f);
            wavefront_point(p, l, phase - l, acc.data() + (l * N + n) * 2 * ngu, hp, n, u, j);
          }
      }
    }
    // 4. barrier
  }
  for (index_t l = 0; l < L; ++l) {
    const S* last = wavefront_output(p, l, T - 1);
    for (index_t e = 0; e < N * H; ++e) p.h_n[l * N * H + e] = last[e];
  }
}

// ---- The stack around the launch -------------------------------------------------
//
// Workspace, in elements of S (the alignment rule of rnn_workspace_layout):
// xg [T N, G] F, ring [L - 1, 2, N, H] S, cst [L, N, H] F (LSTM, S != F: the
// running cell states; for S == F they live in c_n).
struct WavefrontWorkspaceLayout {
  index_t xg = 0, ring = 0, cst = -1, size = 0;
};

template <typename S>
WavefrontWorkspaceLayout wavefront_workspace_layout(const RnnStackShape& s) {
  using F = opmath_t<S>;
  constexpr bool mixed = !std::is_same_v<S, F>;
  constexpr index_t per_f = static_cast<index_t>(sizeof(F) / sizeof(S));
  const auto align = [](index_t o) { return mixed ? (o + 7) / 8 * 8 : o; };
  const index_t NH = s.N * s.H;
  WavefrontWorkspaceLayout w;
  w.xg = 0;
  w.ring = align(w.xg + s.T * s.N * s.G() * per_f);
  index_t end = align(w.ring + (s.L - 1) * 2 * NH);
  if (mixed && s.mode == RnnMode::Lstm) w.cst = end, end = align(end + s.L * NH * per_f);
  w.size = end;
  return w;
}

// The wavefront forward of an eligible stack; arguments already validated.
// Ops as in rnn_algorithm.h (gemm, copy, convert, zero) plus
// wavefront_forward(const WavefrontForward<S>&).
template <typename S, typename Ops>
void rnn_stack_forward_wavefront(const RnnStackShape& s, const RnnStackForwardArgs<S>& a,
                                 const PersistentGeometry& geo, Ops& ops) {
  using F = opmath_t<S>;
  constexpr bool mixed = !std::is_same_v<S, F>;
  const index_t R = s.T * s.N, G = s.G(), C = s.C, LNH = s.L * s.N * s.H;
  const bool lstm = s.mode == RnnMode::Lstm;
  const WavefrontWorkspaceLayout ws = wavefront_workspace_layout<S>(s);
  F* xg = f_region(a.workspace, ws.xg);
  ops.gemm(false, true, R, G, C, F(1), a.x, C, a.w[0].w_ih, C, F(0), xg, G);
  F* c = nullptr;
  if (lstm) {
    if constexpr (mixed) {
      c = f_region(a.workspace, ws.cst);
      if (!a.c0) ops.zero(c, LNH);
      else ops.convert(c, a.c0, LNH);
    } else {
      c = a.c_n;
      if (!a.c0) ops.zero(c, LNH);
      else if (a.c0 != a.c_n) ops.copy(c, a.c0, LNH);
    }
  }
  WavefrontForward<S> p;
  p.mode = s.mode, p.L = s.L, p.T = s.T, p.N = s.N, p.H = s.H;
  p.blocks = geo.blocks, p.threads = geo.threads, p.units = geo.units, p.staged = geo.staged;
  p.xg = xg;
  for (index_t l = 0; l < s.L; ++l) {
    p.w_ih[l] = l > 0 ? a.w[l].w_ih : nullptr;
    p.w_hh[l] = a.w[l].w_hh;
    p.b_ih[l] = a.w[l].b_ih;
    p.b_hh[l] = a.w[l].b_hh;
  }
  p.h0 = a.h0, p.ring = a.workspace + ws.ring, p.y = a.y, p.h_n = a.h_n, p.c = c;
  ops.wavefront_forward(p);
  if constexpr (mixed) {
    if (lstm) ops.convert(a.c_n, c, LNH);  // c_n may be c0's buffer: c0 was read at the start
  }
}

}  // namespace loom::kernels::rnn_detail
