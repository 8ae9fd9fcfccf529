// CUDA against the CPU for int32 and uint8 tensors: casts both ways,
// arithmetic, comparisons, where, clamp, sum, max/min, cumsum and printing.
// Integer results must agree exactly. Skipped without a GPU.
#include <cstdint>
#include <limits>
#include <vector>

#include "autograd/functions.h"
#include "autograd/statistics_ops.h"
#include "core/native.h"
#include "testing.h"

namespace loom {
namespace {

class IntDtypesCuda : public ::testing::Test {
 protected:
  void SetUp() override { LOOM_SKIP_WITHOUT_CUDA(); }
};

// n values in [-1000.75, 1000.75] from a fixed recipe, NaN and huge ones included.
std::vector<double> mixed_values(std::int64_t n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = ((i * 7919) % 2003 - 1001) * 1.0 + 0.25 * (i % 4);
  v[1] = 1e300;
  v[2] = -3e9;
  v[3] = std::numeric_limits<double>::quiet_NaN();
  return v;
}

std::vector<std::int64_t> ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }

TEST_F(IntDtypesCuda, CastsMatchCpu) {
  const std::int64_t n = 3001;
  Tensor f64 = tensor(mixed_values(n), {n}, TensorOptions(kFloat64));
  for (DType from : {kFloat64, kFloat32, kFloat16, kBFloat16, kInt64}) {
    Tensor x = to(f64, from);
    for (DType t : {kInt32, kUInt8, kInt64, kBool}) {
      Tensor cpu = to(x, t), gpu = to(to(x, kCUDA), t);
      EXPECT_EQ(gpu.dtype(), t);
      EXPECT_EQ(ints(gpu), ints(cpu)) << dtype_name(from) << " -> " << dtype_name(t);
    }
  }
  // and back to floating
  Tensor i32 = to(f64, kInt32), u8 = to(f64, kUInt8);
  for (DType t : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64}) {
    EXPECT_EQ(to(to(i32, kCUDA), t).to_vector<double>(), to(i32, t).to_vector<double>());
    EXPECT_EQ(to(to(u8, kCUDA), t).to_vector<double>(), to(u8, t).to_vector<double>());
  }
}

TEST_F(IntDtypesCuda, ArithmeticComparisonsAndReductionsMatchCpu) {
  const std::int64_t rows = 37, cols = 300;
  Tensor f64 = tensor(mixed_values(rows * cols), {rows, cols}, TensorOptions(kFloat64));
  for (DType t : {kInt32, kUInt8}) {
    Tensor a = to(f64, t), b = to(a.transpose(0, 1).contiguous().reshape({rows, cols}) + 3, t);
    Tensor ga = to(a, kCUDA), gb = to(b, kCUDA);
    const char* name = dtype_name(t).data();
    EXPECT_EQ(ints(ga + gb), ints(a + b)) << name;
    EXPECT_EQ(ints(ga - gb), ints(a - b)) << name;
    EXPECT_EQ(ints(ga * gb), ints(a * b)) << name;
    EXPECT_EQ(ints(ga * 7), ints(a * 7)) << name;
    EXPECT_EQ((ga / 3).to_vector<double>(), (a / 3).to_vector<double>()) << name;
    EXPECT_EQ(ints(-ga), ints(-a)) << name;
    EXPECT_EQ(ints(abs(ga)), ints(abs(a))) << name;
    EXPECT_EQ(ints(sign(ga)), ints(sign(a))) << name;
    EXPECT_EQ(ints(clamp(ga, -5, 100)), ints(clamp(a, -5, 100))) << name;
    EXPECT_EQ((ga < gb).to_vector<bool>(), (a < b).to_vector<bool>()) << name;
    EXPECT_EQ((ga == 7).to_vector<bool>(), (a == 7).to_vector<bool>()) << name;
    EXPECT_EQ(ints(where(ga > gb, ga, gb)), ints(where(a > b, a, b))) << name;
    for (std::int64_t d : {0, 1}) {
      EXPECT_EQ(ints(ga.sum(d)), ints(a.sum(d))) << name << " sum " << d;
      EXPECT_EQ(ints(cumsum(ga, d)), ints(cumsum(a, d))) << name << " cumsum " << d;
      auto [gv, gi] = ga.max(d);
      auto [cv, ci] = a.max(d);
      EXPECT_EQ(ints(gv), ints(cv)) << name;
      EXPECT_EQ(ints(gi), ints(ci)) << name;
      auto [gnv, gni] = min(ga, d);
      auto [cnv, cni] = min(a, d);
      EXPECT_EQ(ints(gnv), ints(cnv)) << name;
      EXPECT_EQ(ints(gni), ints(cni)) << name;
    }
    EXPECT_EQ(ga.sum().item<std::int64_t>(), a.sum().item<std::int64_t>()) << name;
    EXPECT_EQ(ints(native::full({5}, -3, TensorOptions(t).device(kCUDA))),
              ints(native::full({5}, -3, TensorOptions(t)))) << name;
    EXPECT_EQ(ints(native::arange(0, 300, 7, TensorOptions(t).device(kCUDA))),
              ints(native::arange(0, 300, 7, TensorOptions(t)))) << name;
  }
}

TEST_F(IntDtypesCuda, PrintsWithDevice) {
  // str(torch.tensor([1, -2], dtype=torch.int32, device='cuda'))
  EXPECT_EQ(tensor({1, -2}, TensorOptions(kInt32).device(kCUDA)).str(),
            "tensor([ 1, -2], device='cuda:0', dtype=torch.int32)");
}

}  // namespace
}  // namespace loom
