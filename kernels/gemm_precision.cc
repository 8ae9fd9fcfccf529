// The process-wide float32 GEMM precision (see gemm_precision.h).
#include "kernels/gemm_precision.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"

namespace loom::kernels {

namespace {
// -1: not decided yet (read the environment at the next query); otherwise a
// Float32MatmulPrecision value.
std::atomic<int> g_state{-1};
constexpr const char* kEnv = "LOOM_FLOAT32_MATMUL_PRECISION";
}  // namespace

const char* precision_name(Float32MatmulPrecision p) {
  switch (p) {
    case Float32MatmulPrecision::kHighest: return "highest";
    case Float32MatmulPrecision::kHigh: return "high";
    case Float32MatmulPrecision::kMedium: return "medium";
  }
  return "highest";
}

Float32MatmulPrecision parse_float32_matmul_precision(std::string_view name,
                                                      std::string_view what) {
  if (name == "highest") return Float32MatmulPrecision::kHighest;
  if (name == "high") return Float32MatmulPrecision::kHigh;
  if (name == "medium") return Float32MatmulPrecision::kMedium;
  fail("{} must be highest, high or medium, got \"{}\"", what, name);
}

Float32MatmulPrecision float32_matmul_precision_from_environment() {
  const char* raw = std::getenv(kEnv);
  if (raw == nullptr || *raw == '\0') return Float32MatmulPrecision::kHighest;
  const std::string_view value(raw);
  if (value == "highest") return Float32MatmulPrecision::kHighest;
  if (value == "high") return Float32MatmulPrecision::kHigh;
  if (value == "medium") return Float32MatmulPrecision::kMedium;
  fail("{} must be highest, high or medium (or unset), got \"{}\"", kEnv, value);
}

void set_float32_matmul_precision(Float32MatmulPrecision p) {
  g_state.store(static_cast<int>(p));
}

Float32MatmulPrecision float32_matmul_precision() {
  int state = g_state.load();
  if (state >= 0) return static_cast<Float32MatmulPrecision>(state);
  const int from_env = static_cast<int>(float32_matmul_precision_from_environment());
  // A concurrent setter call wins over the environment.
  int expected = -1;
  if (g_state.compare_exchange_strong(expected, from_env))
    return static_cast<Float32MatmulPrecision>(from_env);
  return static_cast<Float32MatmulPrecision>(expected);
}

void reset_float32_matmul_precision() { g_state.store(-1); }

bool float32_gemm_uses_tf32() {
  return float32_matmul_precision() != Float32MatmulPrecision::kHighest;
}

}  // namespace loom::kernels
