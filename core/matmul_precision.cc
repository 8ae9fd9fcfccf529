// loom's float32 matmul precision by name (see matmul_precision.h).
#include "core/matmul_precision.h"

#include "kernels/gemm_precision.h"

namespace loom {

void set_float32_matmul_precision(std::string_view precision) {
  kernels::set_float32_matmul_precision(kernels::parse_float32_matmul_precision(
      precision, "set_float32_matmul_precision: precision"));
}

std::string get_float32_matmul_precision() {
  return kernels::precision_name(kernels::float32_matmul_precision());
}

void reset_float32_matmul_precision() { kernels::reset_float32_matmul_precision(); }

Float32MatmulPrecisionGuard::Float32MatmulPrecisionGuard(std::string_view precision)
    : previous_(get_float32_matmul_precision()) {
  set_float32_matmul_precision(precision);
}

Float32MatmulPrecisionGuard::~Float32MatmulPrecisionGuard() {
  kernels::set_float32_matmul_precision(
      kernels::parse_float32_matmul_precision(previous_, "previous precision"));
}

}  // namespace loom
