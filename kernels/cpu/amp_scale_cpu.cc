// CPU reference of the gradient-scaling kernels (contracts in kernels/amp_scale.h).
#include "kernels/amp_scale.h"

namespace loom::kernels {

template <typename T>
void amp_unscale_cpu(index_t n, T* grad, const float* scale, float* found_inf) {
  const float inv_scale = amp_inv_scale(*scale);
  bool all_finite = true;
  for (index_t i = 0; i < n; ++i) all_finite = amp_unscale_point(grad[i], inv_scale) && all_finite;
  if (!all_finite) *found_inf = 1.0f;
}

void amp_update_scale_cpu(float* scale, std::int64_t* growth_tracker, const float* found_inf,
                          double growth_factor, double backoff_factor,
                          std::int64_t growth_interval) {
  amp_update_scale_point(*scale, *growth_tracker, *found_inf, growth_factor, backoff_factor,
                         growth_interval);
}

template void amp_unscale_cpu<float>(index_t, float*, const float*, float*);
template void amp_unscale_cpu<double>(index_t, double*, const float*, float*);
template void amp_unscale_cpu<bfloat16>(index_t, bfloat16*, const float*, float*);
template void amp_unscale_cpu<float16>(index_t, float16*, const float*, float*);

}  // namespace loom::kernels
