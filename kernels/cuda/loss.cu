// CUDA NLL loss (contracts in kernels/loss.h). The forward is one block: fixed
// strided per-thread partials (loss sum, count, first bad sample) combined by
// CUB's block reduction, a fixed tree (deterministic, no atomics). The
// backward is one thread per element of grad_input.
#include <cub/block/block_reduce.cuh>

#include "kernels/cuda/context.h"
#include "kernels/loss.h"

namespace loom::kernels {

namespace {

constexpr int kForwardThreads = 256;
constexpr int kBackwardThreads = 256;

struct NllPartial {
  double total;
  double count;
  index_t bad;  // first sample with an out-of-range target; N when none
};

struct NllCombine {
  __device__ NllPartial operator()(const NllPartial& a, const NllPartial& b) const {
    return {a.total + b.total, a.count + b.count, a.bad < b.bad ? a.bad : b.bad};
  }
};

template <typename T>
__global__ void nll_loss_forward_kernel(LossReduction reduction, index_t N, index_t C,
                                        const T* input,         // [N, C]
                                        const index_t* target,  // [N]
                                        index_t ignore_index,
                                        T* out,                 // [N] (None) or [1]
                                        T* count,               // [1]
                                        index_t* bad) {         // [2]
  using Reduce = cub::BlockReduce<NllPartial, kForwardThreads>;
  __shared__ typename Reduce::TempStorage temp;
  NllPartial p{0, 0, N};
  for (index_t n = threadIdx.x; n < N; n += kForwardThreads) {
    index_t t = target[n];
    if (t != ignore_index && !nll_target_in_range(t, C) && n < p.bad) p.bad = n;
    T loss = nll_point(input + n * C, t, C, ignore_index);
    if (reduction == LossReduction::None) out[n] = loss;
    p.total += static_cast<double>(loss);
    if (t != ignore_index) p.count += 1;
  }
  NllPartial r = Reduce(temp).Reduce(p, NllCombine());
  if (threadIdx.x != 0) return;
  *count = static_cast<T>(r.count);
  if (reduction == LossReduction::Sum) out[0] = static_cast<T>(r.total);
  if (reduction == LossReduction::Mean) out[0] = static_cast<T>(r.total / r.count);
  bad[0] = r.bad < N ? r.bad : -1;
  bad[1] = r.bad < N ? target[r.bad] : 0;
}

template <typename T>
__global__ void nll_loss_backward_kernel(LossReduction reduction, index_t N, index_t C,
                                         const T* grad_out,      // [N] (None) or [1]
                                         const index_t* target,  // [N]
                                         index_t ignore_index,
                                         const T* count,         // [1]
                                         T* grad_input) {        // [N, C]
  T divisor = reduction == LossReduction::Mean ? *count : T(1);
  LOOM_CUDA_KERNEL_LOOP(i, N * C) {
    index_t n = i / C, c = i % C;
    T g = grad_out[reduction == LossReduction::None ? n : 0];
    grad_input[i] = nll_backward_point(c, target[n], ignore_index, g, divisor);
  }
}

}  // namespace

template <typename T>
void nll_loss_forward_cuda(LossReduction reduction, index_t N, index_t C, const T* input,
                           const index_t* target, index_t ignore_index, T* out, T* count,
                           index_t* bad) {
  nll_loss_forward_kernel<T><<<1, kForwardThreads, 0, cuda::stream()>>>(
      reduction, N, C, input, target, ignore_index, out, count, bad);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename T>
void nll_loss_backward_cuda(LossReduction reduction, index_t N, index_t C, const T* grad_out,
                            const index_t* target, index_t ignore_index, const T* count,
                            T* grad_input) {
  if (N * C == 0) return;
  nll_loss_backward_kernel<T>
      <<<cuda::blocks_for(N * C, kBackwardThreads), kBackwardThreads, 0, cuda::stream()>>>(
          reduction, N, C, grad_out, target, ignore_index, count, grad_input);
  LOOM_CUDA_CHECK_LAUNCH();
}

template void nll_loss_forward_cuda<float>(LossReduction, index_t, index_t, const float*,
                                           const index_t*, index_t, float*, float*, index_t*);
template void nll_loss_forward_cuda<double>(LossReduction, index_t, index_t, const double*,
                                            const index_t*, index_t, double*, double*, index_t*);
template void nll_loss_backward_cuda<float>(LossReduction, index_t, index_t, const float*,
                                            const index_t*, index_t, const float*, float*);
template void nll_loss_backward_cuda<double>(LossReduction, index_t, index_t, const double*,
                                             const index_t*, index_t, const double*, double*);

}  // namespace loom::kernels
