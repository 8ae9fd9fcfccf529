// gradgradcheck (autograd/gradcheck.h), as torch.autograd.gradgradcheck:
// passes on an exact second derivative and catches a wrong one.
#include <gtest/gtest.h>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "core/native.h"

namespace loom {
namespace {

// y = x^2 whose backward 2 g x reads x as a saved tensor without history but
// claims to be differentiable: first order right, second order missing 2 g.
struct WrongSquareBackward final : Node {
  Tensor x;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override { return {g[0] * x * 2.0}; }
  bool double_backward_ok() const override { return true; }
  const char* name() const override { return "WrongSquareBackward"; }
};

Tensor wrong_square(const Tensor& x) {
  Tensor y = native::binary(native::BinaryOp::Mul, x, x);
  if (auto node = make_node<WrongSquareBackward>({x})) {
    node->x = saved(x);
    set_history(y, node);
  }
  return y;
}

TEST(Gradgradcheck, CatchesAWrongSecondDerivative) {
  manual_seed(1);
  Tensor x = randn({4}, TensorOptions(kFloat64).requires_grad());
  auto f = [](const std::vector<Tensor>& in) { return wrong_square(in[0]); };
  EXPECT_TRUE(gradcheck(f, {x}).ok);  // the first derivative is right
  GradcheckResult r = gradgradcheck(f, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0"), std::string::npos) << r.message;
}

TEST(Gradgradcheck, PassesOnLinearOpsAndViews) {
  manual_seed(2);
  Tensor x = randn({3, 4}, TensorOptions(kFloat64).requires_grad());
  Tensor c = randn({4, 3}, TensorOptions(kFloat64));
  // Gradients of a function linear in x: the second derivative is zero, and
  // the first-order gradient is differentiable in the upstream gradient.
  auto f = [&](const std::vector<Tensor>& in) {
    return sum(transpose(slice(in[0], 1, 1, 4), 0, 1) * slice(c, 0, 0, 3), {0}) / c.select(1, 0).sum();
  };
  GradcheckResult r = gradgradcheck(f, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Gradgradcheck, NeedsAnInputThatRequiresGrad) {
  Tensor x = randn({2}, TensorOptions(kFloat64));
  GradcheckResult r = gradgradcheck([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message, "gradgradcheck: no input requires grad");
}

}  // namespace
}  // namespace loom
