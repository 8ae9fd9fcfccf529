// Type promotion (result_type, promote_types, can_cast), integer and bool
// reductions, and comparisons with tensors and scalars. Expected values are
// PyTorch 1.13's; the call that produced each is quoted beside it.
#include <cstdint>
#include <vector>

#include "autograd/functions.h"
#include "core/native.h"
#include "core/type_promotion.h"
#include "../autograd/op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;

Tensor ints(std::vector<std::int64_t> v) {
  Shape s{static_cast<std::int64_t>(v.size())};
  return tensor_int64(v, s);
}
Tensor bools(std::vector<double> v) {
  Shape s{static_cast<std::int64_t>(v.size())};
  return tensor(v, s, TensorOptions(kBool));
}
std::vector<std::int64_t> as_ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }
std::vector<bool> as_bools(const Tensor& t) { return t.to_vector<bool>(); }

TEST(TypePromotion, PromoteTypesTable) {
  // torch.promote_types for every pair of loom's dtypes.
  EXPECT_EQ(promote_types(kFloat32, kFloat64), kFloat64);
  EXPECT_EQ(promote_types(kBFloat16, kFloat16), kFloat32);
  EXPECT_EQ(promote_types(kBFloat16, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kFloat16, kFloat64), kFloat64);
  EXPECT_EQ(promote_types(kInt64, kBFloat16), kBFloat16);
  EXPECT_EQ(promote_types(kInt64, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kBool, kInt64), kInt64);
  EXPECT_EQ(promote_types(kBool, kFloat16), kFloat16);
  EXPECT_EQ(promote_types(kBool, kBool), kBool);
  EXPECT_TRUE(can_cast(kFloat64, kFloat32));
  EXPECT_TRUE(can_cast(kInt64, kFloat16));
  EXPECT_FALSE(can_cast(kFloat32, kInt64));
  EXPECT_FALSE(can_cast(kInt64, kBool));
  EXPECT_TRUE(can_cast(kBool, kInt64));
}

TEST(TypePromotion, ResultTypeWithZeroDimTensorsAndScalars) {
  Tensor f32 = ones({2}), i64 = ints({1, 2}), b = bools({1, 0});
  // (torch.ones(2) + torch.ones(2, dtype=torch.float64)).dtype -> float64
  EXPECT_EQ(result_type(f32, ones({2}, TensorOptions(kFloat64))), kFloat64);
  // (torch.ones(2) + torch.tensor(1.0, dtype=torch.float64)).dtype -> float32
  EXPECT_EQ(result_type(f32, native::full({}, 1, TensorOptions(kFloat64))), kFloat32);
  // (torch.tensor([1]) + torch.tensor(2.5, dtype=torch.float64)).dtype -> float64
  EXPECT_EQ(result_type(i64, native::full({}, 2.5, TensorOptions(kFloat64))), kFloat64);
  // (torch.tensor([1.], dtype=torch.float16) + torch.tensor(2.5, dtype=torch.float64)).dtype -> float16
  EXPECT_EQ(result_type(ones({1}, TensorOptions(kFloat16)), native::full({}, 2.5, TensorOptions(kFloat64))),
            kFloat16);
  // torch.result_type(torch.tensor([1]), 2.5) -> float32; (torch.tensor([1, 2]) * 2).dtype -> int64
  EXPECT_EQ(result_type(i64, 2.5), kFloat32);
  EXPECT_EQ(result_type(i64, 2), kInt64);
  EXPECT_EQ(result_type(f32, 1e-300), kFloat32);  // a double scalar never widens float32
  // (torch.tensor([1], dtype=torch.bfloat16) * 2.5).dtype -> bfloat16
  EXPECT_EQ(result_type(ones({1}, TensorOptions(kBFloat16)), 2.5), kBFloat16);
  // (torch.tensor([1, 2]) + True).dtype -> int64; (torch.tensor([True]) * 2.5).dtype -> float32;
  // (torch.tensor([True]) + 2).dtype -> int64
  EXPECT_EQ(result_type(i64, true), kInt64);
  EXPECT_EQ(result_type(b, 2.5), kFloat32);
  EXPECT_EQ(result_type(b, 2), kInt64);
  EXPECT_EQ(result_type(b, false), kBool);
}

TEST(TypePromotion, ArithmeticValues) {
  // torch.tensor([1.5], dtype=torch.float32) + torch.tensor([0.1], dtype=torch.float64) -> 1.6 (float64)
  Tensor s = tensor({1.5}) + tensor({0.1}, TensorOptions(kFloat64));
  EXPECT_EQ(s.dtype(), kFloat64);
  EXPECT_EQ(s.item(), 1.6);
  // (torch.tensor([1.1], dtype=torch.bfloat16) + torch.tensor([1.1], dtype=torch.float16)).item()
  //   -> 2.201171875 (float32)
  Tensor h = tensor({1.1}, TensorOptions(kBFloat16)) + tensor({1.1}, TensorOptions(kFloat16));
  EXPECT_EQ(h.dtype(), kFloat32);
  EXPECT_EQ(h.item(), 2.201171875);
  // i = torch.tensor([3, -7, 2**40 + 1]): i * 2 -> [6, -14, 2199023255554] int64;
  // i * 2.5 -> [7.5, -17.5, 2748779069440.0] float32; i + True -> [4, -6, 1099511627778]
  Tensor i = ints({3, -7, (std::int64_t{1} << 40) + 1});
  Tensor i2 = i * 2;
  EXPECT_EQ(i2.dtype(), kInt64);
  EXPECT_EQ(as_ints(i2), (std::vector<std::int64_t>{6, -14, 2199023255554}));
  Tensor f = i * 2.5;
  EXPECT_EQ(f.dtype(), kFloat32);
  expect_tensor(f, {3}, {7.5, -17.5, 2748779069440.0}, 0, 0);
  EXPECT_EQ(as_ints(i + true), (std::vector<std::int64_t>{4, -6, 1099511627778}));
  EXPECT_EQ(as_ints(i - ints({3, 3, 1})), (std::vector<std::int64_t>{0, -10, std::int64_t{1} << 40}));
  EXPECT_EQ(as_ints(10 - i), (std::vector<std::int64_t>{7, 17, 9 - (std::int64_t{1} << 40)}));
  // torch.tensor([1, 2, 7]) / 2 -> [0.5, 1.0, 3.5] float32 (true division)
  Tensor d = ints({1, 2, 7}) / 2;
  EXPECT_EQ(d.dtype(), kFloat32);
  expect_tensor(d, {3}, {0.5, 1.0, 3.5}, 0, 0);
  Tensor d2 = ints({1, 2}) / ints({2, 4});  // torch: [0.5, 0.5]
  EXPECT_EQ(d2.dtype(), kFloat32);
  expect_tensor(d2, {2}, {0.5, 0.5}, 0, 0);
  // torch.tensor([2, -3, 1, -1]) ** torch.tensor([10, 3, -2, -3]) -> [1024, -27, 1, -1]
  EXPECT_EQ(as_ints(pow(ints({2, -3, 1, -1}), ints({10, 3, -2, -3}))),
            (std::vector<std::int64_t>{1024, -27, 1, -1}));
  // torch.tensor([2**62]) * 4 -> [0] (int64 wraps)
  EXPECT_EQ(as_ints(ints({std::int64_t{1} << 62}) * 4), (std::vector<std::int64_t>{0}));
  // torch.tensor([True, False]) + torch.tensor([True, True]) -> [True, True] (bool)
  Tensor bb = bools({1, 0}) + bools({1, 1});
  EXPECT_EQ(bb.dtype(), kBool);
  EXPECT_EQ(as_bools(bb), (std::vector<bool>{true, true}));
  EXPECT_EQ(as_bools(bools({1, 0}) * bools({1, 1})), (std::vector<bool>{true, false}));
  // (torch.tensor([True]) + torch.tensor([3])) -> int64 [4]
  EXPECT_EQ(as_ints(bools({1}) + ints({3})), (std::vector<std::int64_t>{4}));
}

TEST(TypePromotion, GradientsComeBackInEachOperandsDtype) {
  // p32 = torch.tensor([1., 2.], requires_grad=True); p64 = torch.tensor([3., 4.], float64, rg)
  // (p32 * p64).sum().backward() -> p32.grad float32 [3, 4]; p64.grad float64 [1, 2]
  Tensor p32 = tensor({1, 2}, TensorOptions(kFloat32).requires_grad());
  Tensor p64 = tensor({3, 4}, TensorOptions(kFloat64).requires_grad());
  Tensor prod = p32 * p64;
  EXPECT_EQ(prod.dtype(), kFloat64);
  prod.sum().backward();
  EXPECT_EQ(p32.grad().dtype(), kFloat32);
  EXPECT_EQ(p64.grad().dtype(), kFloat64);
  expect_tensor(p32.grad(), {2}, {3, 4}, 0, 0);
  expect_tensor(p64.grad(), {2}, {1, 2}, 0, 0);
  // Gradcheck in float64 across a promotion with an int64 and a bool operand.
  Tensor x = testing::leaf_away_from_zero({2, 3}, 21);
  Tensor k = ints({1, -2, 3});
  Tensor m = bools({1, 0, 1});
  auto f = [&](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] * k + m, (in[0] - k) / (in[0] * 0 + k), maximum(in[0], k * 0)};
  };
  EXPECT_GRADCHECK(f, {x});
}

TEST(TypePromotion, IntegerAndBoolReductions) {
  // torch.tensor([3, -7, 2**40 + 1]).sum() -> 1099511627773 (int64)
  Tensor s = ints({3, -7, (std::int64_t{1} << 40) + 1}).sum();
  EXPECT_EQ(s.dtype(), kInt64);
  EXPECT_EQ(as_ints(s)[0], 1099511627773);
  // Exact beyond 2^53: sums of int64 are not done in double.
  Tensor big = ints({(std::int64_t{1} << 60) + 1, 2});
  EXPECT_EQ(as_ints(big.sum())[0], (std::int64_t{1} << 60) + 3);
  // torch.tensor([[True, False], [True, True]]).sum(0) -> [2, 1] int64
  Tensor bs = tensor({1, 0, 1, 1}, {2, 2}, TensorOptions(kBool)).sum({0});
  EXPECT_EQ(bs.dtype(), kInt64);
  EXPECT_EQ(as_ints(bs), (std::vector<std::int64_t>{2, 1}));
  // pred = torch.tensor([1, 0, 2, 2]); y = torch.tensor([1, 1, 2, 0]); torch.eq(pred, y).sum() -> 2
  Tensor correct = eq(ints({1, 0, 2, 2}), ints({1, 1, 2, 0})).sum();
  EXPECT_EQ(correct.dtype(), kInt64);
  EXPECT_EQ(correct.item<std::int64_t>(), 2);
  // torch.tensor([[4, 9, 9], [-2, -1, -5]]).max(1) -> values [9, -1], indices [1, 1]; argmax() -> 1
  Tensor m = tensor_int64({4, 9, 9, -2, -1, -5}, {2, 3});
  auto [values, indices] = max(m, 1);
  EXPECT_EQ(values.dtype(), kInt64);
  EXPECT_EQ(as_ints(values), (std::vector<std::int64_t>{9, -1}));
  EXPECT_EQ(as_ints(indices), (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(argmax(m).item<std::int64_t>(), 1);
  EXPECT_EQ(max(m).item<std::int64_t>(), 9);
  // Values beyond 2^53 compare exactly.
  Tensor close = ints({(std::int64_t{1} << 60) + 1, (std::int64_t{1} << 60) + 2});
  EXPECT_EQ(argmax(close).item<std::int64_t>(), 1);
  EXPECT_EQ(as_ints(max(close))[0], (std::int64_t{1} << 60) + 2);
  EXPECT_EQ(as_bools(max(bools({0, 1, 0}), 0).first), (std::vector<bool>{true}));
  // torch.tensor([1, 2]).mean(): "mean(): could not infer output dtype. Input dtype must be
  // either a floating point or complex dtype. Got: Long"
  EXPECT_LOOM_ERROR(ints({1, 2}).mean(),
                    "mean(): could not infer output dtype. Input dtype must be either a floating "
                    "point or complex dtype. Got: Long");
  EXPECT_LOOM_ERROR(bools({1}).mean(), "Got: Bool");
}

TEST(TypePromotion, Comparisons) {
  Tensor x32 = tensor({0.1, 0.5, 1.0});
  // (x32 == 0.1) -> [True, False, False]: the scalar is rounded to float32.
  EXPECT_EQ(as_bools(x32 == 0.1), (std::vector<bool>{true, false, false}));
  // (x32.double() == 0.1) -> [False, False, False]
  EXPECT_EQ(as_bools(x32.to(kFloat64) == 0.1), (std::vector<bool>{false, false, false}));
  // x32 > 0.5 -> [F, F, T]; 0.5 < x32 -> [F, F, T]; 0.5 >= x32 -> [T, T, F]
  EXPECT_EQ(as_bools(x32 > 0.5), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(as_bools(0.5 < x32), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(as_bools(0.5 >= x32), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(as_bools(x32 <= 0.5), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(as_bools(1 != x32), (std::vector<bool>{true, true, false}));
  // x32 != torch.tensor([0.1], dtype=torch.float64) -> [T, T, T] (compared in float64)
  EXPECT_EQ(as_bools(x32 != tensor({0.1}, TensorOptions(kFloat64))),
            (std::vector<bool>{true, true, true}));
  // torch.tensor([1, 2]) > 1.5 -> [F, T]; torch.tensor([1, 2]) >= torch.tensor([1.5, 2.0]) -> [F, T]
  EXPECT_EQ(as_bools(ints({1, 2}) > 1.5), (std::vector<bool>{false, true}));
  EXPECT_EQ(as_bools(ints({1, 2}) >= tensor({1.5, 2.0})), (std::vector<bool>{false, true}));
  EXPECT_EQ(as_bools(ints({1, 2}) == 2), (std::vector<bool>{false, true}));
  // Integers beyond 2^53 compare exactly with an integer scalar.
  EXPECT_EQ(as_bools(ints({(std::int64_t{1} << 60) + 1}) == (std::int64_t{1} << 60)),
            (std::vector<bool>{false}));
  Tensor cmp = tensor({1, 2, 3}, {3, 1}) < tensor({2, 2});  // broadcast [3, 1] vs [2]
  EXPECT_EQ(shape_str(cmp.shape()), "[3, 2]");
  EXPECT_EQ(as_bools(cmp), (std::vector<bool>{true, true, false, false, false, false}));
  EXPECT_EQ(cmp.dtype(), kBool);
  EXPECT_LOOM_ERROR(tensor({1, 2}) < tensor({1, 2, 3}),
                    "The size of tensor a (2) must match the size of tensor b (3)");
}

TEST(TypePromotion, RefusedMixtures) {
  // Mistakes PyTorch refuses too, named by both dtypes or values.
  EXPECT_LOOM_ERROR(bools({1}) - bools({1}),
                    "Subtraction, the `-` operator, with two bool tensors is not supported.");
  EXPECT_LOOM_ERROR(ones({2}) + ones({3}, TensorOptions(kFloat64)), "The size of tensor a (2) must match");
  EXPECT_LOOM_ERROR(add(Tensor(), ones({1})), "expected defined tensors");
}

}  // namespace
}  // namespace loom
