// set_float32_matmul_precision / get_float32_matmul_precision
// (core/matmul_precision.h): names, errors, LOOM_FLOAT32_MATMUL_PRECISION,
// the guard, and that the CPU ignores the setting. The CUDA effects (TF32
// engaged, error bounds, determinism) are in matmul_precision_cuda_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "autograd/functions.h"
#include "core/matmul_precision.h"
#include "kernels/gemm_precision.h"
#include "testing.h"

namespace loom {
namespace {

constexpr const char* kEnv = "LOOM_FLOAT32_MATMUL_PRECISION";

// Restores LOOM_FLOAT32_MATMUL_PRECISION and forgets any setter call when a
// test ends (the next query reads the environment, as at start-up).
class EnvironmentGuard {
 public:
  EnvironmentGuard() {
    if (const char* v = std::getenv(kEnv)) saved_ = v;
  }
  ~EnvironmentGuard() {
    if (saved_) setenv(kEnv, saved_->c_str(), 1);
    else unsetenv(kEnv);
    reset_float32_matmul_precision();
  }

 private:
  std::optional<std::string> saved_;
};

TEST(MatmulPrecision, DefaultIsHighestAndSetterRoundTrips) {
  EnvironmentGuard env;
  unsetenv(kEnv);
  reset_float32_matmul_precision();
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
  EXPECT_FALSE(kernels::float32_gemm_uses_tf32());
  set_float32_matmul_precision("high");
  EXPECT_EQ(get_float32_matmul_precision(), "high");
  EXPECT_TRUE(kernels::float32_gemm_uses_tf32());
  // "medium" is kept as set (as PyTorch reports it) and computes as "high".
  set_float32_matmul_precision("medium");
  EXPECT_EQ(get_float32_matmul_precision(), "medium");
  EXPECT_TRUE(kernels::float32_gemm_uses_tf32());
  set_float32_matmul_precision("highest");
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
  EXPECT_FALSE(kernels::float32_gemm_uses_tf32());
}

TEST(MatmulPrecision, BadNamesAreRefusedAndChangeNothing) {
  EnvironmentGuard env;
  set_float32_matmul_precision("high");
  for (const char* bad : {"", "High", "HIGHEST", " high", "high ", "tf32", "fp32", "low"}) {
    EXPECT_ERROR_TEXT(set_float32_matmul_precision(bad),
                      fmt::format("set_float32_matmul_precision: precision must be highest, high "
                                  "or medium, got \"{}\"",
                                  bad));
    EXPECT_EQ(get_float32_matmul_precision(), "high") << bad;
  }
}

TEST(MatmulPrecision, EnvironmentSetsTheStartingValue) {
  EnvironmentGuard env;
  const std::pair<const char*, const char*> cases[] = {
      {"", "highest"}, {"highest", "highest"}, {"high", "high"}, {"medium", "medium"}};
  for (auto [value, expected] : cases) {
    setenv(kEnv, value, 1);
    reset_float32_matmul_precision();
    EXPECT_EQ(get_float32_matmul_precision(), expected) << "LOOM_FLOAT32_MATMUL_PRECISION=" << value;
  }
  unsetenv(kEnv);
  reset_float32_matmul_precision();
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
  // The value is read once and kept: a later change of the variable is not seen.
  setenv(kEnv, "high", 1);
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
  // A setter call overrides the environment.
  reset_float32_matmul_precision();
  set_float32_matmul_precision("highest");
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
}

TEST(MatmulPrecision, BadEnvironmentValueIsAnErrorUntilSet) {
  EnvironmentGuard env;
  for (const char* bad : {"1", "true", "HIGH", " high", "tf32"}) {
    setenv(kEnv, bad, 1);
    reset_float32_matmul_precision();
    const std::string text = fmt::format(
        "LOOM_FLOAT32_MATMUL_PRECISION must be highest, high or medium (or unset), got \"{}\"", bad);
    EXPECT_ERROR_TEXT(get_float32_matmul_precision(), text);
    EXPECT_ERROR_TEXT(get_float32_matmul_precision(), text);  // every call, not just the first
    EXPECT_ERROR_TEXT(kernels::float32_gemm_uses_tf32(), text);  // what a CUDA GEMM would ask
  }
  set_float32_matmul_precision("high");  // a setter call wins over the bad value
  EXPECT_EQ(get_float32_matmul_precision(), "high");
}

TEST(MatmulPrecision, GuardRestoresThePreviousValue) {
  EnvironmentGuard env;
  set_float32_matmul_precision("medium");
  {
    Float32MatmulPrecisionGuard guard("high");
    EXPECT_EQ(get_float32_matmul_precision(), "high");
    {
      Float32MatmulPrecisionGuard inner("highest");
      EXPECT_EQ(get_float32_matmul_precision(), "highest");
    }
    EXPECT_EQ(get_float32_matmul_precision(), "high");
  }
  EXPECT_EQ(get_float32_matmul_precision(), "medium");
  // Restored when unwinding too; a bad name throws before changing anything.
  try {
    Float32MatmulPrecisionGuard guard("high");
    throw Error("unwind");
  } catch (const Error&) {
  }
  EXPECT_EQ(get_float32_matmul_precision(), "medium");
  EXPECT_THROW(Float32MatmulPrecisionGuard bad("fast"), Error);
  EXPECT_EQ(get_float32_matmul_precision(), "medium");
}

// OpenBLAS computes in full float32 whatever the setting: the CPU product is
// the same bits under "high" as under "highest".
TEST(MatmulPrecision, CpuProductsIgnoreTheSetting) {
  EnvironmentGuard env;
  Tensor a = testing::random_tensor({37, 129}, 1, kFloat32);
  Tensor b = testing::random_tensor({129, 23}, 2, kFloat32);
  set_float32_matmul_precision("highest");
  const std::vector<float> full = matmul(a, b).to_vector<float>();
  set_float32_matmul_precision("high");
  const std::vector<float> tf32 = matmul(a, b).to_vector<float>();
  ASSERT_EQ(full.size(), tf32.size());
  EXPECT_EQ(0, std::memcmp(full.data(), tf32.data(), full.size() * sizeof(float)));
}

}  // namespace
}  // namespace loom
