// Fused CUDA optimizer updates: one launch per parameter tensor, one thread per
// element updating the parameter and all of its state; the math is shared
// with the CPU reference through kernels/optim.h.
#include "kernels/cuda/context.h"
#include "kernels/optim.h"

namespace loom::kernels {

namespace {
constexpr int kThreads = 256;

template <typename T>
__global__ void sgd_step_kernel(SgdHyper<T> h, index_t n,
                                T* param,               // [n]
                                const T* grad,          // [n]
                                T* momentum_buffer) {   // [n] or null
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    sgd_point(h, param[i], grad[i], momentum_buffer ? momentum_buffer + i : nullptr);
  }
}

template <typename T>
__global__ void adam_step_kernel(AdamHyper<T> h, index_t n,
                                 T* param,             // [n]
                                 const T* grad,        // [n]
                                 T* exp_avg,           // [n]
                                 T* exp_avg_sq,        // [n]
                                 T* max_exp_avg_sq) {  // [n] or null
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    adam_point(h, param[i], grad[i], exp_avg[i], exp_avg_sq[i],
               max_exp_avg_sq ? max_exp_avg_sq + i : nullptr);
  }
}

template <typename T>
__global__ void rmsprop_step_kernel(RmspropHyper<T> h, index_t n,
                                    T* param,              // [n]
                                    const T* grad,         // [n]
                                    T* square_avg,         // [n]
                                    T* grad_avg,           // [n] or null
                                    T* momentum_buffer) {  // [n] or null
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    rmsprop_point(h, param[i], grad[i], square_avg[i], grad_avg ? grad_avg + i : nullptr,
                  momentum_buffer ? momentum_buffer + i : nullptr);
  }
}
// The fp32-master variants: P = bfloat16 / float16 (the 16-bit model copy and
// its gradient); master and every state pointer are float.
template <typename P>
__global__ void sgd_step_master_kernel(SgdHyper<float> h, index_t n,
                                       float* master,            // [n]
                                       P* model,                 // [n]
                                       const P* grad,            // [n]
                                       float* momentum_buffer) { // [n] or null
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    sgd_master_point(h, master[i], model[i], grad[i],
                     momentum_buffer ? momentum_buffer + i : nullptr);
  }
}

template <typename P>
__global__ void adam_step_master_kernel(AdamHyper<float> h, index_t n,
                                        float* master,           // [n]
                                        P* model,                // [n]
                                        const P* grad,           // [n]
                                        float* exp_avg,          // [n]
                                        float* exp_avg_sq,       // [n]
                                        float* max_exp_avg_sq) { // [n] or null
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    adam_master_point(h, master[i], model[i], grad[i], exp_avg[i], exp_avg_sq[i],
                      max_exp_avg_sq ? max_exp_avg_sq + i : nullptr);
  }
}

template <typename P>
__global__ void rmsprop_step_master_kernel(RmspropHyper<float> h, index_t n,
                                           float* master,            // [n]
                                           P* model,                 // [n]
                                           const P* grad,            // [n]
                                           float* square_avg,        // [n]
                                           float* grad_avg,          // [n] or null
                                           float* momentum_buffer) { // [n] or null
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    rmsprop_master_point(h, master[i], model[i], grad[i], square_avg[i],
                         grad_avg ? grad_avg + i : nullptr,
                         momentum_buffer ? momentum_buffer + i : nullptr);
  }
}
}  // namespace

template <typename T>
void sgd_step_cuda(const SgdHyper<T>& h, index_t n, T* param, const T* grad, T* momentum_buffer) {
  if (n == 0) return;
  sgd_step_kernel<T><<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      h, n, param, grad, momentum_buffer);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename T>
void adam_step_cuda(const AdamHyper<T>& h, index_t n, T* param, const T* grad, T* exp_avg,
                    T* exp_avg_sq, T* max_exp_avg_sq) {
  if (n == 0) return;
  adam_step_kernel<T><<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      h, n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename T>
void rmsprop_step_cuda(const RmspropHyper<T>& h, index_t n, T* param, const T* grad,
                       T* square_avg, T* grad_avg, T* momentum_buffer) {
  if (n == 0) return;
  rmsprop_step_kernel<T><<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      h, n, param, grad, square_avg, grad_avg, momentum_buffer);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename P>
void sgd_step_master_cuda(const SgdHyper<float>& h, index_t n, float* master, P* model,
                          const P* grad, float* momentum_buffer) {
  if (n == 0) return;
  sgd_step_master_kernel<P><<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      h, n, master, model, grad, momentum_buffer);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename P>
void adam_step_master_cuda(const AdamHyper<float>& h, index_t n, float* master, P* model,
                           const P* grad, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq) {
  if (n == 0) return;
  adam_step_master_kernel<P><<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      h, n, master, model, grad, exp_avg, exp_avg_sq, max_exp_avg_sq);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename P>
void rmsprop_step_master_cuda(const RmspropHyper<float>& h, index_t n, float* master, P* model,
                              const P* grad, float* square_avg, float* grad_avg,
                              float* momentum_buffer) {
  if (n == 0) return;
  rmsprop_step_master_kernel<P><<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      h, n, master, model, grad, square_avg, grad_avg, momentum_buffer);
  LOOM_CUDA_CHECK_LAUNCH();
}

#define LOOM_OPTIM_INSTANTIATE(T)                                                          \
  template void sgd_step_cuda<T>(const SgdHyper<T>&, index_t, T*, const T*, T*);           \
  template void adam_step_cuda<T>(const AdamHyper<T>&, index_t, T*, const T*, T*, T*, T*); \
  template void rmsprop_step_cuda<T>(const RmspropHyper<T>&, index_t, T*, const T*, T*, T*, T*);
LOOM_OPTIM_INSTANTIATE(float)
LOOM_OPTIM_INSTANTIATE(double)
#undef LOOM_OPTIM_INSTANTIATE

#define LOOM_OPTIM_MASTER_INSTANTIATE(P)                                                        \
  template void sgd_step_master_cuda<P>(const SgdHyper<float>&, index_t, float*, P*, const P*,  \
                                        float*);                                                \
  template void adam_step_master_cuda<P>(const AdamHyper<float>&, index_t, float*, P*, const P*, \
                                         float*, float*, float*);                               \
  template void rmsprop_step_master_cuda<P>(const RmspropHyper<float>&, index_t, float*, P*,     \
                                            const P*, float*, float*, float*);
LOOM_OPTIM_MASTER_INSTANTIATE(bfloat16)
LOOM_OPTIM_MASTER_INSTANTIATE(float16)
#undef LOOM_OPTIM_MASTER_INSTANTIATE

}  // namespace loom::kernels
