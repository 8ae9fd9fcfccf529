// In-place operations (Tensor::add_, mul_, copy_, fill_, the random fills,
// ...) and autograd's version counter. Expected values are PyTorch 1.13's
// (the calls are quoted next to each literal) or finite differences (gradcheck).
#include <cmath>
#include <string>
#include <vector>

#include "autograd/anomaly_mode.h"
#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "core/native.h"
#include "op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;
using testing::values;

TensorOptions f64() { return TensorOptions(kFloat64); }

TEST(InplaceOps, ValuesAndVersionCounter) {
  Tensor x = tensor({1, 2, 3}, f64());
  EXPECT_EQ(x._version(), 0u);
  Tensor view = x.narrow(0, 1, 2);  // shares storage and version
  x.add_(tensor({0.5, 0.5, 0.5}, f64())).mul_(2).sub_(1).div_(tensor({1, 2, 4}, f64()));
  expect_tensor(x, {3}, {2, 2, 1.5}, 0, 0);  // ((x + .5) * 2 - 1) / [1, 2, 4]; torch 1.13: [2.0, 2.0, 1.5]
  EXPECT_EQ(x._version(), 4u);
  EXPECT_EQ(view._version(), 4u);
  expect_tensor(view, {2}, {2, 1.5}, 0, 0);
  view.fill_(-4);  // through the view: the base sees it
  expect_tensor(x, {3}, {2, -4, -4}, 0, 0);
  x.abs_().sqrt_().neg_();
  expect_tensor(x, {3}, {-std::sqrt(2.0), -2, -2}, 1e-15, 0);
  x.clamp_(-1.5, 0).exp_();
  expect_tensor(x, {3}, {std::exp(-std::sqrt(2.0)), std::exp(-1.5), std::exp(-1.5)}, 1e-15, 0);
  x.zero_().add_(2).pow_(3).log_();
  expect_tensor(x, {3}, {std::log(8.0), std::log(8.0), std::log(8.0)}, 1e-15, 0);
  x.copy_(tensor({-1, 0, 3}, f64())).relu_();
  expect_tensor(x, {3}, {0, 0, 3}, 0, 0);
  x.tanh_();
  expect_tensor(x, {3}, {0, 0, std::tanh(3.0)}, 1e-15, 0);
  x.sigmoid_();
  expect_tensor(x, {3}, {0.5, 0.5, 1 / (1 + std::exp(-std::tanh(3.0)))}, 1e-15, 0);
  EXPECT_EQ(x._version(), 18u);  // torch 1.13: x._version == 18 after the same 18 ops
}

TEST(InplaceOps, BroadcastPromotionAndCasts) {
  // A [2, 3] float32 target, a [3] float64 operand: computed in float64, stored as float32.
  Tensor x = zeros({2, 3});
  x.add_(tensor({0.1, 0.2, 0.3}, f64()));
  EXPECT_EQ(x.dtype(), kFloat32);
  expect_tensor(x, {2, 3}, {0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.3f}, 0, 0);
  // torch.tensor([3, -7]).mul_(2) -> [6, -14] (int64); an integer scalar keeps int64.
  Tensor i = tensor({3, -7}, TensorOptions(kInt64));
  i.mul_(2).add_(true);
  EXPECT_EQ(i.to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, -13}));
  // torch.tensor([1, 2, 3]).add_(0.5): "result type Float can't be cast to the desired output type Long"
  EXPECT_LOOM_ERROR(i.add_(0.5), "result type Float can't be cast to the desired output type Long");
  EXPECT_LOOM_ERROR(i.div_(2), "result type Float can't be cast to the desired output type Long");
  // torch.zeros(3).add_(torch.ones(2, 3)): "output with shape [3] doesn't match the broadcast shape [2, 3]"
  EXPECT_LOOM_ERROR(zeros({3}).add_(ones({2, 3})),
                    "output with shape [3] doesn't match the broadcast shape [2, 3]");
  // copy_ casts freely, broadcasting the source.
  Tensor b = zeros({2, 2}, TensorOptions(kBool));
  b.copy_(tensor({0, 2.5}, f64()));
  EXPECT_EQ(b.to_vector<bool>(), (std::vector<bool>{false, true, false, true}));
  // torch.zeros(2).copy_(torch.ones(3)): "The size of tensor a (2) must match the size of
  // tensor b (3) at non-singleton dimension 0"
  EXPECT_LOOM_ERROR(zeros({2}).copy_(ones({3})),
                    "The size of tensor a (2) must match the size of tensor b (3) at non-singleton "
                    "dimension 0");
  EXPECT_LOOM_ERROR(zeros({2}).copy_(ones({3, 2})), "cannot be broadcast to destination shape [2]");
  // copy_ from an overlapping view of itself (transpose) reads the source first (PyTorch
  // refuses this: "some elements of the input tensor and the written-to tensor refer to a
  // single memory location"; loom copies through a temporary, never a mixed result).
  Tensor m = tensor({1, 2, 3, 4}, {2, 2}, f64());
  m.copy_(m.t());
  expect_tensor(m, {2, 2}, {1, 3, 2, 4}, 0, 0);
  // fill_ of an int64 tensor with an integer is exact beyond 2^53.
  Tensor big = zeros({1}, TensorOptions(kInt64));
  big.fill_(std::int64_t{9007199254740993});
  EXPECT_EQ(big.to_vector<std::int64_t>()[0], 9007199254740993);
}

TEST(InplaceOps, LeafRequiringGradRefusedUnlessNoGrad) {
  Tensor w = tensor({1, 2, 3}, TensorOptions(kFloat64).requires_grad());
  // torch: "a leaf Variable that requires grad is being used in an in-place operation."
  const char* text = "a leaf Variable that requires grad is being used in an in-place operation.";
  EXPECT_LOOM_ERROR(w.add_(1), text);
  EXPECT_LOOM_ERROR(w.copy_(zeros({3}, f64())), text);
  EXPECT_LOOM_ERROR(w.zero_(), text);
  EXPECT_LOOM_ERROR(w.uniform_(), text);
  expect_tensor(w, {3}, {1, 2, 3}, 0, 0);  // unchanged
  EXPECT_EQ(w._version(), 0u);
  {
    // `with torch.no_grad(): dst.copy_(src)`: how weights are copied between modules.
    NoGradGuard no_grad;
    w.copy_(tensor({4, 5, 6}, f64()));
    w.mul_(2);
  }
  expect_tensor(w, {3}, {8, 10, 12}, 0, 0);
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  EXPECT_EQ(w._version(), 2u);
  (w * w).sum().backward();
  expect_tensor(w.grad(), {3}, {16, 20, 24}, 0, 0);
}

TEST(InplaceOps, GradientThroughInplaceOnNonLeaves) {
  // PyTorch 1.13:
  //   a = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
  //   w = torch.tensor([1.5, 2.0, -0.5], dtype=torch.float64, requires_grad=True)
  //   y = a * 2; y.mul_(w); y.add_(a); y.sub_(1.5); y.div_(w); y.clamp_(-2.0, 3.0)
  //   y.mul_(0.5); y.exp_(); y.sum().backward()
  Tensor a = tensor({0.5, -1.0, 2.0}, TensorOptions(kFloat64).requires_grad());
  Tensor w = tensor({1.5, 2.0, -0.5}, TensorOptions(kFloat64).requires_grad());
  Tensor y = a * 2;
  y.mul_(w).add_(a).sub_(1.5).div_(w).clamp_(-2.0, 3.0).mul_(0.5).exp_();
  EXPECT_FALSE(y.is_leaf());
  EXPECT_STREQ(y.grad_fn()->name(), "ExpBackward");
  y.sum().backward();
  expect_tensor(y, {3}, {1.1813604128656459, 0.36787944117144233, 4.4816890703380645}, 1e-15, 0);
  expect_tensor(a.grad(), {3}, {1.5751472171541945, 0.0, 0.0}, 1e-14, 1e-15);
  expect_tensor(w.grad(), {3}, {0.26252453619236576, 0.0, -4.481689070338064}, 1e-14, 1e-15);
}

TEST(InplaceOps, Gradcheck) {
  // Each in-place op on a non-leaf against finite differences, in float64.
  Tensor x = testing::leaf_away_from_zero({2, 3}, 11);
  Tensor o = testing::leaf_away_from_zero({3}, 12);
  auto f = [](const std::vector<Tensor>& in) {
    Tensor y = in[0] * 1.0;  // a non-leaf copy to modify
    y.mul_(in[1]).add_(in[0]).div_(in[1]).sub_(in[1]).tanh_().mul_(3).sigmoid_();
    Tensor z = in[0].abs() + 0.5;
    z.sqrt_().log_().pow_(2).neg_().exp_();
    Tensor c = in[0] * 2.0;
    c.clamp_(-1.0, 1.0);
    return std::vector<Tensor>{y, z, c};
  };
  EXPECT_GRADCHECK(f, {x, o});
  // copy_ into a float64 non-leaf from a broadcast source: the gradient reaches src, none
  // reaches the overwritten values.
  auto g = [](const std::vector<Tensor>& in) {
    Tensor d = in[0] * 1.0;
    d.copy_(in[1]);
    return std::vector<Tensor>{d * in[0]};
  };
  EXPECT_GRADCHECK(g, {x, o});
  // relu_ away from 0 and fill_ on a non-leaf (zero gradient to the old values).
  auto h = [](const std::vector<Tensor>& in) {
    Tensor r = in[0] * 1.0;
    r.relu_();
    Tensor s = in[0] * 1.0;
    s.fill_(2.0);
    return std::vector<Tensor>{r, s * in[0]};
  };
  EXPECT_GRADCHECK(h, {x});
}

TEST(InplaceOps, CopyGradientComesBackInSourceDtype) {
  // PyTorch: s = tensor([1., 2.], float64, requires_grad); d = zeros(3, 2) (float32)
  //   d.copy_(s); (d * arange(6.).reshape(3, 2)).sum().backward() -> s.grad [6, 9] float64
  Tensor s = tensor({1, 2}, TensorOptions(kFloat64).requires_grad());
  Tensor d = zeros({3, 2});
  d.copy_(s);
  EXPECT_TRUE(d.requires_grad());
  EXPECT_STREQ(d.grad_fn()->name(), "CopyBackwards");
  EXPECT_EQ(d.dtype(), kFloat32);
  (d * arange(0, 6, 1).reshape({3, 2})).sum().backward();
  EXPECT_EQ(s.grad().dtype(), kFloat64);
  expect_tensor(s.grad(), {2}, {6, 9}, 0, 0);
}

TEST(InplaceOps, VersionCounterRefusesStaleSavedTensors) {
  // PyTorch 1.13: a = tensor([1., 2., 3.], requires_grad=True); y = a.exp(); y.add_(1)
  //   y.sum().backward() -> "one of the variables needed for gradient computation has been
  //   modified by an inplace operation: [torch.FloatTensor [3]], which is output 0 of
  //   ExpBackward0, is at version 1; expected version 0 instead. Hint: enable anomaly
  //   detection to find the operation that failed to compute its gradient, with
  //   torch.autograd.set_detect_anomaly(True)."
  Tensor a = tensor({1, 2, 3}, TensorOptions().requires_grad());
  Tensor y = a.exp();
  y.add_(1);
  EXPECT_LOOM_ERROR(y.sum().backward(),
                    "one of the variables needed for gradient computation has been modified by an "
                    "inplace operation: [torch.FloatTensor [3]], which is output 0 of ExpBackward, "
                    "is at version 1; expected version 0 instead. Hint: enable anomaly detection");
  // A saved input, modified after use: y = a * 2; z = y * y; y.mul_(3) (PyTorch: output 0 of MulBackward0).
  Tensor b = tensor({1, 2, 3}, TensorOptions().requires_grad());
  Tensor y2 = b * 2;
  Tensor z = y2 * y2;
  y2.mul_(3);
  EXPECT_LOOM_ERROR(z.sum().backward(),
                    "[torch.FloatTensor [3]], which is output 0 of MulBackward, is at version 1; "
                    "expected version 0 instead.");
  // A leaf modified through detach() (shares the version): no "which is output" part.
  // PyTorch: z = b.sin(); b.detach().add_(1) -> "[torch.FloatTensor [3]] is at version 1; ..."
  Tensor c = tensor({1, 2, 3}, TensorOptions().requires_grad());
  Tensor t = c.tanh() * c;  // MulBackward saves c
  c.detach().add_(1);
  EXPECT_LOOM_ERROR(t.sum().backward(), "inplace operation: [torch.FloatTensor [3]] is at version 1; "
                                        "expected version 0 instead.");
  // Under NoGradGuard the version still moves (as PyTorch's), so the same error.
  Tensor d = tensor({1, 2}, TensorOptions(kFloat64).requires_grad());
  Tensor u = d * d;
  {
    NoGradGuard no_grad;
    d.mul_(2);
  }
  EXPECT_LOOM_ERROR(u.sum().backward(), "[torch.DoubleTensor [2]] is at version 1; expected version 0");
  // In anomaly mode the hint is the other one.
  Tensor e = tensor({1, 2}, TensorOptions().requires_grad());
  Tensor v = e.sigmoid();
  v.zero_();
  {
    autograd::DetectAnomalyGuard anomaly;
    EXPECT_LOOM_ERROR(v.sum().backward(), "which is output 0 of SigmoidBackward, is at version 1; "
                                          "expected version 0 instead. Hint: the backtrace further above");
  }
}

TEST(InplaceOps, UnaffectedSavedTensorsStillWork) {
  // Modifying a tensor no node saved is fine: y = a + 1 saves nothing.
  Tensor a = tensor({1, 2}, TensorOptions(kFloat64).requires_grad());
  Tensor y = a + 1;
  Tensor z = y.sum();
  y.mul_(5);  // recorded: y's grad_fn is now MulBackward
  z.backward();
  expect_tensor(a.grad(), {2}, {1, 1}, 0, 0);
  // mul_ by a tensor that requires grad, on a tensor that did not: self becomes a non-leaf,
  // and the old values (saved for w's gradient) are a snapshot, not the overwritten ones.
  Tensor x = tensor({2, 3}, f64());
  Tensor w = tensor({5, 7}, TensorOptions(kFloat64).requires_grad());
  x.mul_(w);
  EXPECT_TRUE(x.requires_grad());
  EXPECT_FALSE(x.is_leaf());
  x.sum().backward();
  expect_tensor(w.grad(), {2}, {2, 3}, 0, 0);
  expect_tensor(x, {2}, {10, 21}, 0, 0);
}

TEST(InplaceOps, ViewsRebaseTheirBase) {
  // PyTorch: a = tensor([1., 2, 3, 4], requires_grad=True); y = a * 2
  //          y.narrow(0, 0, 2).mul_(3); y.sum().backward(); a.grad -> [6, 6, 2, 2]
  // (more in tests/autograd/inplace_view_test.cc).
  Tensor a = tensor({1, 2, 3, 4}, TensorOptions(kFloat64).requires_grad());
  Tensor y = a * 2;
  y.narrow(0, 0, 2).mul_(3);
  expect_tensor(y, {4}, {6, 12, 6, 8}, 0, 0);
  EXPECT_STREQ(y.grad_fn()->name(), "CopySlices");
  y.sum().backward();
  expect_tensor(a.grad(), {4}, {6, 6, 2, 2}, 0, 0);
  // Views are fine without recording.
  Tensor plain = zeros({2, 2}, f64());
  plain.select(0, 1).fill_(7);
  expect_tensor(plain, {2, 2}, {0, 0, 7, 7}, 0, 0);
  {
    NoGradGuard no_grad;
    y.narrow(0, 0, 2).mul_(3);
  }
  expect_tensor(y, {4}, {18, 36, 6, 8}, 0, 0);
}

TEST(InplaceOps, RandomFills) {
  manual_seed(7);
  Tensor u = empty({1000}, f64());
  u.uniform_(-2, 3);
  std::vector<double> uv = values(u);
  double lo = *std::min_element(uv.begin(), uv.end()), hi = *std::max_element(uv.begin(), uv.end());
  EXPECT_GE(lo, -2);
  EXPECT_LT(hi, 3);
  EXPECT_NEAR(u.mean().item(), 0.5, 0.15);  // sd of the mean: 5/sqrt(12)/sqrt(1000) = 0.046
  // The same as rand's numbers, scaled: uniform_ uses the same generator stream.
  manual_seed(7);
  Tensor r = rand({1000}, f64());
  expect_tensor(u, {1000}, values(r * 5.0 - 2.0), 1e-15, 1e-15);

  manual_seed(8);
  Tensor n = empty({4000});
  n.normal_(1.5, 2);
  EXPECT_NEAR(n.mean().item(), 1.5, 0.15);  // sd of the mean 0.032
  EXPECT_NEAR(std::sqrt(((n - 1.5) * (n - 1.5)).mean().item()), 2.0, 0.1);

  manual_seed(9);
  Tensor b = zeros({4000}, TensorOptions(kInt64));
  b.bernoulli_(0.25);
  std::vector<std::int64_t> bv = b.to_vector<std::int64_t>();
  for (auto v : bv) ASSERT_TRUE(v == 0 || v == 1);
  EXPECT_NEAR(static_cast<double>(b.sum().item()) / 4000, 0.25, 0.03);  // sd 0.0068
  manual_seed(9);
  Tensor again = zeros({4000}, TensorOptions(kInt64));
  again.bernoulli_(0.25);
  EXPECT_EQ(again.to_vector<std::int64_t>(), bv);  // same seed, same draws

  // PyTorch's checks.
  EXPECT_LOOM_ERROR(u.uniform_(2, 1), "uniform_ expects to return a [from, to) range, but found from=2 > to=1");
  EXPECT_LOOM_ERROR(n.normal_(0, -1), "normal expects std >= 0.0, but found std -1");
  EXPECT_LOOM_ERROR(b.bernoulli_(1.5), "bernoulli_ expects p to be in [0, 1], but got p=1.5");
  EXPECT_LOOM_ERROR(b.uniform_(), "\"uniform_\" not implemented for 'Long'");
  EXPECT_LOOM_ERROR(Tensor().zero_(), "undefined tensor");
}

}  // namespace
}  // namespace loom
