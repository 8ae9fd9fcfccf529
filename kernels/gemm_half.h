// Row-major matrix products of 16-bit operands on tensor cores (CUDA only),
// with the conventions of kernels/gemm.h:
//
//   C[M, N] = alpha * op(A) op(B) + beta * C
//
// T is loom::bfloat16 or loom::float16 for A, B and C alike; the products and
// sums run in float32 (CUBLAS_COMPUTE_32F through cublasGemmEx /
// cublasGemmStridedBatchedEx with CUDA_R_16BF / CUDA_R_16F operands) and C is
// rounded once. alpha and beta are float32. On the CPU, loom::native converts
// the operands to float32 and calls gemm_cpu<float> instead (the same math).
#pragma once

#include "kernels/common.h"
#include "kernels/half.h"

namespace loom::kernels {

#if defined(LOOM_WITH_CUDA)
template <typename T>
void gemm_half_cuda(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, float alpha,
                    const T* A, index_t lda, const T* B, index_t ldb, float beta, T* C, index_t ldc);

// Batched: `batch` independent products, matrices `stride_*` elements apart.
template <typename T>
void gemm_half_batched_cuda(bool trans_a, bool trans_b, index_t batch, index_t M, index_t N,
                            index_t K, float alpha, const T* A, index_t lda, index_t stride_a,
                            const T* B, index_t ldb, index_t stride_b, float beta, T* C, index_t ldc,
                            index_t stride_c);
#endif

}  // namespace loom::kernels
