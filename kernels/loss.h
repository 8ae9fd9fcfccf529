// The negative log-likelihood loss, forward and backward.
//
//   loss[n] = ignored(n) ? 0 : -input[n, target[n]]          (ignored: target == ignore_index)
//   None: out = loss [N];  Sum: out = sum_n loss[n];  Mean: out = sum_n loss[n] / count,
//   count = the number of samples not ignored (0 / 0 = NaN when all are ignored, as PyTorch).
//
// A target outside [0, C) that is not ignore_index is reported through `bad`
// (never read out of bounds; its loss is NaN). The forward sums in double in a
// fixed order: sequentially on the CPU, by one block of fixed strided partials
// and a fixed reduction tree on CUDA (deterministic, no atomics).
#pragma once

#include <cmath>

#include "kernels/common.h"

namespace loom::kernels {

enum class LossReduction : int { None, Mean, Sum };

// ---- per-element math, shared by the CPU reference and the CUDA kernels ---------
LOOM_HD bool nll_target_in_range(index_t t, index_t C) { return t >= 0 && t < C; }

// The loss of one sample; NaN for an out-of-range target.
template <typename T>
LOOM_HD T nll_point(const T* row,  // [C]
                    index_t t, index_t C, index_t ignore_index) {
  if (t == ignore_index) return T(0);
  if (!nll_target_in_range(t, C)) return static_cast<T>(NAN);
  return -row[t];
}

// d loss / d input[n, c] given the upstream gradient of sample n, `g_n`, and
// `divisor` (count for Mean, else 1).
template <typename T>
LOOM_HD T nll_backward_point(index_t c, index_t t, index_t ignore_index, T g_n, T divisor) {
  return (t != ignore_index && c == t) ? -g_n / divisor : T(0);
}

// ---- CPU reference -----------------------------------------------------------------
// T: float, double. `out` is [N] for None and [1] otherwise; `count` receives the
// number of samples not ignored (as T). `bad` receives {n, target[n]} of the
// first out-of-range sample, or {-1, 0} when every target is valid.
template <typename T>
void nll_loss_forward_cpu(LossReduction reduction, index_t N, index_t C,
                          const T* input,         // [N, C]
                          const index_t* target,  // [N]
                          index_t ignore_index,
                          T* out,                 // [N] (None) or [1]
                          T* count,               // [1]
                          index_t* bad);          // [2]

// grad_input from the upstream gradient `grad_out` ([N] for None, else [1]) and
// the forward's `count` ([1], read for Mean only: device memory, no host sync).
template <typename T>
void nll_loss_backward_cpu(LossReduction reduction, index_t N, index_t C,
                           const T* grad_out,      // [N] (None) or [1]
                           const index_t* target,  // [N]
                           index_t ignore_index,
                           const T* count,         // [1]
                           T* grad_input);         // [N, C]

#if defined(LOOM_WITH_CUDA)
// ---- CUDA: the same contracts on device pointers, on loom's stream -----------------
template <typename T>
void nll_loss_forward_cuda(LossReduction reduction, index_t N, index_t C, const T* input,
                           const index_t* target, index_t ignore_index, T* out, T* count,
                           index_t* bad);
template <typename T>
void nll_loss_backward_cuda(LossReduction reduction, index_t N, index_t C, const T* grad_out,
                            const index_t* target, index_t ignore_index, const T* count,
                            T* grad_input);
#endif

}  // namespace loom::kernels
