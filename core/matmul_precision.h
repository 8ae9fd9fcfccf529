// torch.set_float32_matmul_precision for loom: whether float32 matrix
// products on CUDA may use TF32 tensor cores.
//
//   "highest"  full float32 products (the default: reproducible against the
//              CPU reference to float32 rounding).
//   "high"     TF32: every float32 cuBLAS GEMM (Linear, matmul, bmm, the
//              recurrent layers' input, recurrent and weight-gradient GEMMs)
//              rounds its factors to 10 explicit mantissa bits and
//              accumulates in float32. About 2^-11 relative error per product
//              (2^-10 if the hardware truncates) instead of 2^-24.
//   "medium"   accepted, as in PyTorch; loom has no bf16-internal float32
//              GEMM, so it computes exactly as "high".
// float64 is never affected, and neither is the CPU (OpenBLAS computes in full
// float32 whatever the setting). Deterministic mode still holds under "high":
// the cuBLAS handles keep a fixed workspace and CUBLAS_ATOMICS_NOT_ALLOWED, so
// a given configuration gives the same bits run to run (core/determinism.h).
// The environment variable LOOM_FLOAT32_MATMUL_PRECISION sets the starting
// value (unset or "": "highest"). The mechanism is kernels/gemm_precision.h.
#pragma once

#include <string>
#include <string_view>

namespace loom {

// Sets the precision of float32 matrix products for the whole process (every
// thread; the next GEMM sees it), overriding LOOM_FLOAT32_MATMUL_PRECISION.
// `precision` is "highest", "high" or "medium"; anything else throws
// loom::Error("set_float32_matmul_precision: precision must be highest, high
// or medium, got \"<value>\"") and changes nothing.
void set_float32_matmul_precision(std::string_view precision);

// The current precision's name: "highest", "high" or "medium" (what was set).
// Before any set_float32_matmul_precision() call it is
// LOOM_FLOAT32_MATMUL_PRECISION's value, or "highest" when unset; a bad value
// there throws loom::Error naming the variable and the value.
std::string get_float32_matmul_precision();

// Forgets any set_float32_matmul_precision() call: the next query reads
// LOOM_FLOAT32_MATMUL_PRECISION again. For tests and embedders.
void reset_float32_matmul_precision();

// Sets a precision for its lifetime and restores the previous one (the value
// in force at construction) when destroyed, also when unwinding.
class Float32MatmulPrecisionGuard {
 public:
  explicit Float32MatmulPrecisionGuard(std::string_view precision);
  ~Float32MatmulPrecisionGuard();
  Float32MatmulPrecisionGuard(const Float32MatmulPrecisionGuard&) = delete;
  Float32MatmulPrecisionGuard& operator=(const Float32MatmulPrecisionGuard&) = delete;

 private:
  std::string previous_;
};

}  // namespace loom
