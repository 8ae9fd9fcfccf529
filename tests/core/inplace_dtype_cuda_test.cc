// CUDA against the CPU for the in-place ops, the random fills, int64 and bool
// arithmetic, reductions and comparisons. Skipped without a GPU.
#include <cstdint>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/native.h"
#include "../autograd/op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;

class InplaceDtypeCuda : public ::testing::Test {
 protected:
  void SetUp() override { LOOM_SKIP_WITHOUT_CUDA(); }
};

// n int64 values spanning beyond 2^53, from a fixed recipe.
std::vector<std::int64_t> big_ints(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = ((i * 7919) % 1013 - 500) * ((std::int64_t{1} << 50) + 3) + i;
  return v;
}

TEST_F(InplaceDtypeCuda, RandomFillsMatchCpu) {
  for (DType t : {kFloat32, kFloat64, kBFloat16}) {
    Tensor cpu = empty({3, 1001}, TensorOptions(t));
    Tensor gpu = empty({3, 1001}, TensorOptions(t).device(kCUDA));
    manual_seed(5);
    cpu.uniform_(-1, 2);
    manual_seed(5);
    gpu.uniform_(-1, 2);
    EXPECT_EQ(cpu.to_vector<double>(), gpu.cpu().to_vector<double>());
    manual_seed(6);
    cpu.normal_(0.5, 3);
    manual_seed(6);
    gpu.normal_(0.5, 3);
    expect_tensor(gpu.cpu(), cpu.shape(), cpu.to_vector<double>(), 1e-6, 1e-6, "normal_");
  }
  Tensor cpu = zeros({5000}, TensorOptions(kInt64));
  Tensor gpu = zeros({5000}, TensorOptions(kInt64).device(kCUDA));
  manual_seed(7);
  cpu.bernoulli_(0.3);
  manual_seed(7);
  gpu.bernoulli_(0.3);
  EXPECT_EQ(cpu.to_vector<std::int64_t>(), gpu.cpu().to_vector<std::int64_t>());
}

TEST_F(InplaceDtypeCuda, InplaceOpsAndGradientsMatchCpu) {
  auto run = [](Device dev) {
    Tensor a = testing::leaf_away_from_zero({4, 129}, 31).to(dev).detach().requires_grad_(true);
    Tensor w = testing::leaf_away_from_zero({129}, 32).to(dev).detach().requires_grad_(true);
    Tensor y = a * 2.0;
    y.mul_(w).add_(a).div_(w).clamp_(-2, 3).tanh_().exp_();
    Tensor d = zeros({4, 129}, TensorOptions(kFloat32).device(dev));
    d.copy_(y);
    (d * d).sum().backward();
    return std::vector<Tensor>{y, d, a.grad(), w.grad()};
  };
  auto cpu = run(kCPU), gpu = run(kCUDA);
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    double tol = cpu[i].dtype() == kFloat64 ? 1e-12 : 2e-6;
    expect_tensor(gpu[i].cpu(), cpu[i].shape(), cpu[i].to_vector<double>(), tol, tol,
                  "output " + std::to_string(i));
  }
}

TEST_F(InplaceDtypeCuda, IntegerArithmeticReductionsAndComparisonsMatchCpu) {
  Tensor a = tensor_int64(big_ints(3 * 1500), {3, 1500});
  Tensor b = tensor_int64(big_ints(1500), {1500});
  Tensor ag = a.cuda(), bg = b.cuda();
  auto same = [](const Tensor& cpu, const Tensor& gpu, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(gpu.dtype(), cpu.dtype());
    EXPECT_EQ(gpu.cpu().to_vector<std::int64_t>(), cpu.to_vector<std::int64_t>());
  };
  same(a + b, ag + bg, "add");
  same(a * b, ag * bg, "mul (wrapping)");
  same(a - 3, ag - 3, "sub scalar");
  same(pow(a.narrow(1, 0, 40), tensor_int64(std::vector<std::int64_t>(40, 3), {40})),
       pow(ag.narrow(1, 0, 40), tensor_int64(std::vector<std::int64_t>(40, 3), {40}, kCUDA)), "pow");
  same(a.sum({1}), ag.sum({1}), "sum over 1500");
  same(a.sum(), ag.sum(), "sum all");
  same(max(a, 1).first, max(ag, 1).first, "max values");
  same(max(a, 1).second, max(ag, 1).second, "max indices");
  same(argmax(a), argmax(ag), "argmax");
  Tensor mask = a > b, mask_g = ag > bg;
  EXPECT_EQ(mask.to_vector<bool>(), mask_g.cpu().to_vector<bool>());
  same(mask.sum({1}), mask_g.sum({1}), "bool sum");
  same(eq(a, a.narrow(0, 0, 1)).sum(), eq(ag, ag.narrow(0, 0, 1)).sum(), "eq count");
  Tensor f = (a / 7).to(kFloat64), fg = (ag / 7).to(kFloat64);
  expect_tensor(fg.cpu(), f.shape(), f.to_vector<double>(), 0, 0, "true division");
  Tensor i = a.clone(), ig = ag.clone();
  i.mul_(3).add_(b).sub_(true);
  ig.mul_(3).add_(bg).sub_(true);
  same(i, ig, "in-place int64");
}

}  // namespace
}  // namespace loom
