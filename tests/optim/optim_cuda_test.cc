// CUDA optimizer kernels against the CPU reference: every optimizer and its
// options over odd sizes, float32 and float64, several steps; and clipping.
#include <cmath>

#include "core/native.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom {
namespace {

// Deterministic values in about [-1.5, 1.5] (no RNG: CPU and CUDA get the same inputs).
Tensor values(std::int64_t n, double phase, DType dtype, Device device) {
  std::vector<double> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = 1.5 * std::sin(0.37 * static_cast<double>(i) + phase);
  return native::to(tensor(v, {n}, TensorOptions(dtype)), device);
}

using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

void compare_devices(const char* what, const Factory& make, DType dtype) {
  for (std::int64_t n : {1, 3, 17, 129, 100003}) {
    SCOPED_TRACE(fmt::format("{} {} n={}", what, dtype, n));
    Tensor cpu = values(n, 0.1, dtype, kCPU).requires_grad_(true);
    Tensor gpu = values(n, 0.1, dtype, kCUDA).requires_grad_(true);
    Tensor other_cpu = values(3, 0.7, dtype, kCPU).requires_grad_(true);
    Tensor other_gpu = values(3, 0.7, dtype, kCUDA).requires_grad_(true);
    auto opt_cpu = make({cpu, other_cpu});
    auto opt_gpu = make({gpu, other_gpu});
    for (int t = 0; t < 4; ++t) {
      cpu.set_grad(values(n, 1.3 * t, dtype, kCPU));
      gpu.set_grad(values(n, 1.3 * t, dtype, kCUDA));
      other_cpu.set_grad(values(3, 0.5 * t, dtype, kCPU));
      other_gpu.set_grad(values(3, 0.5 * t, dtype, kCUDA));
      opt_cpu->step();
      opt_gpu->step();
    }
    const bool f64 = dtype == kFloat64;
    // CUDA contracts a * b + c into FMAs; the CPU build does not.
    const double rtol = f64 ? 1e-12 : 1e-5, atol = f64 ? 1e-14 : 1e-6;
    testing::expect_all_close(gpu.to_vector<double>(), cpu.to_vector<double>(), rtol, atol, "param");
    testing::expect_all_close(other_gpu.to_vector<double>(), other_cpu.to_vector<double>(), rtol, atol,
                              "second param");
    // And every state tensor.
    const optim::ParamState* s_cpu = opt_cpu->state(cpu);
    const optim::ParamState* s_gpu = opt_gpu->state(gpu);
    ASSERT_NE(s_cpu, nullptr);
    ASSERT_NE(s_gpu, nullptr);
    ASSERT_EQ(s_cpu->tensors.size(), s_gpu->tensors.size());
    for (const auto& [name, t] : s_cpu->tensors) {
      EXPECT_TRUE(s_gpu->tensors.at(name).is_cuda()) << name;
      testing::expect_all_close(s_gpu->tensors.at(name).to_vector<double>(), t.to_vector<double>(), rtol,
                                atol, name);
    }
  }
}

void compare_all(const char* what, const Factory& make) {
  compare_devices(what, make, kFloat64);
  compare_devices(what, make, kFloat32);
}

TEST(OptimCuda, SGDMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  compare_all("sgd plain", [](std::vector<Tensor> p) {
    return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.1));
  });
  compare_all("sgd momentum dampening wd", [](std::vector<Tensor> p) {
    return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.05).momentum(0.9).dampening(0.2).weight_decay(0.01));
  });
  compare_all("sgd nesterov maximize", [](std::vector<Tensor> p) {
    return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.05).momentum(0.8).nesterov(true).maximize(true));
  });
}

TEST(OptimCuda, AdamMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  compare_all("adam", [](std::vector<Tensor> p) {
    return std::make_unique<optim::Adam>(p, optim::AdamOptions(0.01));
  });
  compare_all("adam amsgrad wd maximize", [](std::vector<Tensor> p) {
    return std::make_unique<optim::Adam>(
        p, optim::AdamOptions(0.01).amsgrad(true).weight_decay(0.1).maximize(true).betas({0.8, 0.99}));
  });
}

TEST(OptimCuda, AdamWMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  compare_all("adamw", [](std::vector<Tensor> p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(0.01));
  });
  compare_all("adamw amsgrad", [](std::vector<Tensor> p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(0.02).amsgrad(true).weight_decay(0.2));
  });
}

TEST(OptimCuda, RMSpropMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  compare_all("rmsprop", [](std::vector<Tensor> p) {
    return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions(0.01));
  });
  compare_all("rmsprop centered momentum wd", [](std::vector<Tensor> p) {
    return std::make_unique<optim::RMSprop>(
        p, optim::RMSpropOptions(0.01).centered(true).momentum(0.5).weight_decay(0.02).alpha(0.9));
  });
  compare_all("rmsprop momentum maximize", [](std::vector<Tensor> p) {
    return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions(0.005).momentum(0.3).maximize(true));
  });
}

TEST(OptimCuda, ClipGradNormMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (DType dtype : {kFloat64, kFloat32}) {
    for (double norm_type : {2.0, 1.0, 3.5, double(INFINITY), 0.0}) {
      SCOPED_TRACE(fmt::format("{} norm_type {}", dtype, norm_type));
      std::vector<Tensor> cpu, gpu;
      for (std::int64_t n : {1, 3, 17, 129, 100003}) {
        cpu.push_back(values(n, 0.0, dtype, kCPU).requires_grad_(true));
        gpu.push_back(values(n, 0.0, dtype, kCUDA).requires_grad_(true));
        cpu.back().set_grad(values(n, 0.1 * n, dtype, kCPU));
        gpu.back().set_grad(values(n, 0.1 * n, dtype, kCUDA));
      }
      Tensor t_cpu = optim::clip_grad_norm_(cpu, 0.5, norm_type);
      Tensor t_gpu = optim::clip_grad_norm_(gpu, 0.5, norm_type);
      EXPECT_TRUE(t_gpu.is_cuda());
      const double rtol = dtype == kFloat64 ? 1e-12 : 1e-5;
      EXPECT_NEAR(t_gpu.item(), t_cpu.item(), rtol * std::abs(t_cpu.item()));
      for (std::size_t i = 0; i < cpu.size(); ++i)
        testing::expect_all_close(gpu[i].grad().to_vector<double>(), cpu[i].grad().to_vector<double>(), rtol,
                                  1e-12, "grad");
    }
  }
}

}  // namespace
}  // namespace loom
