// Row-major matrix products, the one place the BLAS conventions are handled.
//
//   C[M, N] = alpha * op(A) op(B) + beta * C
//   op(A) is A [M, K] (trans_a = false) or A^T with A stored [K, M];
//   op(B) is B [K, N] (trans_b = false) or B^T with B stored [N, K].
// lda, ldb, ldc are row strides (elements between consecutive rows).
//
// Size limit: CBLAS (Debian's OpenBLAS, 32-bit `blasint`) and cuBLAS take
// M, N, K, lda, ldb, ldc and the batch count as int. Every function below
// refuses a value above kMaxGemmSize with loom::Error (gemm_check_sizes) rather
// than let it wrap; strides between batched matrices are 64-bit and free.
#pragma once

#include "kernels/common.h"

namespace loom::kernels {

// The largest M, N, K, leading dimension or batch count a GEMM accepts: INT_MAX.
inline constexpr index_t kMaxGemmSize = 2147483647;

// Throws loom::Error("<who>: ... exceeds 2147483647 ...") unless every value
// is at most kMaxGemmSize. Sizes are checked before leading dimensions.
void gemm_check_sizes(const char* who, index_t M, index_t N, index_t K, index_t lda, index_t ldb,
                      index_t ldc, index_t batch = 1);

// CPU reference through CBLAS (OpenBLAS). T is float or double.
template <typename T>
void gemm_cpu(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
              const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc);

// Batched: `batch` independent products, matrices `stride_*` elements apart.
template <typename T>
void gemm_batched_cpu(bool trans_a, bool trans_b, index_t batch, index_t M, index_t N, index_t K,
                      T alpha, const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb,
                      index_t stride_b, T beta, T* C, index_t ldc, index_t stride_c);

#if defined(LOOM_WITH_CUDA)
// The same products on the current CUDA device through cuBLAS, on loom's stream
// (kernels/cuda/context.h). Device pointers. float32 TF32: gemm_precision.h.
template <typename T>
void gemm_cuda(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
               const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc);

template <typename T>
void gemm_batched_cuda(bool trans_a, bool trans_b, index_t batch, index_t M, index_t N, index_t K,
                       T alpha, const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb,
                       index_t stride_b, T beta, T* C, index_t ldc, index_t stride_c);
#endif

}  // namespace loom::kernels
