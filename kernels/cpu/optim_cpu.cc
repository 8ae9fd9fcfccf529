// CPU reference of the optimizer updates (contracts in kernels/optim.h).
#include "kernels/optim.h"

namespace loom::kernels {

template <typename T>
void sgd_step_cpu(const SgdHyper<T>& h, index_t n, T* param, const T* grad, T* momentum_buffer) {
  for (index_t i = 0; i < n; ++i)
    sgd_point(h, param[i], grad[i], momentum_buffer ? momentum_buffer + i : nullptr);
}

template <typename T>
void adam_step_cpu(const AdamHyper<T>& h, index_t n, T* param, const T* grad, T* exp_avg,
                   T* exp_avg_sq, T* max_exp_avg_sq) {
  for (index_t i = 0; i < n; ++i)
    adam_point(h, param[i], grad[i], exp_avg[i], exp_avg_sq[i],
               max_exp_avg_sq ? max_exp_avg_sq + i : nullptr);
}

template <typename T>
void rmsprop_step_cpu(const RmspropHyper<T>& h, index_t n, T* param, const T* grad,
                      T* square_avg, T* grad_avg, T* momentum_buffer) {
  for (index_t i = 0; i < n; ++i)
    rmsprop_point(h, param[i], grad[i], square_avg[i], grad_avg ? grad_avg + i : nullptr,
                  momentum_buffer ? momentum_buffer + i : nullptr);
}

template <typename P>
void sgd_step_master_cpu(const SgdHyper<float>& h, index_t n, float* master, P* model, const P* grad,
                         float* momentum_buffer) {
  for (index_t i = 0; i < n; ++i)
    sgd_master_point(h, master[i], model[i], grad[i], momentum_buffer ? momentum_buffer + i : nullptr);
}

template <typename P>
void adam_step_master_cpu(const AdamHyper<float>& h, index_t n, float* master, P* model,
                          const P* grad, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq) {
  for (index_t i = 0; i < n; ++i)
    adam_master_point(h, master[i], model[i], grad[i], exp_avg[i], exp_avg_sq[i],
                      max_exp_avg_sq ? max_exp_avg_sq + i : nullptr);
}

template <typename P>
void rmsprop_step_master_cpu(const RmspropHyper<float>& h, index_t n, float* master, P* model,
                             const P* grad, float* square_avg, float* grad_avg,
                             float* momentum_buffer) {
  for (index_t i = 0; i < n; ++i)
    rmsprop_master_point(h, master[i], model[i], grad[i], square_avg[i],
                         grad_avg ? grad_avg + i : nullptr,
                         momentum_buffer ? momentum_buffer + i : nullptr);
}

#define LOOM_OPTIM_INSTANTIATE(T)                                                         \
  template void sgd_step_cpu<T>(const SgdHyper<T>&, index_t, T*, const T*, T*);           \
  template void adam_step_cpu<T>(const AdamHyper<T>&, index_t, T*, const T*, T*, T*, T*); \
  template void rmsprop_step_cpu<T>(const RmspropHyper<T>&, index_t, T*, const T*, T*, T*, T*);
LOOM_OPTIM_INSTANTIATE(float)
LOOM_OPTIM_INSTANTIATE(double)
#undef LOOM_OPTIM_INSTANTIATE

#define LOOM_OPTIM_MASTER_INSTANTIATE(P)                                                       \
  template void sgd_step_master_cpu<P>(const SgdHyper<float>&, index_t, float*, P*, const P*,  \
                                       float*);                                                \
  template void adam_step_master_cpu<P>(const AdamHyper<float>&, index_t, float*, P*, const P*, \
                                        float*, float*, float*);                               \
  template void rmsprop_step_master_cpu<P>(const RmspropHyper<float>&, index_t, float*, P*,     \
                                           const P*, float*, float*, float*);
LOOM_OPTIM_MASTER_INSTANTIATE(bfloat16)
LOOM_OPTIM_MASTER_INSTANTIATE(float16)
#undef LOOM_OPTIM_MASTER_INSTANTIATE

}  // namespace loom::kernels
