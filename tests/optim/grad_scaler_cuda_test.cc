// GradScaler on CUDA against the CPU reference (kernels/amp_scale.h): the
// unscaled gradients bit for bit (one multiply per element in opmath, no
// reduction), the inf/NaN flag, and the scale sequence of a scripted run.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/native.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom::optim {
namespace {

// Deterministic values in about [-1.5, 1.5] times `scale`; `bad_at` >= 0
// puts `bad` there.
Tensor grad_values(std::int64_t n, double scale, std::int64_t bad_at, double bad, DType dtype,
                   Device device) {
  std::vector<double> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = scale * 1.5 * std::sin(0.37 * static_cast<double>(i) + 0.2);
  if (bad_at >= 0) v[bad_at] = bad;
  return native::to(tensor(v, {n}, TensorOptions(dtype)), device);
}

// The bits of a tensor's elements as float64 values (exact for every float dtype).
std::vector<std::uint64_t> bits(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  std::vector<std::uint64_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(double));
  return out;
}

TEST(GradScalerCuda, UnscaleMatchesTheCpuBitForBit) {
  LOOM_SKIP_WITHOUT_CUDA();
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dtype : {kFloat32, kFloat64, kBFloat16}) {
    for (std::int64_t n : {1, 17, 100003}) {
      for (double bad : {0.0, inf, nan}) {
        SCOPED_TRACE(fmt::format("{} n={} bad={}", dtype, n, bad));
        const std::int64_t bad_at = bad == 0.0 ? -1 : n / 2;
        std::vector<Tensor> grads;
        std::vector<bool> stepped;
        for (Device device : {kCPU, kCUDA}) {
          Tensor w = native::zeros({n}, TensorOptions(dtype).device(device)).requires_grad_(true);
          SGD sgd({w}, SGDOptions(0.1));
          GradScaler scaler(GradScalerOptions().init_scale(3000));  // not a power of two
          Tensor scaled = scaler.scale(sum(w));
          EXPECT_EQ(scaled.device(), device);
          EXPECT_EQ(scaler.scale_tensor().device(), device);
          w.set_grad(grad_values(n, 3000, bad_at, bad, dtype, device));
          stepped.push_back(scaler.step(sgd));
          grads.push_back(w.grad());
        }
        EXPECT_EQ(stepped[0], bad == 0.0);
        EXPECT_EQ(stepped[1], stepped[0]);
        EXPECT_EQ(bits(grads[1]), bits(grads[0]));
      }
    }
  }
}

TEST(GradScalerCuda, ScaleSequenceMatchesTheCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  const double inf = std::numeric_limits<double>::infinity();
  const std::string script = "FFIFFFFIIFFFFFFF";
  std::vector<std::vector<double>> scales(2);
  std::vector<std::vector<std::int64_t>> trackers(2);
  int d = 0;
  for (Device device : {kCPU, kCUDA}) {
    Tensor w = native::zeros({5}, TensorOptions(kFloat32).device(device)).requires_grad_(true);
    SGD sgd({w}, SGDOptions(0.1));
    GradScaler scaler(
        GradScalerOptions().init_scale(1000).growth_factor(1.1).backoff_factor(0.3).growth_interval(2));
    for (char c : script) {
      scaler.scale(sum(w));
      w.set_grad(grad_values(5, scaler.get_scale(), c == 'I' ? 2 : -1, inf, kFloat32, device));
      EXPECT_EQ(scaler.step(sgd), c == 'F');
      scaler.update();
      scales[d].push_back(scaler.get_scale());
      trackers[d].push_back(scaler.get_growth_tracker());
    }
    ++d;
  }
  EXPECT_EQ(scales[1], scales[0]);
  EXPECT_EQ(trackers[1], trackers[0]);
}

}  // namespace
}  // namespace loom::optim
