// Reductions: forward values against PyTorch 1.13, gradients against finite
// differences (gradcheck in float64), PyTorch's tie and NaN conventions, errors.
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "autograd/functions.h"
#include "op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;
using testing::leaf;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// The input of the forward checks: the same literal as in the PyTorch script.
Tensor lit() {
  return tensor({0.5, -1.25, 2.0, 0.0, 3.0, -0.75, 1.5, 2.5, -2.0, 4.0, 0.25, 1.0, 1.0, 1.0, -3.5, 0.75},
                {2, 2, 4}, kFloat64);
}

// Expected values printed by /usr/bin/python3 (torch 1.13) for the literal above.
TEST(ReduceForward, SumMeanMatchPyTorch) {
  Tensor x = lit();
  expect_tensor(x.sum(), {}, {10.0}, 1e-15, 0, "sum()");
  expect_tensor(x.sum({0}), {2, 4}, {-1.5, 2.75, 2.25, 1.0, 4.0, 0.25, -2.0, 3.25}, 1e-15, 0, "sum(0)");
  expect_tensor(x.sum({1, 2}, true), {2, 1, 1}, {7.5, 2.5}, 1e-15, 0, "sum((1, 2), keepdim)");
  expect_tensor(x.sum({-1}), {2, 2}, {1.25, 6.25, 3.25, -0.75}, 1e-15, 0, "sum(-1)");
  expect_tensor(x.mean(), {}, {0.625}, 1e-15, 0, "mean()");
  expect_tensor(x.mean({1}), {2, 4}, {1.75, -1.0, 1.75, 1.25, -0.5, 2.5, -1.625, 0.875}, 1e-15, 0,
                "mean(1)");
  expect_tensor(x.mean({0, 2}, true), {1, 2, 1}, {0.5625, 0.6875}, 1e-15, 0, "mean((0, 2), keepdim)");
  // torch.zeros(0, 3).sum(0) = [0, 0, 0]; .mean(0) = [nan, nan, nan].
  expect_tensor(sum(zeros({0, 3}, kFloat64), {0}), {3}, {0, 0, 0}, 0, 0, "empty sum");
  double nan = std::numeric_limits<double>::quiet_NaN();
  expect_tensor(mean(zeros({0, 3}, kFloat64), {0}), {3}, {nan, nan, nan}, 0, 0, "empty mean");
}

TEST(ReduceForward, MaxArgmaxMatchPyTorch) {
  Tensor x = lit();
  auto [v2, i2] = max(x, 2);
  expect_tensor(v2, {2, 2}, {2.0, 3.0, 4.0, 1.0}, 0, 0, "max(2) values");
  EXPECT_EQ(i2.dtype(), kInt64);
  expect_tensor(i2, {2, 2}, {2, 0, 1, 0}, 0, 0, "max(2) indices (first of the tie 1, 1)");
  auto [v0, i0] = max(x, 0, true);
  expect_tensor(v0, {1, 2, 4}, {0.5, 4.0, 2.0, 1.0, 3.0, 1.0, 1.5, 2.5}, 0, 0, "max(0, keepdim) values");
  expect_tensor(i0, {1, 2, 4}, {0, 1, 0, 1, 0, 1, 0, 0}, 0, 0, "max(0, keepdim) indices");
  expect_tensor(max(x), {}, {4.0}, 0, 0, "max()");
  expect_tensor(argmax(x), {}, {9}, 0, 0, "argmax()");
  expect_tensor(argmax(x, 1), {2, 4}, {1, 1, 0, 1, 1, 0, 0, 0}, 0, 0, "argmax(1)");
  // torch.tensor([1., nan, 3.]).max(0) = (nan, 1): NaN is the maximum.
  auto [vn, in] = max(tensor({1.0, std::numeric_limits<double>::quiet_NaN(), 3.0}, kFloat64), 0);
  EXPECT_TRUE(std::isnan(vn.item()));
  EXPECT_EQ(in.item(), 1);
}

TEST(ReduceGrad, SumMeanOverDims) {
  Tensor x = leaf({2, 3, 4}, 1);
  const std::vector<Shape> dim_sets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {0, 1, 2}};
  for (const Shape& dims : dim_sets) {
    for (bool keepdim : {false, true}) {
      SCOPED_TRACE(fmt::format("dims {} keepdim {}", shape_str(dims), keepdim));
      EXPECT_GRADCHECK(Fn([dims, keepdim](const std::vector<Tensor>& v) { return sum(v[0], dims, keepdim); }),
                       {x});
      EXPECT_GRADCHECK(Fn([dims, keepdim](const std::vector<Tensor>& v) { return mean(v[0], dims, keepdim); }),
                       {x});
      // On a non-contiguous view.
      EXPECT_GRADCHECK(Fn([dims, keepdim](const std::vector<Tensor>& v) {
                         return mean(v[0].transpose(0, 2).transpose(0, 1), dims, keepdim);
                       }),
                       {x});
    }
  }
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return v[0].sum(); }), {x});
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return v[0].mean(); }), {x});
  Tensor s = leaf({}, 2);
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return v[0].sum(); }), {s});
}

TEST(ReduceGrad, MaxWithAndWithoutDim) {
  Tensor x = leaf({3, 4, 5}, 3);  // continuous random values: no ties
  for (std::int64_t dim : {0, 1, 2, -1}) {
    for (bool keepdim : {false, true}) {
      SCOPED_TRACE(fmt::format("dim {} keepdim {}", dim, keepdim));
      EXPECT_GRADCHECK(Fn([dim, keepdim](const std::vector<Tensor>& v) { return max(v[0], dim, keepdim).first; }),
                       {x});
      EXPECT_GRADCHECK(Fn([dim, keepdim](const std::vector<Tensor>& v) {
                         return max(v[0].transpose(0, 2), dim, keepdim).first;
                       }),
                       {x});
    }
  }
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return max(v[0]); }), {x});
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return max(v[0].t().select(0, 1)); }),
                   {leaf({4, 3}, 4)});
}

TEST(ReduceGrad, MaxTiesFollowPyTorch) {
  // t = [1, 3, 3, 2]: torch 1.13 gives t.max().backward() -> [0, 0.5, 0.5, 0] (split evenly)
  // and t.max(0)[0].backward() -> [0, 1, 0, 0] (the selected index only).
  Tensor t = tensor({1, 3, 3, 2}, kFloat64).requires_grad_();
  max(t).backward();
  expect_tensor(t.grad(), {4}, {0, 0.5, 0.5, 0}, 0, 0, "max()");
  Tensor u = tensor({1, 3, 3, 2}, kFloat64).requires_grad_();
  auto [v, i] = max(u, 0);
  EXPECT_EQ(i.item(), 1);
  v.backward();
  expect_tensor(u.grad(), {4}, {0, 1, 0, 0}, 0, 0, "max(0)");
}

TEST(ReduceGrad, ScalarInputToDimReductions) {
  Tensor s = leaf({}, 5);
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return max(v[0], 0, false).first * 3.0; }), {s});
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return sum(v[0], {0}, true); }), {s});
}

// Messages as torch 1.13 prints them for the same calls.
TEST(ReduceErrors, PyTorchMessages) {
  Tensor x = lit();
  EXPECT_LOOM_ERROR(x.sum({1, 1}), "dim 1 appears multiple times in the list of dims");
  EXPECT_LOOM_ERROR(max(x, 3), "Dimension out of range (expected to be in range of [-3, 2], but got 3)");
  EXPECT_LOOM_ERROR(x.mean({-4}), "Dimension out of range (expected to be in range of [-3, 2], but got -4)");
  EXPECT_LOOM_ERROR(max(zeros({0, 3}), 0), "max(): Expected reduction dim 0 to have non-zero size.");
  EXPECT_LOOM_ERROR(max(zeros({0})),
                    "max(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                    "the reduction dim with the 'dim' argument.");
  // Integer sums are PyTorch's int64 (torch.tensor([1, 2]).sum() -> tensor(3)); integer
  // means are refused (tests/core/type_promotion_test.cc).
  EXPECT_EQ(sum(tensor_int64({1, 2}, {2})).item<std::int64_t>(), 3);
  EXPECT_LOOM_ERROR(mean(tensor_int64({1, 2}, {2})), "mean(): could not infer output dtype.");
}

}  // namespace
}  // namespace loom
