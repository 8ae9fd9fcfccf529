// Softmax and log-softmax along one axis, forward and backward.
//
// Layout: x is contiguous and viewed as [outer, D, inner]; the softmax runs
// over D for every (outer, inner) pair, so no transpose is ever needed:
// softmax over the last dim is inner = 1, over dim 0 of [D, N] is outer = 1,
// inner = N. Element (o, d, i) lives at (o * D + d) * inner + i.
//
//   forward:   m = max_d x,  s = sum_d exp(x - m)
//              softmax y = exp(x - m) / s        log_softmax y = x - m - log s
//   backward:  softmax     dx = y * (g - sum_d g * y)
//              log_softmax dx = g - exp(y) * sum_d g
//
// Sums accumulate in double in a fixed order on both devices (deterministic):
// the CPU goes sequentially along D; CUDA gives a row (inner = 1) to a block
// with fixed strided partials combined by a fixed tree, or, for inner > 1, a
// column (o, i) to a thread that walks D sequentially.
#pragma once

#include <cmath>

#include "kernels/common.h"

namespace loom::kernels {

// ---- per-element math, shared by the CPU reference and the CUDA kernels ---------
// y for one element, given the row's maximum and its sum of exp(x - max).
template <typename T>
LOOM_HD T softmax_point(T x, double max, double sum_exp, bool log_softmax) {
  double shifted = static_cast<double>(x) - max;
  return static_cast<T>(log_softmax ? shifted - ::log(sum_exp) : ::exp(shifted) / sum_exp);
}

// The row term of the backward: g * y for softmax, g for log_softmax.
template <typename T>
LOOM_HD double softmax_backward_term(T g, T y, bool log_softmax) {
  return log_softmax ? static_cast<double>(g) : static_cast<double>(g) * static_cast<double>(y);
}

// dx for one element, given the row sum of softmax_backward_term.
template <typename T>
LOOM_HD T softmax_backward_point(T g, T y, double row_sum, bool log_softmax) {
  double gd = static_cast<double>(g), yd = static_cast<double>(y);
  return static_cast<T>(log_softmax ? gd - ::exp(yd) * row_sum : yd * (gd - row_sum));
}

// NaN-propagating maximum (PyTorch's softmax turns a row holding NaN into NaN).
LOOM_HD double softmax_nan_max(double a, double b) {
  if (a != a) return a;  // NaN (the same test on host and device)
  if (b != b) return b;
  return a > b ? a : b;
}

// One column (o, i): the D elements x[d * inner], walked in order. The CPU
// reference runs it for every column; the CUDA kernel gives a column to a
// thread when inner > 1.
template <typename T>
LOOM_HD void softmax_forward_column(bool log_softmax, index_t D, index_t inner,
                                    const T* x,  // column start, stride inner
                                    T* y) {      // column start, stride inner
  double m = -INFINITY;
  for (index_t d = 0; d < D; ++d) m = softmax_nan_max(m, static_cast<double>(x[d * inner]));
  double s = 0;
  for (index_t d = 0; d < D; ++d) s += ::exp(static_cast<double>(x[d * inner]) - m);
  for (index_t d = 0; d < D; ++d) y[d * inner] = softmax_point(x[d * inner], m, s, log_softmax);
}

template <typename T>
LOOM_HD void softmax_backward_column(bool log_softmax, index_t D, index_t inner,
                                     const T* g,  // column start, stride inner
                                     const T* y,  // column start, stride inner
                                     T* dx) {     // column start, stride inner
  double s = 0;
  for (index_t d = 0; d < D; ++d) s += softmax_backward_term(g[d * inner], y[d * inner], log_softmax);
  for (index_t d = 0; d < D; ++d)
    dx[d * inner] = softmax_backward_point(g[d * inner], y[d * inner], s, log_softmax);
}

// ---- CPU reference -----------------------------------------------------------------
// T: float, double. A row of D = 0 elements produces nothing.
template <typename T>
void softmax_forward_cpu(bool log_softmax, index_t outer, index_t D, index_t inner,
                         const T* x,  // [outer, D, inner]
                         T* y);       // [outer, D, inner]

// dx from the upstream gradient g and the forward output y.
template <typename T>
void softmax_backward_cpu(bool log_softmax, index_t outer, index_t D, index_t inner,
                          const T* g,  // [outer, D, inner]
                          const T* y,  // [outer, D, inner]
                          T* dx);      // [outer, D, inner]

#if defined(LOOM_WITH_CUDA)
// ---- CUDA: the same contracts on device pointers, on loom's stream -----------------
template <typename T>
void softmax_forward_cuda(bool log_softmax, index_t outer, index_t D, index_t inner, const T* x,
                          T* y);
template <typename T>
void softmax_backward_cuda(bool log_softmax, index_t outer, index_t D, index_t inner, const T* g,
                           const T* y, T* dx);
#endif

}  // namespace loom::kernels
