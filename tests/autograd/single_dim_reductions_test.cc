// Reductions given one dimension as an integer, as libtorch's IntArrayRef
// accepts it: x.sum(1), x.sum(1, true), x.mean(1), var(x, 1), std(x, 0),
// norm(x, 2, 1), logsumexp(x, 1); braced lists keep working. Expected values
// are PyTorch 1.13's for x = torch.tensor([[3, -7, 2, 9], [-1, 4, 4, -8],
// [5, 0, -6, 1]], dtype=torch.float64).
#include <type_traits>

#include "autograd/functions.h"
#include "autograd/statistics_ops.h"
#include "op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;

Tensor x64() {
  return tensor({3, -7, 2, 9, -1, 4, 4, -8, 5, 0, -6, 1}, {3, 4}, TensorOptions(kFloat64));
}

// x.sum(true) would silently mean x.sum(1): it does not compile.
template <typename T>
constexpr bool sum_takes_bool = requires(T t) { t.sum(true); };
static_assert(!sum_takes_bool<Tensor>);
static_assert(std::is_convertible_v<int, Dims> && std::is_convertible_v<std::int64_t, Dims>);
static_assert(!std::is_convertible_v<bool, Dims>);

TEST(SingleDimReductions, OneIntegerMeansThatDimension) {
  Tensor x = x64();
  // x.sum(-1) -> [7, -1, 0]; x.sum(1) the same; x.sum({1}) too
  expect_tensor(x.sum(-1), {3}, {7, -1, 0}, 0, 0);
  expect_tensor(x.sum(1), {3}, {7, -1, 0}, 0, 0);
  expect_tensor(x.sum({1}), {3}, {7, -1, 0}, 0, 0);
  expect_tensor(x.sum(1, /*keepdim=*/true), {3, 1}, {7, -1, 0}, 0, 0);
  expect_tensor(sum(x, 1), {3}, {7, -1, 0}, 0, 0);
  // x.sum({0, 1}) and x.sum() -> 6
  expect_tensor(x.sum({0, 1}), {}, {6}, 0, 0);
  expect_tensor(x.sum(), {}, {6}, 0, 0);
  // x.mean(1, keepdim=True) -> [[1.75], [-0.25], [0]]
  expect_tensor(x.mean(1, true), {3, 1}, {1.75, -0.25, 0}, 0, 0);
  expect_tensor(mean(x, 1), {3}, {1.75, -0.25, 0}, 0, 0);
  // x.var(1) -> [43.583333333333, 32.25, 20.666666666667]
  expect_tensor(var(x, 1), {3}, {43.583333333333, 32.25, 20.666666666667}, 1e-12, 0);
  // x.std(0) -> [3.055050463304, 5.567764362830, 5.291502622129, 8.504900548115]
  expect_tensor(std(x, 0), {4}, {3.055050463304, 5.567764362830, 5.291502622129, 8.504900548115}, 1e-12, 0);
  // x.norm(dim=1) -> [11.958260743101, 9.848857801796, 7.874007874012]
  expect_tensor(norm(x, 2, 1), {3}, {11.958260743101, 9.848857801796, 7.874007874012}, 1e-12, 0);
  // x.logsumexp(1) -> [9.003385011058, 4.696513553568, 5.024761183497]
  expect_tensor(logsumexp(x, 1), {3}, {9.003385011058, 4.696513553568, 5.024761183497}, 1e-12, 0);
  // a Shape variable still works
  Shape dims{0};
  expect_tensor(x.sum(dims), {4}, {7, -3, 0, 2}, 0, 0);
}

TEST(SingleDimReductions, GradientsFlowThroughTheIntegerForm) {
  Tensor x = x64().requires_grad_();
  x.sum(1).sum().backward();
  expect_tensor(x.grad(), {3, 4}, std::vector<double>(12, 1.0), 0, 0);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return var(in[0], 1); }, {x64().requires_grad_()});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].mean(0, true); }, {x64().requires_grad_()});
}

TEST(SingleDimReductions, BadDimensionIsAnError) {
  Tensor x = x64();
  EXPECT_ERROR_TEXT(x.sum(2), "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  EXPECT_ERROR_TEXT(x.mean(-3), "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
}

}  // namespace
}  // namespace loom
