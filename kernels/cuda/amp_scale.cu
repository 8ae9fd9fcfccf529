// CUDA gradient-scaling kernels (contracts in kernels/amp_scale.h); the math is
// shared with the CPU reference.
#include "kernels/amp_scale.h"
#include "kernels/cuda/context.h"

namespace loom::kernels {

namespace {
constexpr int kThreads = 256;

template <typename T>
__global__ void amp_unscale_kernel(index_t n,
                                   T* grad,             // [n]
                                   const float* scale,  // [1]
                                   float* found_inf) {  // [1]
  const float inv_scale = amp_inv_scale(*scale);
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    if (!amp_unscale_point(grad[i], inv_scale)) *found_inf = 1.0f;
  }
}

__global__ void amp_update_scale_kernel(float* scale,                 // [1]
                                        std::int64_t* growth_tracker,  // [1]
                                        const float* found_inf,       // [1]
                                        double growth_factor, double backoff_factor,
                                        std::int64_t growth_interval) {
  amp_update_scale_point(*scale, *growth_tracker, *found_inf, growth_factor, backoff_factor,
                         growth_interval);
}
}  // namespace

template <typename T>
void amp_unscale_cuda(index_t n, T* grad, const float* scale, float* found_inf) {
  if (n == 0) return;
  amp_unscale_kernel<T><<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      n, grad, scale, found_inf);
  LOOM_CUDA_CHECK_LAUNCH();
}

void amp_update_scale_cuda(float* scale, std::int64_t* growth_tracker, const float* found_inf,
                           double growth_factor, double backoff_factor,
                           std::int64_t growth_interval) {
  amp_update_scale_kernel<<<1, 1, 0, cuda::stream()>>>(scale, growth_tracker, found_inf,
                                                       growth_factor, backoff_factor,
                                                       growth_interval);
  LOOM_CUDA_CHECK_LAUNCH();
}

template void amp_unscale_cuda<float>(index_t, float*, const float*, float*);
template void amp_unscale_cuda<double>(index_t, double*, const float*, float*);
template void amp_unscale_cuda<bfloat16>(index_t, bfloat16*, const float*, float*);
template void amp_unscale_cuda<float16>(index_t, float16*, const float*, float*);

}  // namespace loom::kernels
