// cuBLAS GEMMs of bfloat16 / float16 operands with float32 compute (contract in
// kernels/gemm_half.h). Row-major through column-major cuBLAS as in gemm.cu:
// C^T = op(B)^T op(A)^T, so cuBLAS gets (B, A) with the sizes swapped.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "kernels/cuda/context.h"
#include "kernels/gemm_half.h"

namespace loom::kernels {

namespace {
cublasOperation_t op(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

template <typename T>
cudaDataType_t data_type() {
  return std::is_same_v<T, bfloat16> ? CUDA_R_16BF : CUDA_R_16F;
}

// C [M, N] (row stride ldc) = beta * C, computed in float32 and rounded once.
template <typename T>
__global__ void scale_half_kernel(index_t M, index_t N, float beta, T* C, index_t ldc) {
  LOOM_CUDA_KERNEL_LOOP(i, M * N) {
    T& c = C[(i / N) * ldc + i % N];
    c = beta == 0.0f ? T(0.0f) : T(beta * static_cast<float>(c));
  }
}
}  // namespace

template <typename T>
void gemm_half_cuda(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, float alpha,
                    const T* A, index_t lda, const T* B, index_t ldb, float beta, T* C, index_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    scale_half_kernel<<<cuda::blocks_for(M * N, 256), 256, 0, cuda::stream()>>>(M, N, beta, C, ldc);
    LOOM_CUDA_CHECK_LAUNCH();
    return;
  }
  const cudaDataType_t t = data_type<T>();
  LOOM_CUBLAS_CHECK(cublasGemmEx(cuda::cublas(), op(trans_b), op(trans_a), N, M, K, &alpha, B, t, ldb,
                                 A, t, lda, &beta, C, t, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

template <typename T>
void gemm_half_batched_cuda(bool trans_a, bool trans_b, index_t batch, index_t M, index_t N,
                            index_t K, float alpha, const T* A, index_t lda, index_t stride_a,
                            const T* B, index_t ldb, index_t stride_b, float beta, T* C, index_t ldc,
                            index_t stride_c) {
  if (batch == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    for (index_t b = 0; b < batch; ++b)
      gemm_half_cuda<T>(trans_a, trans_b, M, N, 0, alpha, A, lda, B, ldb, beta, C + b * stride_c, ldc);
    return;
  }
  const cudaDataType_t t = data_type<T>();
  LOOM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cuda::cublas(), op(trans_b), op(trans_a), N, M, K, &alpha, B, t, ldb, stride_b, A, t, lda,
      stride_a, &beta, C, t, ldc, stride_c, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

#define LOOM_GEMM_HALF(T)                                                                        \
  template void gemm_half_cuda<T>(bool, bool, index_t, index_t, index_t, float, const T*, index_t, \
                                  const T*, index_t, float, T*, index_t);                        \
  template void gemm_half_batched_cuda<T>(bool, bool, index_t, index_t, index_t, index_t, float,   \
                                          const T*, index_t, index_t, const T*, index_t, index_t,  \
                                          float, T*, index_t, index_t);
LOOM_GEMM_HALF(bfloat16)
LOOM_GEMM_HALF(float16)

}  // namespace loom::kernels
