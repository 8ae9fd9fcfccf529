// fp32 master weights on CUDA against the CPU path (tests/optim/master_weights_test.cc
// checks the CPU path against the float32 optimizer): every optimizer, bfloat16
// and float16 parameters, odd sizes, several steps.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>

#include "core/native.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom {
namespace {

// Deterministic values in about [-scale, scale] (no RNG: both devices get the same).
Tensor wave(std::int64_t n, double phase, double scale, DType dtype, Device device) {
  std::vector<double> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37 * static_cast<double>(i) + phase);
  return native::to(native::to(tensor(v, {n}, TensorOptions(kFloat32)), dtype), device);
}

// The 16-bit bit patterns of a bfloat16 / float16 tensor (copied to the host).
std::vector<std::uint16_t> half_bits_of(const Tensor& t) {
  Tensor c = native::contiguous(native::to(t, kCPU));
  std::vector<std::uint16_t> out(c.numel());
  std::memcpy(out.data(), c.data_ptr(), out.size() * sizeof(std::uint16_t));
  return out;
}

using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

void compare_devices(const char* what, const Factory& make, DType half) {
  for (std::int64_t n : {1, 3, 17, 129, 100003}) {
    SCOPED_TRACE(fmt::format("{} {} n={}", what, half, n));
    Tensor cpu = wave(n, 0.1, 1.5, half, kCPU).requires_grad_(true);
    Tensor gpu = wave(n, 0.1, 1.5, half, kCUDA).requires_grad_(true);
    auto opt_cpu = make({cpu});
    auto opt_gpu = make({gpu});
    for (int t = 0; t < 4; ++t) {
      cpu.set_grad(wave(n, 1.3 * t, 0.8, half, kCPU));
      gpu.set_grad(wave(n, 1.3 * t, 0.8, half, kCUDA));
      opt_cpu->step();
      opt_gpu->step();
    }
    const optim::ParamState* s_cpu = opt_cpu->state(cpu);
    const optim::ParamState* s_gpu = opt_gpu->state(gpu);
    ASSERT_NE(s_cpu, nullptr);
    ASSERT_NE(s_gpu, nullptr);
    ASSERT_EQ(s_cpu->tensors.size(), s_gpu->tensors.size());
    // CUDA contracts a * b + c into FMAs; the CPU build does not: float32 tolerances.
    for (const auto& [name, t] : s_cpu->tensors) {
      const Tensor& g = s_gpu->tensors.at(name);
      EXPECT_TRUE(g.is_cuda()) << name;
      EXPECT_EQ(g.dtype(), kFloat32) << name;
      testing::expect_all_close(g.to_vector<double>(), t.to_vector<double>(), 1e-5, 1e-6, name);
    }
    // The GPU's 16-bit copy is exactly its own master rounded (on the host, by kernels/half.h).
    const Tensor master_gpu = native::to(s_gpu->tensors.at("master_param"), kCPU);
    EXPECT_TRUE(half_bits_of(gpu.detach()) == half_bits_of(native::to(master_gpu, half)))
        << "the CUDA 16-bit copy is not its master rounded to nearest even";
    // And within one 16-bit ulp of the CPU's copy (the masters may round to neighbours).
    const double ulp = half == kBFloat16 ? std::ldexp(1.0, -7) : std::ldexp(1.0, -10);
    testing::expect_all_close(gpu.to_vector<double>(), cpu.to_vector<double>(), ulp, 1e-6, "16-bit copy");
  }
}

void compare_both(const char* what, const Factory& make) {
  compare_devices(what, make, kBFloat16);
  compare_devices(what, make, kFloat16);
}

TEST(MasterWeightsCuda, SGDMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  compare_both("sgd momentum dampening wd", [](std::vector<Tensor> p) {
    return std::make_unique<optim::SGD>(
        p, optim::SGDOptions(0.05).momentum(0.9).dampening(0.2).weight_decay(0.01).master_weights(true));
  });
  compare_both("sgd nesterov maximize", [](std::vector<Tensor> p) {
    return std::make_unique<optim::SGD>(
        p, optim::SGDOptions(0.05).momentum(0.8).nesterov(true).maximize(true).master_weights(true));
  });
}

TEST(MasterWeightsCuda, AdamAndAdamWMatchCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  compare_both("adam amsgrad wd", [](std::vector<Tensor> p) {
    return std::make_unique<optim::Adam>(
        p, optim::AdamOptions(0.01).amsgrad(true).weight_decay(0.1).master_weights(true));
  });
  compare_both("adamw", [](std::vector<Tensor> p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(0.01).master_weights(true));
  });
}

TEST(MasterWeightsCuda, RMSpropMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  compare_both("rmsprop centered momentum wd", [](std::vector<Tensor> p) {
    return std::make_unique<optim::RMSprop>(
        p, optim::RMSpropOptions(0.01).centered(true).momentum(0.5).weight_decay(0.02).master_weights(true));
  });
}

// Small updates on the GPU: lr * grad below half a bfloat16 ulp still moves
// the master by lr * grad per step, and the copy follows.
TEST(MasterWeightsCuda, SmallUpdatesMoveTheMaster) {
  LOOM_SKIP_WITHOUT_CUDA();
  Tensor p = native::to(native::to(native::full({5}, 1.0, TensorOptions(kFloat32)), kBFloat16), kCUDA)
                 .requires_grad_(true);
  optim::SGD sgd({p}, optim::SGDOptions(1e-3).master_weights(true));
  for (int step = 1; step <= 200; ++step) {
    p.set_grad(native::to(native::to(native::full({5}, -1.0, TensorOptions(kFloat32)), kBFloat16), kCUDA));
    sgd.step();
  }
  for (double m : sgd.state(p)->tensors.at("master_param").to_vector<double>())
    EXPECT_NEAR(m, 1.2, 200 * std::ldexp(1.0, -23));
  for (double v : p.to_vector<double>()) EXPECT_EQ(v, 1.203125);
}

}  // namespace
}  // namespace loom
