// How float32 matrix products are computed on CUDA: the one setting every
// cuBLAS call of kernels/cuda consults (public string API:
// core/matmul_precision.h). float64 products and every CPU product ignore it.
//
//   kHighest  full float32 products (cuBLAS CUBLAS_COMPUTE_32F): the default.
//   kHigh     TF32 tensor cores (CUBLAS_COMPUTE_32F_FAST_TF32): each factor is
//             rounded to 10 explicit mantissa bits, products are accumulated
//             in float32.
//   kMedium   PyTorch's "medium" may use bf16 internally; loom has no such
//             path, so it computes exactly as kHigh (PyTorch does the same
//             where no bf16 path exists). It is kept distinct so that
//             get_float32_matmul_precision() returns what was set.
//
// The setting is process-wide and read at every GEMM, so a change applies to
// the next GEMM queued by any thread. CUDA graphs captured by the recurrent
// layers are keyed on it (kernels/cuda/rnn.cu), so a graph made under one
// setting is never replayed under another.
#pragma once

#include <string_view>

namespace loom::kernels {

enum class Float32MatmulPrecision { kHighest, kHigh, kMedium };

// PyTorch's name of `p`: "highest", "high" or "medium".
const char* precision_name(Float32MatmulPrecision p);

// The precision named `name` ("highest", "high", "medium"); anything else
// (other case, spaces, "") throws loom::Error naming `what` and the value.
Float32MatmulPrecision parse_float32_matmul_precision(std::string_view name,
                                                      std::string_view what);

// Sets the precision for the whole process, overriding
// LOOM_FLOAT32_MATMUL_PRECISION.
void set_float32_matmul_precision(Float32MatmulPrecision p);

// The current precision. Until set_float32_matmul_precision() is called, the
// first call reads the environment (float32_matmul_precision_from_environment)
// and keeps the answer; a bad value throws loom::Error on this and every
// later call until a setter call.
Float32MatmulPrecision float32_matmul_precision();

// Forgets any setter call: the next query reads the environment again. For
// tests and embedders.
void reset_float32_matmul_precision();

// What LOOM_FLOAT32_MATMUL_PRECISION asks for, read now: unset or "" mean
// kHighest; "highest", "high", "medium" as above; anything else throws
// loom::Error("LOOM_FLOAT32_MATMUL_PRECISION must be highest, high or medium
// (or unset), got \"<value>\"").
Float32MatmulPrecision float32_matmul_precision_from_environment();

// True when float32 GEMMs may use TF32 now (kHigh or kMedium).
bool float32_gemm_uses_tf32();

}  // namespace loom::kernels
