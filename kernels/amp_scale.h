// Gradient scaling for mixed precision (optim::GradScaler): the per-element
// math of PyTorch's _amp_foreach_non_finite_check_and_unscale_ and
// _amp_update_scale_, written once and used by the CPU loops and the CUDA
// kernels alike.
//
// The scale lives in memory of the gradients' device (a float32 [1] tensor),
// so neither kernel needs the host to read it: a CUDA step stays asynchronous
// until the caller reads found_inf.
#pragma once

#include <cstdint>
#include <limits>

#include "kernels/common.h"
#include "kernels/half.h"

namespace loom::kernels {

static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559,
              "amp_scale: the overflow and inf/NaN rules assume IEEE 754 float and double");

// 1 / scale as PyTorch computes it: the reciprocal in float64, rounded once
// to float32 (scale.double().reciprocal().float()).
LOOM_HD float amp_inv_scale(float scale) {
  return static_cast<float>(1.0 / static_cast<double>(scale));
}

// One gradient element: returns whether it is finite (false for +-inf and
// NaN), and multiplies it by inv_scale in opmath_t<T> (float for the 16-bit
// types, T itself otherwise), rounding once on store; unchanged when
// inv_scale == 1. The check reads the element before the multiply.
template <typename T>
LOOM_HD bool amp_unscale_point(T& grad, float inv_scale) {
  using M = opmath_t<T>;
  const M v = static_cast<M>(grad);
  const bool finite = (v - v) == M(0);  // inf - inf and NaN - NaN are NaN
  if (inv_scale != 1.0f) grad = static_cast<T>(v * static_cast<M>(inv_scale));
  return finite;
}

// One update of the dynamic scale, torch._amp_update_scale_:
//   found_inf != 0: scale *= backoff_factor; growth_tracker = 0
//   else: successful = growth_tracker + 1
//         successful == growth_interval: scale *= growth_factor unless that
//                                        overflows float32; growth_tracker = 0
//         otherwise: growth_tracker = successful
// The products are computed in double and rounded once to float32 (IEEE:
// a product beyond float32's range becomes inf, as in PyTorch's kernel).
LOOM_HD void amp_update_scale_point(float& scale, std::int64_t& growth_tracker, float found_inf,
                                    double growth_factor, double backoff_factor,
                                    std::int64_t growth_interval) {
  if (found_inf != 0.0f) {
    scale = static_cast<float>(static_cast<double>(scale) * backoff_factor);
    growth_tracker = 0;
    return;
  }
  const std::int64_t successful = growth_tracker + 1;
  if (successful == growth_interval) {
    const float grown = static_cast<float>(static_cast<double>(scale) * growth_factor);
    if ((grown - grown) == 0.0f) scale = grown;  // finite: never grow to inf
    growth_tracker = 0;
  } else {
    growth_tracker = successful;
  }
}

// ---- CPU reference -------------------------------------------------------------------
// T: float, double, bfloat16, float16.
// Unscales grad in place by 1 / *scale (amp_inv_scale) and sets *found_inf =
// 1 when any element is inf or NaN (leaves it as it was otherwise).
template <typename T>
void amp_unscale_cpu(index_t n,
                     T* grad,            // [n]
                     const float* scale,  // [1]
                     float* found_inf);   // [1]
// One amp_update_scale_point on the three one-element buffers.
void amp_update_scale_cpu(float* scale,                 // [1]
                          std::int64_t* growth_tracker,  // [1]
                          const float* found_inf,       // [1]
                          double growth_factor, double backoff_factor,
                          std::int64_t growth_interval);

#if defined(LOOM_WITH_CUDA)
// ---- CUDA: the same contracts on device pointers, on loom's stream. ----------------
// amp_unscale_cuda: one launch, one thread per element; threads that meet a
// non-finite element all store the same 1.0f into found_inf (no atomics, the
// result does not depend on their order). amp_update_scale_cuda: one thread.
template <typename T>
void amp_unscale_cuda(index_t n, T* grad, const float* scale, float* found_inf);
void amp_update_scale_cuda(float* scale, std::int64_t* growth_tracker, const float* found_inf,
                           double growth_factor, double backoff_factor,
                           std::int64_t growth_interval);
#endif

}  // namespace loom::kernels
