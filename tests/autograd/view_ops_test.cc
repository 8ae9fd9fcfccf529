// Views and movement: forward values against PyTorch 1.13, gradients against
// finite differences (gradcheck in float64, random upstream gradient) on
// contiguous and non-contiguous inputs, and error messages in PyTorch's words.
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "autograd/functions.h"
#include "op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;
using testing::leaf;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// arange(24.).reshape(2, 3, 4), the input of every forward check below.
Tensor x24() { return arange(24.0, kFloat64).reshape({2, 3, 4}); }

// ---- forward values ---------------------------------------------------------------------
// Expected values printed by /usr/bin/python3 (torch 1.13) for x = arange(24.).reshape(2, 3, 4).
TEST(ViewForward, MatchesPyTorch) {
  Tensor x = x24();
  expect_tensor(x.permute({2, 0, 1}).reshape({-1}), {24},
                {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23},
                0, 0, "permute+reshape");
  expect_tensor(x.transpose(0, 2).flatten(1), {4, 6},
                {0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21, 2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23},
                0, 0, "transpose+flatten");
  expect_tensor(x.slice(2, 1, 4, 2), {2, 3, 2}, {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}, 0, 0,
                "x[:, :, 1::2]");
  expect_tensor(x.slice(1, -2, 100), {2, 2, 4},
                {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}, 0, 0, "x[:, -2:, :]");
  expect_tensor(x.select(1, -1), {2, 4}, {8, 9, 10, 11, 20, 21, 22, 23}, 0, 0, "select(1, -1)");
  expect_tensor(x.narrow(2, 1, 2), {2, 3, 2}, {1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}, 0, 0,
                "narrow(2, 1, 2)");
  expect_tensor(tensor({1., 2., 3.}, kFloat64).reshape({3, 1}).expand({2, 3, 4}).select(0, 1),
                {3, 4}, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, 0, 0, "expand");
  expect_tensor(x.slice(1, 0, 1).unsqueeze(0).squeeze(), {2, 4}, {0, 1, 2, 3, 12, 13, 14, 15}, 0, 0,
                "unsqueeze+squeeze");
}

TEST(ViewForward, CatStackSplitChunkMatchPyTorch) {
  Tensor x = x24();
  expect_tensor(cat({x.slice(1, 0, 1), x.slice(1, 2, 3)}, 1), {2, 2, 4},
                {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23}, 0, 0, "cat dim 1");
  expect_tensor(cat({x.select(0, 0).t(), x.select(0, 1).t()}, -1), {4, 6},
                {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23},
                0, 0, "cat of transposed pieces");
  expect_tensor(stack({x.select(0, 0).select(0, 0), x.select(0, 1).select(0, 2)}, 1), {4, 2},
                {0, 20, 1, 21, 2, 22, 3, 23}, 0, 0, "stack dim 1");
  // Piece sizes: torch.arange(5.).chunk(3) -> [2, 2, 1]; arange(6.).chunk(4) -> [2, 2, 2];
  // arange(7.).split(3) -> [3, 3, 1].
  auto sizes = [](const std::vector<Tensor>& parts) {
    std::vector<std::int64_t> s;
    for (const Tensor& p : parts) s.push_back(p.size(0));
    return s;
  };
  EXPECT_EQ(sizes(chunk(arange(5.0, kFloat64), 3)), (std::vector<std::int64_t>{2, 2, 1}));
  EXPECT_EQ(sizes(chunk(arange(6.0, kFloat64), 4)), (std::vector<std::int64_t>{2, 2, 2}));
  EXPECT_EQ(sizes(split(arange(7.0, kFloat64), 3)), (std::vector<std::int64_t>{3, 3, 1}));
  expect_tensor(chunk(arange(5.0, kFloat64), 3)[2], {1}, {4}, 0, 0, "last chunk");
}

TEST(ViewForward, ReshapeGradientOfTransposeMatchesPyTorch) {
  // g = [[1, 2, 3], [4, 5, 6]]; g.t().reshape(-1).backward(arange(6.)) gives
  // g.grad = [[0, 2, 4], [1, 3, 5]] in torch 1.13.
  Tensor g = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kFloat64).requires_grad_();
  g.t().reshape({-1}).backward(arange(6.0, kFloat64));
  expect_tensor(g.grad(), {2, 3}, {0, 2, 4, 1, 3, 5}, 0, 0);
}

// ---- gradients ---------------------------------------------------------------------------
TEST(ViewGrad, EveryViewOpOnContiguousAndNonContiguousInputs) {
  // Each case is checked on a contiguous [2, 3, 4] leaf, and on the same op
  // applied to a non-contiguous view of a [4, 3, 2] leaf (permute(2, 1, 0)).
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> cases = {
      {"view", [](const Tensor& x) { return x.contiguous().view({6, 4}); }},
      {"reshape", [](const Tensor& x) { return x.reshape({4, -1}); }},
      {"flatten", [](const Tensor& x) { return x.flatten(); }},
      {"flatten(1)", [](const Tensor& x) { return x.flatten(1); }},
      {"flatten(0, 1)", [](const Tensor& x) { return x.flatten(0, 1); }},
      {"transpose", [](const Tensor& x) { return x.transpose(0, 2); }},
      {"transpose(-1, -2)", [](const Tensor& x) { return x.transpose(-1, -2); }},
      {"permute", [](const Tensor& x) { return x.permute({1, 2, 0}); }},
      {"narrow", [](const Tensor& x) { return x.narrow(2, 1, 2); }},
      {"narrow negative start", [](const Tensor& x) { return x.narrow(1, -2, 2); }},
      {"slice step 2", [](const Tensor& x) { return x.slice(2, 0, 4, 2); }},
      {"slice step 3", [](const Tensor& x) { return x.slice(2, 1, 100, 3); }},
      {"select", [](const Tensor& x) { return x.select(1, 1); }},
      {"select negative", [](const Tensor& x) { return x.select(-1, -1); }},
      {"unsqueeze 0", [](const Tensor& x) { return x.unsqueeze(0); }},
      {"unsqueeze -1", [](const Tensor& x) { return x.unsqueeze(-1); }},
      {"unsqueeze middle", [](const Tensor& x) { return x.unsqueeze(2); }},
      {"squeeze", [](const Tensor& x) { return x.narrow(0, 1, 1).squeeze(); }},
      {"squeeze dim", [](const Tensor& x) { return x.narrow(1, 0, 1).squeeze(1); }},
      {"squeeze non-1 dim", [](const Tensor& x) { return x.squeeze(0); }},
      {"expand", [](const Tensor& x) { return x.narrow(1, 0, 1).expand({2, 5, 4}); }},
      {"expand -1 and new dims", [](const Tensor& x) { return x.narrow(2, 2, 1).expand({3, -1, -1, 2}); }},
      {"expand_as", [](const Tensor& x) { return x.select(0, 0).expand_as(x); }},
      {"sum_to", [](const Tensor& x) { return sum_to(x, {3, 1}); }},
      {"sum_to scalar", [](const Tensor& x) { return sum_to(x, {}); }},
      {"contiguous", [](const Tensor& x) { return x.contiguous(); }},
      {"clone", [](const Tensor& x) { return x.clone(); }},
      {"to same dtype", [](const Tensor& x) { return x.to(kFloat64); }},
      {"view chain", [](const Tensor& x) { return x.transpose(0, 1).reshape({3, 8}).t().narrow(0, 2, 5); }},
  };
  Tensor contiguous_leaf = leaf({2, 3, 4}, 1);
  Tensor permuted_leaf = leaf({4, 3, 2}, 2);
  for (const auto& [name, op] : cases) {
    SCOPED_TRACE(name);
    auto f = op;
    EXPECT_GRADCHECK(Fn([f](const std::vector<Tensor>& x) { return f(x[0]); }), {contiguous_leaf});
    Tensor nc = permuted_leaf.permute({2, 1, 0});
    ASSERT_FALSE(nc.is_contiguous());
    EXPECT_GRADCHECK(Fn([f](const std::vector<Tensor>& x) { return f(x[0].permute({2, 1, 0})); }),
                     {permuted_leaf});
    // A view of a view used twice: gradients from both paths add up.
    EXPECT_GRADCHECK(Fn([f](const std::vector<Tensor>& x) {
                       return f(x[0]) * f(x[0].permute({2, 1, 0}).permute({2, 1, 0}));
                     }),
                     {contiguous_leaf});
  }
}

TEST(ViewGrad, CatStack) {
  Tensor a = leaf({2, 3}, 11), b = leaf({2, 1}, 12), c = leaf({3, 2}, 13);
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& x) { return cat({x[0], x[1]}, 1); }), {a, b});
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& x) { return cat({x[0], x[1], x[0]}, -1); }),
                   {a, b});
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& x) { return cat({x[0], x[1].t()}, 0); }), {a, c});
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& x) { return cat({x[0]}, 0); }), {a});
  for (std::int64_t dim : {0, 1, 2, -1}) {
    SCOPED_TRACE(dim);
    EXPECT_GRADCHECK(Fn([dim](const std::vector<Tensor>& x) { return stack({x[0], x[1].t(), x[0]}, dim); }),
                     {a, c});
  }
}

TEST(ViewGrad, CatWithAnInputThatNeedsNoGrad) {
  Tensor a = leaf({2, 3}, 14);
  Tensor fixed = testing::uniform({1, 3}, 15);
  EXPECT_GRADCHECK(Fn([fixed](const std::vector<Tensor>& x) { return cat({fixed, x[0]}, 0); }), {a});
}

TEST(ViewGrad, SplitChunk) {
  Tensor x = leaf({7, 3}, 21);
  // Every piece is an output: gradcheck weighs each with its own random upstream gradient.
  EXPECT_GRADCHECK(MultiFn([](const std::vector<Tensor>& v) { return split(v[0], 3, 0); }), {x});
  EXPECT_GRADCHECK(MultiFn([](const std::vector<Tensor>& v) { return split(v[0], 2, 1); }), {x});
  EXPECT_GRADCHECK(MultiFn([](const std::vector<Tensor>& v) { return split_with_sizes(v[0], {1, 4, 2}, 0); }),
                   {x});
  EXPECT_GRADCHECK(MultiFn([](const std::vector<Tensor>& v) { return chunk(v[0], 3, 0); }), {x});
  EXPECT_GRADCHECK(MultiFn([](const std::vector<Tensor>& v) { return chunk(v[0].t(), 2, -1); }), {x});
  // Only some pieces used: the others get zero gradient.
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return chunk(v[0], 3, 0)[1] * 2.0; }), {x});
}

TEST(ViewGrad, DetachStopsGradients) {
  Tensor x = leaf({3}, 31);
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.data_ptr(), x.data_ptr());
  // d/dx (x * detach(x)) = detach(x): 1 x, not 2 x.
  (x * d).sum().backward();
  expect_tensor(x.grad(), {3}, testing::values(x), 0, 0);
}

TEST(ViewGrad, ToDtypeRoundTripSendsGradientInTheInputDtype) {
  Tensor x = tensor({1.5, -2.0}, kFloat64).requires_grad_();
  Tensor y = x.to(kFloat32);
  EXPECT_EQ(y.dtype(), kFloat32);
  EXPECT_TRUE(y.requires_grad());
  (y * tensor({3.0, 4.0}, kFloat32)).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), kFloat64);
  expect_tensor(x.grad(), {2}, {3.0, 4.0}, 0, 0);
  EXPECT_FALSE(x.to(kInt64).requires_grad());
}

// ---- errors --------------------------------------------------------------------------------
// Messages as torch 1.13 prints them for the same calls.
TEST(ViewErrors, PyTorchMessages) {
  Tensor x = x24();
  EXPECT_LOOM_ERROR(x.view({5, -1}), "shape '[5, -1]' is invalid for input of size 24");
  EXPECT_LOOM_ERROR(x.view({5, 5}), "shape '[5, 5]' is invalid for input of size 24");
  EXPECT_LOOM_ERROR(x.transpose(0, 1).view({-1}),
                    "view size is not compatible with input tensor's size and stride (at least one "
                    "dimension spans across two contiguous subspaces). Use .reshape(...) instead.");
  EXPECT_LOOM_ERROR(x.view({-1, -1}), "only one dimension can be inferred");
  EXPECT_LOOM_ERROR(x.expand({3, 3, 4}),
                    "The expanded size of the tensor (3) must match the existing size (2) at "
                    "non-singleton dimension 0.  Target sizes: [3, 3, 4].  Tensor sizes: [2, 3, 4]");
  EXPECT_LOOM_ERROR(cat({x, x.slice(1, 0, 2).slice(2, 0, 2)}, 1),
                    "Sizes of tensors must match except in dimension 1. Expected size 4 but got size "
                    "2 for tensor number 1 in the list.");
  EXPECT_LOOM_ERROR(x.select(1, 3),
                    "select(): index 3 out of range for tensor of size [2, 3, 4] at dimension 1");
  EXPECT_LOOM_ERROR(x.permute({0, 0, 1}), "permute(): duplicate dims are not allowed.");
  EXPECT_LOOM_ERROR(x.narrow(2, 3, 2), "start (3) + length (2) exceeds dimension size (4).");
  EXPECT_LOOM_ERROR(stack({x, x.select(0, 0)}),
                    "stack expects each tensor to be equal size, but got [2, 3, 4] at entry 0 and "
                    "[3, 4] at entry 1");
  EXPECT_LOOM_ERROR(split_with_sizes(x, {1, 1}, 1),
                    "split_with_sizes expects split_sizes to sum exactly to 3 (input tensor's size "
                    "at dimension 1), but got split_sizes=[1, 1]");
  EXPECT_LOOM_ERROR(x.transpose(0, 3), "Dimension out of range (expected to be in range of [-3, 2], but got 3)");
  EXPECT_LOOM_ERROR(cat({x, ones({2, 3, 4}, kFloat32)}, 0), "expected both operands to have the same dtype");
}

}  // namespace
}  // namespace loom
