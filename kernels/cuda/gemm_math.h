// How a cuBLAS GEMM on T-typed matrices may use the tensor cores: the one
// place that decides it. kernels/cuda/gemm.cu calls use_gemm_math<T>() on the
// handle right before every cublas<t>gemm call; a new storage type (bf16,
// fp16 through cublasGemmEx) adds its case here.
//
//   float   CUBLAS_DEFAULT_MATH (full float32), or CUBLAS_TF32_TENSOR_OP_MATH
//           when float32_gemm_uses_tf32() (kernels/gemm_precision.h): TF32
//           tensor cores with float32 accumulation. Read at every call, so a
//           precision change applies to the next GEMM. This is how PyTorch
//           applies torch.backends.cuda.matmul.allow_tf32.
//   double  CUBLAS_DEFAULT_MATH, whatever the setting.
// For cublasGemmEx callers, gemm_compute_type<float>() gives the equivalent
// compute type (CUBLAS_COMPUTE_32F or CUBLAS_COMPUTE_32F_FAST_TF32).
// The math mode is handle state: loom's handles are per (device, stream), and
// one host thread queues work on a loom stream at a time (context.h), so the
// mode set here is the one the following GEMM on that handle runs with. The
// workspace and CUBLAS_ATOMICS_NOT_ALLOWED (context.cc) are untouched, so TF32
// GEMMs are as bit-reproducible run to run as float32 ones.
#pragma once

#include <cublas_v2.h>

#include <type_traits>

#include "kernels/cuda/context.h"
#include "kernels/gemm_precision.h"

namespace loom::kernels::cuda {

// The cuBLAS math mode a GEMM on T runs with now.
template <typename T>
cublasMath_t gemm_math_mode() {
  if constexpr (std::is_same_v<T, float>)
    return float32_gemm_uses_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  else
    return CUBLAS_DEFAULT_MATH;
}

// The cublasGemmEx compute type equivalent to gemm_math_mode<float>().
inline cublasComputeType_t float32_gemm_compute_type() {
  return float32_gemm_uses_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

// Sets `handle`'s math mode for a GEMM on T (call right before the GEMM).
// Throws loom::Error if cuBLAS refuses, or if LOOM_FLOAT32_MATMUL_PRECISION
// holds a bad value and no precision was set.
template <typename T>
void use_gemm_math(cublasHandle_t handle) {
  LOOM_CUBLAS_CHECK(cublasSetMathMode(handle, gemm_math_mode<T>()));
}

}  // namespace loom::kernels::cuda
