// CUDA softmax / log-softmax (contracts in kernels/softmax.h). Two shapes of
// work, both in a fixed order (deterministic, no atomics):
//   inner == 1: one block per row of D contiguous elements; fixed strided
//               per-thread partials combined by CUB's block reduction;
//   inner  > 1: one thread per column (o, i), walking D sequentially; adjacent
//               threads read adjacent addresses.
#include <cub/block/block_reduce.cuh>

#include <cmath>

#include "kernels/cuda/context.h"
#include "kernels/softmax.h"

namespace loom::kernels {

namespace {

constexpr int kColumnThreads = 256;

// softmax_nan_max as the functor CUB's block reduction takes.
struct NanMax {
  __device__ double operator()(double a, double b) const { return softmax_nan_max(a, b); }
};

template <typename T, int Threads>
__global__ void softmax_forward_rows_kernel(bool log_softmax, index_t outer, index_t D,
                                            const T* x,  // [outer, D]
                                            T* y) {      // [outer, D]
  using Reduce = cub::BlockReduce<double, Threads>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ double row_max, row_sum;
  for (index_t r = blockIdx.x; r < outer; r += gridDim.x) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    double m = -INFINITY;
    for (index_t d = threadIdx.x; d < D; d += Threads) m = NanMax()(m, static_cast<double>(xr[d]));
    m = Reduce(temp).Reduce(m, NanMax());
    if (threadIdx.x == 0) row_max = m;
    __syncthreads();
    m = row_max;
    double s = 0;
    for (index_t d = threadIdx.x; d < D; d += Threads) s += exp(static_cast<double>(xr[d]) - m);
    s = Reduce(temp).Sum(s);
    if (threadIdx.x == 0) row_sum = s;
    __syncthreads();
    s = row_sum;
    for (index_t d = threadIdx.x; d < D; d += Threads) yr[d] = softmax_point(xr[d], m, s, log_softmax);
    __syncthreads();  // row_max/row_sum/temp are reused by the next row
  }
}

template <typename T, int Threads>
__global__ void softmax_backward_rows_kernel(bool log_softmax, index_t outer, index_t D,
                                             const T* g,  // [outer, D]
                                             const T* y,  // [outer, D]
                                             T* dx) {     // [outer, D]
  using Reduce = cub::BlockReduce<double, Threads>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ double row_sum;
  for (index_t r = blockIdx.x; r < outer; r += gridDim.x) {
    const T* gr = g + r * D;
    const T* yr = y + r * D;
    double s = 0;
    for (index_t d = threadIdx.x; d < D; d += Threads)
      s += softmax_backward_term(gr[d], yr[d], log_softmax);
    s = Reduce(temp).Sum(s);
    if (threadIdx.x == 0) row_sum = s;
    __syncthreads();
    s = row_sum;
    for (index_t d = threadIdx.x; d < D; d += Threads)
      dx[r * D + d] = softmax_backward_point(gr[d], yr[d], s, log_softmax);
    __syncthreads();
  }
}

template <typename T>
__global__ void softmax_forward_columns_kernel(bool log_softmax, index_t outer, index_t D,
                                               index_t inner,
                                               const T* x,  // [outer, D, inner]
                                               T* y) {      // [outer, D, inner]
  LOOM_CUDA_KERNEL_LOOP(c, outer * inner) {
    const index_t base = (c / inner) * D * inner + c % inner;
    softmax_forward_column(log_softmax, D, inner, x + base, y + base);
  }
}

template <typename T>
__global__ void softmax_backward_columns_kernel(bool log_softmax, index_t outer, index_t D,
                                                index_t inner,
                                                const T* g,  // [outer, D, inner]
                                                const T* y,  // [outer, D, inner]
                                                T* dx) {     // [outer, D, inner]
  LOOM_CUDA_KERNEL_LOOP(c, outer * inner) {
    const index_t base = (c / inner) * D * inner + c % inner;
    softmax_backward_column(log_softmax, D, inner, g + base, y + base, dx + base);
  }
}

// Rows get at most this many blocks; each block loops over its rows.
unsigned row_blocks(index_t outer) {
  return static_cast<unsigned>(outer < 65535LL * 32 ? outer : 65535LL * 32);
}

}  // namespace

template <typename T>
void softmax_forward_cuda(bool log_softmax, index_t outer, index_t D, index_t inner, const T* x,
                          T* y) {
  if (outer == 0 || D == 0 || inner == 0) return;
  if (inner == 1) {
    // Short rows (a few classes) waste fewer idle threads with a smaller block.
    if (D <= 64)
      softmax_forward_rows_kernel<T, 32>
          <<<row_blocks(outer), 32, 0, cuda::stream()>>>(log_softmax, outer, D, x, y);
    else
      softmax_forward_rows_kernel<T, 256>
          <<<row_blocks(outer), 256, 0, cuda::stream()>>>(log_softmax, outer, D, x, y);
  } else {
    softmax_forward_columns_kernel<T>
        <<<cuda::blocks_for(outer * inner, kColumnThreads), kColumnThreads, 0, cuda::stream()>>>(
            log_softmax, outer, D, inner, x, y);
  }
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename T>
void softmax_backward_cuda(bool log_softmax, index_t outer, index_t D, index_t inner, const T* g,
                           const T* y, T* dx) {
  if (outer == 0 || D == 0 || inner == 0) return;
  if (inner == 1) {
    if (D <= 64)
      softmax_backward_rows_kernel<T, 32>
          <<<row_blocks(outer), 32, 0, cuda::stream()>>>(log_softmax, outer, D, g, y, dx);
    else
      softmax_backward_rows_kernel<T, 256>
          <<<row_blocks(outer), 256, 0, cuda::stream()>>>(log_softmax, outer, D, g, y, dx);
  } else {
    softmax_backward_columns_kernel<T>
        <<<cuda::blocks_for(outer * inner, kColumnThreads), kColumnThreads, 0, cuda::stream()>>>(
            log_softmax, outer, D, inner, g, y, dx);
  }
  LOOM_CUDA_CHECK_LAUNCH();
}

template void softmax_forward_cuda<float>(bool, index_t, index_t, index_t, const float*, float*);
template void softmax_forward_cuda<double>(bool, index_t, index_t, index_t, const double*,
                                           double*);
template void softmax_backward_cuda<float>(bool, index_t, index_t, index_t, const float*,
                                           const float*, float*);
template void softmax_backward_cuda<double>(bool, index_t, index_t, index_t, const double*,
                                            const double*, double*);

}  // namespace loom::kernels
