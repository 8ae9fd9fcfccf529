// The backward engine: accumulation, retain_graph, grad mode, detach,
// retain_grad, diamonds, implicit and explicit root gradients, gradient shape
// checks, autograd::grad, and gradcheck's own ability to catch a wrong gradient.
#include <cmath>
#include <functional>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;
using testing::leaf;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor vec(std::initializer_list<double> v) { return tensor(v, kFloat64).requires_grad_(); }

TEST(Engine, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = vec({1.0, -2.0});
  (x * x).sum().backward();  // 2x
  expect_tensor(x.grad(), {2}, {2.0, -4.0}, 0, 0, "first");
  (x * 3.0).sum().backward();  // + 3
  expect_tensor(x.grad(), {2}, {5.0, -1.0}, 0, 0, "accumulated");
  x.set_grad(Tensor());
  EXPECT_FALSE(x.grad().defined());
  (x * 3.0).sum().backward();
  expect_tensor(x.grad(), {2}, {3.0, 3.0}, 0, 0, "after reset");
}

// AccumulateGrad may take the incoming gradient buffer instead of copying it
// (as PyTorch does), but only when nothing else sees it: two leaves given the
// same gradient tensor, and the caller's own upstream gradient, must never end
// up sharing storage with a .grad that an optimizer then updates in place.
TEST(Engine, LeafGradientsNeverAliasEachOtherOrTheUpstreamGradient) {
  Tensor a = vec({1.0, 2.0});
  Tensor b = vec({3.0, 4.0});
  Tensor upstream = tensor({0.5, -1.5}, kFloat64);
  (a + b).backward(upstream);  // add's backward hands the same tensor to a and b
  expect_tensor(a.grad(), {2}, {0.5, -1.5}, 0, 0, "a.grad");
  expect_tensor(b.grad(), {2}, {0.5, -1.5}, 0, 0, "b.grad");
  native::fill_(a.grad(), 7.0);  // what an in-place optimizer update would do
  expect_tensor(b.grad(), {2}, {0.5, -1.5}, 0, 0, "b.grad after writing a.grad");
  expect_tensor(upstream, {2}, {0.5, -1.5}, 0, 0, "upstream after writing a.grad");
  native::fill_(b.grad(), 9.0);
  expect_tensor(upstream, {2}, {0.5, -1.5}, 0, 0, "upstream after writing b.grad");

  Tensor c = vec({1.0, -1.0});
  Tensor g = tensor({2.0, 3.0}, kFloat64);
  c.sum().backward();  // a fresh gradient, owned by nobody else: may be taken
  (c * 1.0).backward(g);
  expect_tensor(c.grad(), {2}, {3.0, 4.0}, 0, 0, "accumulated c.grad");
  expect_tensor(g, {2}, {2.0, 3.0}, 0, 0, "caller's g untouched by accumulation");
}

TEST(Engine, SecondBackwardNeedsRetainGraph) {
  Tensor x = vec({1.0, 2.0});
  Tensor y = (x * x).sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();  // allowed: the graph was retained
  expect_tensor(x.grad(), {2}, {4.0, 8.0}, 0, 0);
  // torch 1.13's message starts the same way.
  EXPECT_LOOM_ERROR(y.backward(),
                    "Trying to backward through the graph a second time (or directly access saved "
                    "tensors after they have already been freed).");
  EXPECT_LOOM_ERROR(y.backward(), "Specify retain_graph=true");
  expect_tensor(x.grad(), {2}, {4.0, 8.0}, 0, 0, "a failed backward adds nothing");
}

TEST(Engine, NoGradGuardStopsRecordingAndRestores) {
  Tensor x = vec({1.0, 2.0});
  EXPECT_TRUE(grad_enabled());
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      NoGradGuard nested;
      EXPECT_FALSE(grad_enabled());
    }
    EXPECT_FALSE(grad_enabled());
  }
  EXPECT_TRUE(grad_enabled());
  Tensor z = x * 2.0;
  EXPECT_TRUE(z.requires_grad());
  EXPECT_NE(z.grad_fn(), nullptr);
}

TEST(Engine, DetachCutsTheGraphAndSharesStorage) {
  Tensor x = vec({1.0, 2.0});
  Tensor y = x * 3.0;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.grad_fn(), nullptr);
  EXPECT_EQ(d.data_ptr(), y.data_ptr());
  // Gradient flows through y but not through d.
  (y * d).sum().backward();  // d/dx = 3 d
  expect_tensor(x.grad(), {2}, {9.0, 18.0}, 0, 0);
}

TEST(Engine, RetainGradKeepsANonLeafGradient) {
  Tensor x = vec({0.5, -1.5});
  Tensor y = x * 2.0;
  Tensor w = y * 1.0;  // no retain_grad: no .grad after backward
  y.retain_grad();
  (w * w).sum().backward();
  ASSERT_TRUE(y.grad().defined());
  expect_tensor(y.grad(), {2}, {2.0, -6.0}, 1e-15, 0, "y.grad = 2y");
  EXPECT_FALSE(w.grad().defined());
  expect_tensor(x.grad(), {2}, {4.0, -12.0}, 1e-15, 0);
  EXPECT_LOOM_ERROR(ones({2}).retain_grad(), "can't retain_grad on Tensor that has requires_grad=False");
}

TEST(Engine, DiamondGraphSumsBothPaths) {
  // y = 2x used twice: z = sum(y^2 + exp(y)); dz/dy = 2y + e^y, dz/dx = 2 dz/dy.
  // (torch 1.13 gives the same numbers in float32: x.grad = [9.43656, -11.90043].)
  Tensor x = vec({0.5, -1.5});
  Tensor y = x * 2.0;
  y.retain_grad();
  (y * y + exp(y)).sum().backward();
  double dy0 = 2 * 1.0 + std::exp(1.0), dy1 = 2 * -3.0 + std::exp(-3.0);
  expect_tensor(y.grad(), {2}, {dy0, dy1}, 1e-14, 0, "y.grad");
  expect_tensor(x.grad(), {2}, {2 * dy0, 2 * dy1}, 1e-14, 0, "x.grad");
}

TEST(Engine, LeafFeedingSeveralViewNodes) {
  // Regression: a leaf whose first consumer is created before its
  // AccumulateGrad used to make the engine run AccumulateGrad too early.
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kFloat64).requires_grad_();
  Tensor a = x.t();
  Tensor b = tanh(a);
  Tensor c = x.t();
  (b * c).sum().backward();
  std::vector<double> xv = testing::values(x), expected;
  for (double v : xv) expected.push_back(std::tanh(v) + v * (1 - std::tanh(v) * std::tanh(v)));
  expect_tensor(x.grad(), {2, 3}, expected, 1e-14, 0);
}

TEST(Engine, NonScalarRootNeedsAGradient) {
  Tensor x = vec({1.0, 2.0});
  Tensor y = x * x;
  EXPECT_LOOM_ERROR(y.backward(), "grad can be implicitly created only for scalar outputs");
  y.backward(tensor({1.0, -1.0}, kFloat64));
  expect_tensor(x.grad(), {2}, {2.0, -4.0}, 0, 0);
}

TEST(Engine, RootGradientShapeIsChecked) {
  Tensor x = vec({1.0, 2.0});
  // torch 1.13: "Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and
  // output[0] has a shape of torch.Size([2])."
  EXPECT_LOOM_ERROR((x * x).backward(ones({3}, kFloat64)),
                    "Mismatch in shape: grad_output[0] has a shape of [3] and output[0] has a shape of [2].");
}

TEST(Engine, RootGradientIsConvertedToTheRootDtype) {
  Tensor x = vec({1.0, 2.0});
  (x * x).backward(ones({2}, kFloat32));
  EXPECT_EQ(x.grad().dtype(), kFloat64);
  expect_tensor(x.grad(), {2}, {2.0, 4.0}, 0, 0);
}

TEST(Engine, BackwardOfATensorWithoutHistoryFails) {
  EXPECT_LOOM_ERROR(ones({2}).sum().backward(),
                    "element 0 of tensors does not require grad and does not have a grad_fn");
}

// A node that returns a gradient of the wrong shape.
struct WrongShapeBackward final : Node {
  std::vector<Tensor> apply(const std::vector<Tensor>&) override { return {ones({5}, kFloat64)}; }
  const char* name() const override { return "WrongShapeBackward"; }
};

TEST(Engine, NodeGradientShapesAreChecked) {
  Tensor x = vec({1.0, 2.0});
  Tensor y = ones({2}, kFloat64);
  auto node = make_node<WrongShapeBackward>({x});
  ASSERT_NE(node, nullptr);
  set_history(y, node);
  EXPECT_LOOM_ERROR(y.sum().backward(),
                    "Function WrongShapeBackward returned an invalid gradient at index 0 - got [5] "
                    "but expected shape compatible with [2]");
}

TEST(Engine, RequiresGradRules) {
  EXPECT_LOOM_ERROR(tensor_int64({1, 2}, {2}).requires_grad_(),
                    "only Tensors of floating point dtype can require gradients");
  Tensor x = vec({1.0});
  Tensor y = x * 2.0;
  EXPECT_LOOM_ERROR(y.requires_grad_(false), "you can only change requires_grad flags of leaf variables.");
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
}

TEST(Engine, AutogradGradReturnsWithoutTouchingDotGrad) {
  Tensor x = vec({1.0, 2.0}), unused = vec({3.0});
  Tensor y = (x * x * x).sum();
  std::vector<Tensor> g = autograd::grad({y}, {x, unused}, {});
  expect_tensor(g[0], {2}, {3.0, 12.0}, 0, 0, "3x^2");
  expect_tensor(g[1], {1}, {0.0}, 0, 0, "unrelated input gets zeros");
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(unused.grad().defined());
}

TEST(Engine, SeveralRootsAtOnce) {
  Tensor x = vec({1.0, 2.0});
  Tensor a = (x * x).sum(), b = (x * 5.0).sum();
  autograd::backward({a, b}, {Tensor(), Tensor()});
  expect_tensor(x.grad(), {2}, {7.0, 9.0}, 0, 0);
}

TEST(Engine, Float32Graph) {
  Tensor x = tensor({0.5, 1.5}, kFloat32).requires_grad_();
  (tanh(x) * x).sum().backward();
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  std::vector<double> expected;
  for (double v : {0.5, 1.5}) expected.push_back(std::tanh(v) + v * (1 - std::tanh(v) * std::tanh(v)));
  expect_tensor(x.grad(), {2}, expected, 1e-6, 0);
}

TEST(Gradcheck, CatchesAWrongGradient) {
  // d/dx (x * detach(x)) on the tape is detach(x), but numerically it is 2x.
  Tensor x = leaf({4}, 1, 0.5, 1.0);
  GradcheckResult r = gradcheck(Fn([](const std::vector<Tensor>& v) { return v[0] * v[0].detach(); }), {x});
  EXPECT_FALSE(r.ok);
  EXPECT_GT(r.max_abs_error, 0.4);
  EXPECT_NE(r.message.find("analytic"), std::string::npos) << r.message;
  GradcheckResult good = gradcheck(Fn([](const std::vector<Tensor>& v) { return v[0] * v[0]; }), {x});
  EXPECT_TRUE(good.ok) << good.message;
  EXPECT_LT(good.max_abs_error, 1e-8);
}

}  // namespace
}  // namespace loom
