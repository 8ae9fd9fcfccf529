// CUDA recurrent layer (contract in kernels/rnn.h): the algorithm of
// kernels/rnn_algorithm.h with cuBLAS GEMMs and one thread per (n, j) element
// in the fused step kernels. Everything runs in order on cuda::stream() (the
// calling thread's current loom stream, main or side), with no host
// synchronisation and no allocation.
#include "kernels/cuda/context.h"
#include "kernels/gemm.h"
#include "kernels/rnn.h"
#include "kernels/rnn_algorithm.h"

namespace loom::kernels {

namespace {
constexpr int kThreads = 256;

template <typename T>
__global__ void rnn_step_forward_kernel(rnn_detail::RnnStepForward<T> s) {
  LOOM_CUDA_KERNEL_LOOP(i, s.rows * s.H) {
    rnn_detail::rnn_step_forward_point(s, i / s.H, i % s.H);
  }
}

template <typename T>
__global__ void rnn_step_backward_kernel(rnn_detail::RnnStepBackward<T> s) {
  LOOM_CUDA_KERNEL_LOOP(i, s.rows * s.H) {
    rnn_detail::rnn_step_backward_point(s, i / s.H, i % s.H);
  }
}

template <typename T>
__global__ void add_kernel(T* dst, const T* a, const T* b, index_t n) {  // b may be null
  LOOM_CUDA_KERNEL_LOOP(i, n) { dst[i] = a[i] + (b ? b[i] : T(0)); }
}

// out[c] = sum over rows of m[r, c], in a fixed order: lane y of a 32 x 16
// block adds rows y, y + 16, ... in turn, then lane 0 adds the 16 partial sums
// in order. No atomics, so the result is the same bits on every run.
constexpr int kSumCols = 32, kSumLanes = 16;

template <typename T>
__global__ void column_sum_kernel(const T* m, index_t rows, index_t cols, T* out) {
  __shared__ T partial[kSumLanes][kSumCols + 1];
  const index_t col = static_cast<index_t>(blockIdx.x) * kSumCols + threadIdx.x;
  T acc = T(0);
  if (col < cols)
    for (index_t r = threadIdx.y; r < rows; r += kSumLanes) acc += m[r * cols + col];
  partial[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    T sum = T(0);
    for (int k = 0; k < kSumLanes; ++k) sum += partial[k][threadIdx.x];
    out[col] = sum;
  }
}

template <typename T>
struct CudaOps {
  void gemm(bool ta, bool tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
            const T* B, index_t ldb, T beta, T* C, index_t ldc) {
    gemm_cuda<T>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  void copy(T* dst, const T* src, index_t n) {
    LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(T) * n, cudaMemcpyDeviceToDevice,
                                    cuda::stream()));
  }
  void zero(T* dst, index_t n) {  // all-zero bits are 0.0 for float and double
    LOOM_CUDA_CHECK(cudaMemsetAsync(dst, 0, sizeof(T) * n, cuda::stream()));
  }
  void add(T* dst, const T* a, const T* b, index_t n) {
    add_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(dst, a, b, n);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void step_forward(const rnn_detail::RnnStepForward<T>& s) {
    rnn_step_forward_kernel<<<cuda::blocks_for(s.rows * s.H, kThreads), kThreads, 0,
                              cuda::stream()>>>(s);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void step_backward(const rnn_detail::RnnStepBackward<T>& s) {
    rnn_step_backward_kernel<<<cuda::blocks_for(s.rows * s.H, kThreads), kThreads, 0,
                               cuda::stream()>>>(s);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void column_sum(const T* m, index_t rows, index_t cols, T* out) {
    const unsigned blocks = static_cast<unsigned>((cols + kSumCols - 1) / kSumCols);
    column_sum_kernel<<<blocks, dim3(kSumCols, kSumLanes), 0, cuda::stream()>>>(m, rows, cols, out);
    LOOM_CUDA_CHECK_LAUNCH();
  }
};
}  // namespace

template <typename T>
void rnn_layer_forward_cuda(const RnnLayerShape& shape, const RnnForwardArgs<T>& args) {
  rnn_check_forward(shape, args);
  CudaOps<T> ops;
  rnn_detail::rnn_forward(shape, args, ops);
}

template <typename T>
void rnn_layer_backward_cuda(const RnnLayerShape& shape, const RnnBackwardArgs<T>& args) {
  rnn_check_backward(shape, args);
  CudaOps<T> ops;
  rnn_detail::rnn_backward(shape, args, ops);
}

template void rnn_layer_forward_cuda<float>(const RnnLayerShape&, const RnnForwardArgs<float>&);
template void rnn_layer_forward_cuda<double>(const RnnLayerShape&, const RnnForwardArgs<double>&);
template void rnn_layer_backward_cuda<float>(const RnnLayerShape&, const RnnBackwardArgs<float>&);
template void rnn_layer_backward_cuda<double>(const RnnLayerShape&, const RnnBackwardArgs<double>&);

}  // namespace loom::kernels
