// What GradScaler is for: a float16 forward/backward whose gradients are too
// small for float16. A 2-layer tanh MLP with float32 parameters computes in
// float16 (parameters and input cast with the differentiable to(), as
// autocast does; the loss is taken in float32), with a loss weight of 1e-6 so
// that the gradients (about 1e-8 to 1e-7) lie at or below float16's smallest
// subnormal (2^-24 = 6.0e-8).
//   - Without a scaler most of them flush to zero or keep one significant bit.
//   - With GradScaler starting at 2^44 (too large: the scaled float16
//     gradients overflow, those steps are skipped and the scale backs off)
//     the run follows loom's own float32 trajectory, step for taken step,
//     within float16 rounding (tolerances below, from measurement).
#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/native.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom::optim {
namespace {

struct Mlp {
  Tensor w1, b1, w2, b2;  // float32 [8, 16], [16], [16, 4], [4]
  Tensor x, target;       // float32 [32, 8], [32, 4]
  Mlp() {
    x = testing::random_tensor({32, 8}, 21, kFloat32);
    target = testing::random_tensor({32, 4}, 22, kFloat32);
    w1 = mul(testing::random_tensor({8, 16}, 23, kFloat32), 0.5).detach().requires_grad_(true);
    b1 = mul(testing::random_tensor({16}, 24, kFloat32), 0.1).detach().requires_grad_(true);
    w2 = mul(testing::random_tensor({16, 4}, 25, kFloat32), 0.5).detach().requires_grad_(true);
    b2 = mul(testing::random_tensor({4}, 26, kFloat32), 0.1).detach().requires_grad_(true);
  }
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
  // The weighted loss, float32; the layers compute in `dtype`.
  Tensor loss(DType dtype) const {
    auto c = [&](const Tensor& t) { return to(t, dtype); };
    Tensor h = tanh(add(matmul(c(x), c(w1)), c(b1)));
    Tensor y = add(matmul(h, c(w2)), c(b2));
    return mul(mean(square(sub(to(y, kFloat32), target))), 1e-6);
  }
};

constexpr int kSteps = 20;
// Relative difference of each taken step's loss from the float32 run's: the
// float16 forward rounds inputs, weights, activations and output (unit
// roundoff 2^-11 = 4.9e-4) and the gradients carry float16 rounding into the
// updates. Measured on the CPU (2026-11-30): 1.8e-4, both with init_scale
// 2^36 (no overflow) and with 2^44 (7 skipped steps, final scale 2^41); the
// tolerance is 4 unit roundoffs, about 10x that. Without a scaler all 128
// first-layer weight gradients were 0 (float32's largest: 7.8e-8).
constexpr double kLossRtol = 2e-3;

TEST(GradScalerFloat16, FollowsTheFloat32TrajectoryWhereUnscaledGradientsUnderflow) {
  // float32 reference: the loss before each of 20 Adam steps.
  Mlp ref;
  Adam adam_ref(ref.params(), AdamOptions(0.01));
  std::vector<double> ref_losses;
  for (int i = 0; i < kSteps; ++i) {
    adam_ref.zero_grad();
    Tensor loss = ref.loss(kFloat32);
    ref_losses.push_back(loss.item());
    loss.backward();
    adam_ref.step();
  }

  // float16 without a scaler: the first backward's gradients, against the
  // float32 ones of the same (initial) parameters.
  {
    Mlp m16, m32;
    m16.loss(kFloat16).backward();
    m32.loss(kFloat32).backward();
    const std::vector<double> g16 = m16.w1.grad().to_vector<double>();
    const std::vector<double> g32 = m32.w1.grad().to_vector<double>();
    int zero = 0;
    double max32 = 0;
    for (std::size_t i = 0; i < g16.size(); ++i) {
      zero += g16[i] == 0.0;
      max32 = std::max(max32, std::fabs(g32[i]));
    }
    std::printf("float16 without scaler: %d of %zu weight gradients are 0 (float32 max |g| %.3g)\n",
                zero, g16.size(), max32);
    EXPECT_LT(max32, 1e-6);  // the premise: gradients far below float16's normal range
    EXPECT_GT(zero, 64);     // more than half of the 128 lost entirely
  }

  // float16 with GradScaler(init_scale 2^44): iterate until 20 steps are taken.
  Mlp m;
  Adam adam(m.params(), AdamOptions(0.01));
  GradScaler scaler(GradScalerOptions().init_scale(std::ldexp(1.0, 44)).growth_interval(5));
  std::vector<double> losses;
  int skipped = 0;
  for (int it = 0; it < 100 && static_cast<int>(losses.size()) < kSteps; ++it) {
    adam.zero_grad();
    Tensor loss = m.loss(kFloat16);
    const double value = loss.item();
    scaler.scale(loss).backward();
    if (scaler.step(adam)) losses.push_back(value);
    else ++skipped;
    scaler.update();
  }
  ASSERT_EQ(static_cast<int>(losses.size()), kSteps);
  EXPECT_GE(skipped, 1);  // 2^44 overflows float16: the scale had to back off
  std::printf("float16 with GradScaler: %d skipped steps, final scale %g\n", skipped,
              scaler.get_scale());
  double worst = 0;
  for (int i = 0; i < kSteps; ++i)
    worst = std::max(worst, std::fabs(losses[i] - ref_losses[i]) / std::fabs(ref_losses[i]));
  std::printf("float16 with GradScaler vs float32: worst relative loss difference %.3g\n", worst);
  EXPECT_LT(worst, kLossRtol);
}

}  // namespace
}  // namespace loom::optim
