// cuBLAS-backed row-major GEMM (contract in kernels/gemm.h).
//
// cuBLAS is column-major. A row-major C[M,N] is a column-major C^T[N,M], and
// C^T = op(B)^T op(A)^T, so we ask cuBLAS for (B, A) with the sizes swapped.
// Every call first sets the handle's math mode (TF32 or not):
// kernels/cuda/gemm_math.h.
#include "kernels/cuda/context.h"
#include "kernels/cuda/gemm_math.h"
#include "kernels/gemm.h"

namespace loom::kernels {

namespace {
cublasOperation_t op(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

cublasStatus_t call(bool ta, bool tb, index_t M, index_t N, index_t K, const float* alpha,
                    const float* A, index_t lda, const float* B, index_t ldb, const float* beta,
                    float* C, index_t ldc) {
  return cublasSgemm(cuda::cublas(), op(tb), op(ta), N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
}
cublasStatus_t call(bool ta, bool tb, index_t M, index_t N, index_t K, const double* alpha,
                    const double* A, index_t lda, const double* B, index_t ldb,
                    const double* beta, double* C, index_t ldc) {
  return cublasDgemm(cuda::cublas(), op(tb), op(ta), N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
}
cublasStatus_t call_batched(bool ta, bool tb, index_t batch, index_t M, index_t N, index_t K,
                            const float* alpha, const float* A, index_t lda, index_t sa,
                            const float* B, index_t ldb, index_t sb, const float* beta, float* C,
                            index_t ldc, index_t sc) {
  return cublasSgemmStridedBatched(cuda::cublas(), op(tb), op(ta), N, M, K, alpha, B, ldb, sb, A,
                                   lda, sa, beta, C, ldc, sc, batch);
}
cublasStatus_t call_batched(bool ta, bool tb, index_t batch, index_t M, index_t N, index_t K,
                            const double* alpha, const double* A, index_t lda, index_t sa,
                            const double* B, index_t ldb, index_t sb, const double* beta,
                            double* C, index_t ldc, index_t sc) {
  return cublasDgemmStridedBatched(cuda::cublas(), op(tb), op(ta), N, M, K, alpha, B, ldb, sb, A,
                                   lda, sa, beta, C, ldc, sc, batch);
}

template <typename T>
__global__ void scale_kernel(index_t M, index_t N, T beta, T* C, index_t ldc) {  // C [M, ldc]
  LOOM_CUDA_KERNEL_LOOP(i, M * N) {
    T& c = C[(i / N) * ldc + i % N];
    c = beta == T(0) ? T(0) : beta * c;
  }
}
}  // namespace

template <typename T>
void gemm_cuda(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
               index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  gemm_check_sizes("gemm", M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    scale_kernel<<<cuda::blocks_for(M * N, 256), 256, 0, cuda::stream()>>>(M, N, beta, C, ldc);
    LOOM_CUDA_CHECK_LAUNCH();
    return;
  }
  cuda::use_gemm_math<T>(cuda::cublas());
  LOOM_CUBLAS_CHECK(call(trans_a, trans_b, M, N, K, &alpha, A, lda, B, ldb, &beta, C, ldc));
}

template <typename T>
void gemm_batched_cuda(bool trans_a, bool trans_b, index_t batch, index_t M, index_t N, index_t K,
                       T alpha, const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb,
                       index_t stride_b, T beta, T* C, index_t ldc, index_t stride_c) {
  gemm_check_sizes("gemm_batched", M, N, K, lda, ldb, ldc, batch);
  if (batch == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    for (index_t b = 0; b < batch; ++b) gemm_cuda<T>(trans_a, trans_b, M, N, 0, alpha, A, lda, B, ldb,
                                                     beta, C + b * stride_c, ldc);
    return;
  }
  cuda::use_gemm_math<T>(cuda::cublas());
  LOOM_CUBLAS_CHECK(call_batched(trans_a, trans_b, batch, M, N, K, &alpha, A, lda, stride_a, B, ldb,
                                 stride_b, &beta, C, ldc, stride_c));
}

template void gemm_cuda<float>(bool, bool, index_t, index_t, index_t, float, const float*, index_t,
                               const float*, index_t, float, float*, index_t);
template void gemm_cuda<double>(bool, bool, index_t, index_t, index_t, double, const double*,
                                index_t, const double*, index_t, double, double*, index_t);
template void gemm_batched_cuda<float>(bool, bool, index_t, index_t, index_t, index_t, float,
                                       const float*, index_t, index_t, const float*, index_t,
                                       index_t, float, float*, index_t, index_t);
template void gemm_batched_cuda<double>(bool, bool, index_t, index_t, index_t, index_t, double,
                                        const double*, index_t, index_t, const double*, index_t,
                                        index_t, double, double*, index_t, index_t);

}  // namespace loom::kernels
