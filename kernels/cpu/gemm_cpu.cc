// CBLAS-backed row-major GEMM (see kernels/gemm.h for the contract).
#include <cblas.h>

#include "kernels/gemm.h"

namespace loom::kernels {

namespace {
CBLAS_TRANSPOSE op(bool t) { return t ? CblasTrans : CblasNoTrans; }

void blas(bool ta, bool tb, index_t M, index_t N, index_t K, float alpha, const float* A,
          index_t lda, const float* B, index_t ldb, float beta, float* C, index_t ldc) {
  cblas_sgemm(CblasRowMajor, op(ta), op(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void blas(bool ta, bool tb, index_t M, index_t N, index_t K, double alpha, const double* A,
          index_t lda, const double* B, index_t ldb, double beta, double* C, index_t ldc) {
  cblas_dgemm(CblasRowMajor, op(ta), op(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
}  // namespace

template <typename T>
void gemm_cpu(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
              index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  gemm_check_sizes("gemm", M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS may skip the beta scaling when K == 0; do it ourselves.
    for (index_t i = 0; i < M; ++i)
      for (index_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    return;
  }
  blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <typename T>
void gemm_batched_cpu(bool trans_a, bool trans_b, index_t batch, index_t M, index_t N, index_t K,
                      T alpha, const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb,
                      index_t stride_b, T beta, T* C, index_t ldc, index_t stride_c) {
  gemm_check_sizes("gemm_batched", M, N, K, lda, ldb, ldc);  // batch: a host loop here
  for (index_t b = 0; b < batch; ++b)
    gemm_cpu(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
             C + b * stride_c, ldc);
}

template void gemm_cpu<float>(bool, bool, index_t, index_t, index_t, float, const float*, index_t,
                              const float*, index_t, float, float*, index_t);
template void gemm_cpu<double>(bool, bool, index_t, index_t, index_t, double, const double*,
                               index_t, const double*, index_t, double, double*, index_t);
template void gemm_batched_cpu<float>(bool, bool, index_t, index_t, index_t, index_t, float,
                                      const float*, index_t, index_t, const float*, index_t,
                                      index_t, float, float*, index_t, index_t);
template void gemm_batched_cpu<double>(bool, bool, index_t, index_t, index_t, index_t, double,
                                       const double*, index_t, index_t, const double*, index_t,
                                       index_t, double, double*, index_t, index_t);

}  // namespace loom::kernels
