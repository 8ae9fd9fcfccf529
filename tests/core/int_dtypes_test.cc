// int32 and uint8 tensors (torch.int32 "Int", torch.uint8 "Byte"): casts,
// factories, printing, arithmetic, comparisons, clamp, where, reductions,
// cumsum, index_select, HDF5, and PyTorch's refusals. Every expected value is
// PyTorch 1.13's; the call that produced it is quoted beside it.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/indexing.h"
#include "autograd/statistics_ops.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "core/tensor_io.h"
#include "../autograd/op_testing.h"
#include "testing.h"

namespace loom {
namespace {

using testing::expect_tensor;

// m = torch.tensor([[3, -7, 2, 9], [-1, 4, 4, -8], [5, 0, -6, 1]], dtype=torch.int32)
Tensor m_int32() {
  return tensor({3, -7, 2, 9, -1, 4, 4, -8, 5, 0, -6, 1}, {3, 4}, TensorOptions(kInt32));
}
// u = torch.tensor([[200, 7, 0], [255, 1, 128]], dtype=torch.uint8)
Tensor u_uint8() { return tensor({200, 7, 0, 255, 1, 128}, {2, 3}, TensorOptions(kUInt8)); }

std::vector<std::int64_t> ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }

TEST(IntDtypes, NamesAndSizes) {
  EXPECT_EQ(element_size(kInt32), 4u);
  EXPECT_EQ(element_size(kUInt8), 1u);
  EXPECT_EQ(dtype_name(kInt32), "int32");
  EXPECT_EQ(dtype_name(kUInt8), "uint8");
  EXPECT_EQ(scalar_type_name(kInt32), "Int");  // str(torch.int32) in messages: "Int"
  EXPECT_EQ(scalar_type_name(kUInt8), "Byte");
  EXPECT_TRUE(is_integral(kInt32) && is_integral(kUInt8) && is_integral(kInt64));
  EXPECT_FALSE(is_integral(kBool) || is_floating(kInt32) || is_floating(kUInt8));
}

TEST(IntDtypes, FloatToIntegerCastsMatchPyTorch) {
  const std::vector<double> f = {-2.7, -1.5, -0.5, 0.5, 1.5, 2.7, 255.9, 256.5, 300.2, -300.7,
                                 std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity(), 3e9, -3e9};
  const Shape s{static_cast<std::int64_t>(f.size())};
  Tensor x = tensor(f, s);  // float32
  // torch.tensor(f).to(torch.int32).tolist()
  EXPECT_EQ(ints(to(x, kInt32)),
            (std::vector<std::int64_t>{-2, -1, 0, 0, 1, 2, 255, 256, 300, -300, -2147483648LL,
                                       -2147483648LL, -2147483648LL, -2147483648LL}));
  // torch.tensor(f).to(torch.uint8).tolist(), and the same from float64
  const std::vector<std::int64_t> u8 = {254, 255, 0, 0, 1, 2, 255, 0, 44, 212, 0, 0, 0, 0};
  EXPECT_EQ(ints(to(x, kUInt8)), u8);
  EXPECT_EQ(ints(to(tensor(f, s, TensorOptions(kFloat64)), kUInt8)), u8);
  // torch.tensor(f).to(torch.int64).tolist()
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(ints(to(x, kInt64)), (std::vector<std::int64_t>{-2, -1, 0, 0, 1, 2, 255, 256, 300, -300,
                                                           lo, lo, 3000000000LL, -3000000000LL}));
  // torch.tensor([-1.0, -0.9]).to(torch.uint8).tolist() -> [255, 0]
  EXPECT_EQ(ints(to(tensor({-1.0, -0.9}), kUInt8)), (std::vector<std::int64_t>{255, 0}));
  // torch.tensor([0.0, -0.0, 0.5, nan]).bool().tolist() -> [False, False, True, True]
  EXPECT_EQ(to(tensor({0.0, -0.0, 0.5, std::numeric_limits<double>::quiet_NaN()}), kBool).to_vector<bool>(),
            (std::vector<bool>{false, false, true, true}));
}

TEST(IntDtypes, IntegerToIntegerCastsWrap) {
  Tensor i = tensor_int64({-300, -1, 0, 1, 255, 256, 70000, (1LL << 31) + 5, -(1LL << 31) - 5}, {9});
  // i.to(torch.int32).tolist()
  EXPECT_EQ(ints(to(i, kInt32)), (std::vector<std::int64_t>{-300, -1, 0, 1, 255, 256, 70000,
                                                           -2147483643LL, 2147483643LL}));
  // i.to(torch.uint8).tolist() and i.to(torch.int32).to(torch.uint8).tolist()
  const std::vector<std::int64_t> u8 = {212, 255, 0, 1, 255, 0, 112, 5, 251};
  EXPECT_EQ(ints(to(i, kUInt8)), u8);
  EXPECT_EQ(ints(to(to(i, kInt32), kUInt8)), u8);
  // torch.tensor([0, 1, 2], dtype=torch.uint8).bool(); torch.tensor([True, False]).to(torch.uint8)
  EXPECT_EQ(to(tensor({0, 1, 2}, TensorOptions(kUInt8)), kBool).to_vector<bool>(),
            (std::vector<bool>{false, true, true}));
  EXPECT_EQ(ints(to(tensor({1, 0}, TensorOptions(kBool)), kUInt8)), (std::vector<std::int64_t>{1, 0}));
  // u.float() is exact
  expect_tensor(to(u_uint8(), kFloat32), {2, 3}, {200, 7, 0, 255, 1, 128}, 0, 0);
}

TEST(IntDtypes, FactoriesAndItem) {
  // torch.full((2,), -1, dtype=torch.uint8) -> [255, 255]; torch.full((2,), 2.7, dtype=torch.int32) -> [2, 2]
  EXPECT_EQ(ints(native::full({2}, -1, TensorOptions(kUInt8))), (std::vector<std::int64_t>{255, 255}));
  EXPECT_EQ(ints(native::full({2}, 2.7, TensorOptions(kInt32))), (std::vector<std::int64_t>{2, 2}));
  // torch.arange(0, 5, 1.5, dtype=torch.int32) -> [0, 1, 2, 3]; torch.arange(0, 5, dtype=torch.uint8)
  EXPECT_EQ(ints(native::arange(0, 5, 1.5, TensorOptions(kInt32))), (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(ints(native::arange(0, 5, 1, TensorOptions(kUInt8))), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  // torch.arange(0.5, 5, 1.5, dtype=torch.int32) -> [0, 1, 2]; with torch.int64 -> [0, 1, 2, 3, 4]
  // (int64 counts from the truncated bounds); torch.arange(2.9, 8, 2.5, dtype=torch.int32) -> [2, 4, 6]
  EXPECT_EQ(ints(native::arange(0.5, 5, 1.5, TensorOptions(kInt32))), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(ints(native::arange(0.5, 5, 1.5, TensorOptions(kInt64))), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(ints(native::arange(2.9, 8, 2.5, TensorOptions(kInt32))), (std::vector<std::int64_t>{2, 4, 6}));
  // torch.arange(1, 2.5, 0.5, dtype=torch.int32): "step must be nonzero"
  EXPECT_ERROR_TEXT(native::arange(1, 2.5, 0.5, TensorOptions(kInt32)), "arange: step must be nonzero");
  // torch.arange(0, 1e300): "invalid size, possible overflow?"
  EXPECT_ERROR_TEXT(native::arange(0, 1e300, 1, TensorOptions(kInt64)), "arange: invalid size, possible overflow?");
  Tensor z = native::zeros({2, 2}, TensorOptions(kInt32)), o = native::ones({3}, TensorOptions(kUInt8));
  EXPECT_EQ(z.dtype(), kInt32);
  EXPECT_EQ(ints(z), (std::vector<std::int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(ints(o), (std::vector<std::int64_t>{1, 1, 1}));
  EXPECT_EQ(empty({4}, TensorOptions(kUInt8)).dtype(), kUInt8);
  // torch.tensor([7], dtype=torch.int32).item() -> 7
  EXPECT_EQ(tensor({7}, TensorOptions(kInt32)).item<std::int64_t>(), 7);
  EXPECT_EQ(u_uint8().data<std::uint8_t>()[3], 255);
  EXPECT_EQ(m_int32().data<std::int32_t>()[1], -7);
  EXPECT_EQ(m_int32().to_vector<std::int32_t>()[11], 1);
  EXPECT_ERROR_TEXT(m_int32().data<std::uint8_t>(), "data<uint8>() called on a tensor of dtype int32");
  // fill_ with an integer Scalar is exact (and wraps for uint8).
  Tensor f = native::zeros({2}, TensorOptions(kUInt8));
  f.fill_(-2);
  EXPECT_EQ(ints(f), (std::vector<std::int64_t>{254, 254}));
}

TEST(IntDtypes, PrintsAsPyTorch) {
  // str(m), str(u), str(torch.tensor(5, dtype=torch.int32)), str(torch.zeros(0, dtype=torch.uint8))
  EXPECT_EQ(m_int32().str(),
            "tensor([[ 3, -7,  2,  9],\n        [-1,  4,  4, -8],\n        [ 5,  0, -6,  1]], "
            "dtype=torch.int32)");
  EXPECT_EQ(u_uint8().str(), "tensor([[200,   7,   0],\n        [255,   1, 128]], dtype=torch.uint8)");
  EXPECT_EQ(native::full({}, 5, TensorOptions(kInt32)).str(), "tensor(5, dtype=torch.int32)");
  EXPECT_EQ(native::zeros({0}, TensorOptions(kUInt8)).str(), "tensor([], dtype=torch.uint8)");
  // str(torch.tensor([-2147483648, 0], dtype=torch.int32))
  EXPECT_EQ(tensor({-2147483648.0, 0}, TensorOptions(kInt32)).str(),
            "tensor([-2147483648,           0], dtype=torch.int32)");
}

TEST(IntDtypes, ArithmeticKeepsOrPromotesAsPyTorch) {
  Tensor m = m_int32(), u = u_uint8();
  // m * 3 -> int32; m + True -> int32; m / 2 -> float32 (true division)
  Tensor m3 = m * 3;
  EXPECT_EQ(m3.dtype(), kInt32);
  EXPECT_EQ(ints(m3), (std::vector<std::int64_t>{9, -21, 6, 27, -3, 12, 12, -24, 15, 0, -18, 3}));
  Tensor mt = m + true;
  EXPECT_EQ(mt.dtype(), kInt32);
  EXPECT_EQ(ints(mt), (std::vector<std::int64_t>{4, -6, 3, 10, 0, 5, 5, -7, 6, 1, -5, 2}));
  Tensor half = m / 2;
  EXPECT_EQ(half.dtype(), kFloat32);
  expect_tensor(half, {3, 4}, {1.5, -3.5, 1, 4.5, -0.5, 2, 2, -4, 2.5, 0, -3, 0.5}, 0, 0);
  // (m * 2.5)[0] -> [7.5, -17.5, 5, 22.5] float32
  Tensor mf = m * 2.5;
  EXPECT_EQ(mf.dtype(), kFloat32);
  expect_tensor(mf[0], {4}, {7.5, -17.5, 5, 22.5}, 0, 0);
  // u - 1 and u * 2 wrap in uint8; u + int32 tensor -> int32
  Tensor um = u - 1;
  EXPECT_EQ(um.dtype(), kUInt8);
  EXPECT_EQ(ints(um), (std::vector<std::int64_t>{199, 6, 255, 254, 0, 127}));
  EXPECT_EQ(ints(u * 2), (std::vector<std::int64_t>{144, 14, 0, 254, 2, 0}));
  Tensor ui = u + tensor({1, -1, 300}, TensorOptions(kInt32));
  EXPECT_EQ(ui.dtype(), kInt32);
  EXPECT_EQ(ints(ui), (std::vector<std::int64_t>{201, 6, 300, 256, 0, 428}));
  // u / 3 -> float32
  Tensor u3 = u / 3;
  EXPECT_EQ(u3.dtype(), kFloat32);
  expect_tensor(u3, {2, 3}, {66.6667, 2.3333, 0, 85, 0.3333, 42.6667}, 1e-5, 1e-4);
  // torch.tensor([250, 3, 7], dtype=torch.uint8) with [10, 5, 2]: add, sub (v - u), mul wrap
  Tensor a = tensor({250, 3, 7}, TensorOptions(kUInt8)), b = tensor({10, 5, 2}, TensorOptions(kUInt8));
  EXPECT_EQ(ints(a + b), (std::vector<std::int64_t>{4, 8, 9}));
  EXPECT_EQ(ints(b - a), (std::vector<std::int64_t>{16, 2, 251}));
  EXPECT_EQ(ints(a * b), (std::vector<std::int64_t>{196, 15, 14}));
  // u + 300 -> [38, 47, 51] (the scalar wraps into uint8); u + (-1) -> [249, 2, 6]
  EXPECT_EQ(ints(a + 300), (std::vector<std::int64_t>{38, 47, 51}));
  EXPECT_EQ(ints(a + (-1)), (std::vector<std::int64_t>{249, 2, 6}));
  // torch.tensor([2147483647, -5, 7], dtype=torch.int32) + 1 wraps: [-2147483648, -4, 8]
  Tensor big = tensor({2147483647, -5, 7}, TensorOptions(kInt32));
  EXPECT_EQ(ints(big + 1), (std::vector<std::int64_t>{-2147483648LL, -4, 8}));
  // big.pow(2) -> [1, 25, 49] int32 (wrapping); torch.maximum(big, tensor([1], int32))
  EXPECT_EQ(ints(pow(big, tensor({2}, TensorOptions(kInt32)))), (std::vector<std::int64_t>{1, 25, 49}));
  EXPECT_EQ(ints(maximum(big, tensor({1}, TensorOptions(kInt32)))),
            (std::vector<std::int64_t>{2147483647, 1, 7}));
  // (m + torch.tensor(5)).dtype -> int32; (u - torch.tensor(5, dtype=torch.int32)).dtype -> uint8
  EXPECT_EQ((m + native::full({}, 5, TensorOptions(kInt64))).dtype(), kInt32);
  EXPECT_EQ((u - native::full({}, 5, TensorOptions(kInt32))).dtype(), kUInt8);
}

TEST(IntDtypes, NegAbsSignClamp) {
  Tensor m = m_int32();
  // -m, m.abs(), m.sign(): int32
  Tensor n = -m;
  EXPECT_EQ(n.dtype(), kInt32);
  EXPECT_EQ(ints(n), (std::vector<std::int64_t>{-3, 7, -2, -9, 1, -4, -4, 8, -5, 0, 6, -1}));
  EXPECT_EQ(ints(abs(m)), (std::vector<std::int64_t>{3, 7, 2, 9, 1, 4, 4, 8, 5, 0, 6, 1}));
  Tensor s = sign(m);
  EXPECT_EQ(s.dtype(), kInt32);
  EXPECT_EQ(ints(s), (std::vector<std::int64_t>{1, -1, 1, 1, -1, 1, 1, -1, 1, 0, -1, 1}));
  // -torch.tensor([250, 3, 7], dtype=torch.uint8) -> [6, 253, 249]; .abs() is itself; .sign() -> 1 or 0
  Tensor a = tensor({250, 3, 7}, TensorOptions(kUInt8));
  EXPECT_EQ(ints(-a), (std::vector<std::int64_t>{6, 253, 249}));
  EXPECT_EQ(ints(abs(a)), (std::vector<std::int64_t>{250, 3, 7}));
  EXPECT_EQ(ints(sign(u_uint8())), (std::vector<std::int64_t>{1, 1, 0, 1, 1, 1}));
  // torch.tensor([-2147483648, -3], dtype=torch.int32).abs() -> [-2147483648, 3] (wraps)
  EXPECT_EQ(ints(abs(tensor({-2147483648.0, -3}, TensorOptions(kInt32)))),
            (std::vector<std::int64_t>{-2147483648LL, 3}));
  // in place: u.clone().neg_() -> [6, 253, 249]
  Tensor c = native::clone(a);
  c.neg_();
  EXPECT_EQ(ints(c), (std::vector<std::int64_t>{6, 253, 249}));
  // m.clamp(-2, 3) -> int32
  Tensor cl = clamp(m, -2, 3);
  EXPECT_EQ(cl.dtype(), kInt32);
  EXPECT_EQ(ints(cl), (std::vector<std::int64_t>{3, -2, 2, 3, -1, 3, 3, -2, 3, 0, -2, 1}));
  // big.clamp(-3.5, 6.5) -> float32 [6.5, -3.5, 6.5]
  Tensor big = tensor({2147483647, -5, 7}, TensorOptions(kInt32));
  Tensor cf = clamp(big, -3.5, 6.5);
  EXPECT_EQ(cf.dtype(), kFloat32);
  expect_tensor(cf, {3}, {6.5, -3.5, 6.5}, 0, 0);
  // torch.tensor([250, 3, 7], dtype=torch.uint8).clamp(-4, 100) -> [100, 100, 100] (min wraps to 252)
  EXPECT_EQ(ints(clamp(a, -4, 100)), (std::vector<std::int64_t>{100, 100, 100}));
  EXPECT_EQ(ints(clamp(a, 4, 100)), (std::vector<std::int64_t>{100, 4, 7}));
  // b.clamp(0, 1) on bool -> int64 [[1, 0, 1], [1, 1, 0]]
  Tensor bc = clamp(tensor({1, 0, 1}, TensorOptions(kBool)), 0, 1);
  EXPECT_EQ(bc.dtype(), kInt64);
  EXPECT_EQ(ints(bc), (std::vector<std::int64_t>{1, 0, 1}));
}

TEST(IntDtypes, ComparisonsAndWhere) {
  Tensor u = tensor({250, 3, 7}, TensorOptions(kUInt8));
  // u > 3 -> [True, False, True]; u > -1 -> all False (-1 wraps to 255); u == 250.5 -> all False
  EXPECT_EQ((u > 3).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ((u > -1).to_vector<bool>(), (std::vector<bool>{false, false, false}));
  EXPECT_EQ((u == 250.5).to_vector<bool>(), (std::vector<bool>{false, false, false}));
  // u < torch.tensor([300, 1, 1], dtype=torch.int32) -> [True, False, False]
  EXPECT_EQ((u < tensor({300, 1, 1}, TensorOptions(kInt32))).to_vector<bool>(),
            (std::vector<bool>{true, false, false}));
  // torch.tensor([True]) < torch.tensor([2], dtype=torch.uint8) -> [True]
  EXPECT_EQ((tensor({1}, TensorOptions(kBool)) < tensor({2}, TensorOptions(kUInt8))).to_vector<bool>(),
            (std::vector<bool>{true}));
  // torch.where(tensor([True, False, True]), u, tensor([2147483647, -5, 7], dtype=torch.int32))
  //   -> [250, -5, 7] int32
  Tensor w = where(tensor({1, 0, 1}, TensorOptions(kBool)), u,
                   tensor({2147483647, -5, 7}, TensorOptions(kInt32)));
  EXPECT_EQ(w.dtype(), kInt32);
  EXPECT_EQ(ints(w), (std::vector<std::int64_t>{250, -5, 7}));
}

TEST(IntDtypes, SumAndCumsumGiveInt64) {
  Tensor m = m_int32(), u = u_uint8();
  // m.sum(1) -> [7, -1, 0] int64; m.sum(0, keepdim=True) -> [[7, -3, 0, 2]]; m.sum((0, 1)) -> 6
  Tensor s1 = m.sum(1);
  EXPECT_EQ(s1.dtype(), kInt64);
  EXPECT_EQ(ints(s1), (std::vector<std::int64_t>{7, -1, 0}));
  Tensor s0 = m.sum(0, /*keepdim=*/true);
  EXPECT_EQ(shape_str(s0.shape()), "[1, 4]");
  EXPECT_EQ(ints(s0), (std::vector<std::int64_t>{7, -3, 0, 2}));
  EXPECT_EQ(ints(m.sum({0, 1})), (std::vector<std::int64_t>{6}));
  EXPECT_EQ(m.sum({0, 1}).dim(), 0);
  // torch.tensor([2147483647, -5, 7], dtype=torch.int32).sum() -> 2147483649 (int64: no overflow)
  EXPECT_EQ(tensor({2147483647, -5, 7}, TensorOptions(kInt32)).sum().item<std::int64_t>(), 2147483649LL);
  // u.sum(1) -> [207, 384]; u.sum() -> 591
  EXPECT_EQ(ints(u.sum(1)), (std::vector<std::int64_t>{207, 384}));
  EXPECT_EQ(u.sum().item<std::int64_t>(), 591);
  EXPECT_EQ(u.sum().dtype(), kInt64);
  // bool: b.sum(1) -> [2, 2]
  Tensor b = tensor({1, 0, 1, 1, 1, 0}, {2, 3}, TensorOptions(kBool));
  EXPECT_EQ(ints(b.sum(1)), (std::vector<std::int64_t>{2, 2}));
  // m.cumsum(1), m.cumsum(0) -> int64
  Tensor c1 = cumsum(m, 1);
  EXPECT_EQ(c1.dtype(), kInt64);
  EXPECT_EQ(shape_str(c1.shape()), "[3, 4]");
  EXPECT_EQ(ints(c1), (std::vector<std::int64_t>{3, -4, -2, 7, -1, 3, 7, -1, 5, 5, -1, 0}));
  EXPECT_EQ(ints(cumsum(m, 0)), (std::vector<std::int64_t>{3, -7, 2, 9, 2, -3, 6, 1, 7, -3, 0, 2}));
  EXPECT_EQ(ints(cumsum(m, -2)), ints(cumsum(m, 0)));
  // u.cumsum(1) -> [[200, 207, 207], [255, 256, 384]]; b.cumsum(1) -> [[1, 1, 2], [1, 2, 2]]
  EXPECT_EQ(ints(cumsum(u, 1)), (std::vector<std::int64_t>{200, 207, 207, 255, 256, 384}));
  EXPECT_EQ(ints(cumsum(b, 1)), (std::vector<std::int64_t>{1, 1, 2, 1, 2, 2}));
  // torch.tensor([2147483647, 1], dtype=torch.int32).cumsum(0) -> [2147483647, 2147483648]
  EXPECT_EQ(ints(cumsum(tensor({2147483647, 1}, TensorOptions(kInt32)), 0)),
            (std::vector<std::int64_t>{2147483647, 2147483648LL}));
  // A longer row (several doubling steps) against a running sum: 0..36 along dim 1.
  Tensor r = native::arange(0, 37, 1, TensorOptions(kInt32)).reshape({1, 37});
  std::vector<std::int64_t> running;
  std::int64_t acc = 0;
  for (int i = 0; i < 37; ++i) running.push_back(acc += i);
  EXPECT_EQ(ints(cumsum(r, 1)), running);
  // a 0-dim tensor: itself as int64
  EXPECT_EQ(ints(cumsum(native::full({}, 4, TensorOptions(kUInt8)), 0)), (std::vector<std::int64_t>{4}));
}

TEST(IntDtypes, MaxMinArgmax) {
  Tensor m = m_int32(), u = u_uint8();
  // m.max(1) -> values [9, 4, 5] int32, indices [3, 1, 0]
  auto [mv, mi] = m.max(1);
  EXPECT_EQ(mv.dtype(), kInt32);
  EXPECT_EQ(ints(mv), (std::vector<std::int64_t>{9, 4, 5}));
  EXPECT_EQ(ints(mi), (std::vector<std::int64_t>{3, 1, 0}));
  // m.min(1) -> [-7, -8, -6], [1, 3, 2]; m.min(0) -> [-1, -7, -6, -8], [1, 0, 2, 1]; m.min() -> -8
  auto [nv, ni] = min(m, 1);
  EXPECT_EQ(nv.dtype(), kInt32);
  EXPECT_EQ(ints(nv), (std::vector<std::int64_t>{-7, -8, -6}));
  EXPECT_EQ(ints(ni), (std::vector<std::int64_t>{1, 3, 2}));
  auto [nv0, ni0] = min(m, 0);
  EXPECT_EQ(ints(nv0), (std::vector<std::int64_t>{-1, -7, -6, -8}));
  EXPECT_EQ(ints(ni0), (std::vector<std::int64_t>{1, 0, 2, 1}));
  EXPECT_EQ(min(m).item<std::int64_t>(), -8);
  EXPECT_EQ(min(m).dtype(), kInt32);
  // m.argmax() -> 3; m.max() -> 9
  EXPECT_EQ(m.argmax().item<std::int64_t>(), 3);
  EXPECT_EQ(m.max().item<std::int64_t>(), 9);
  // u.min(1) -> [0, 1], [2, 1]; u.max(0) -> [255, 7, 128], [1, 0, 1]
  auto [uv, ui] = min(u, 1);
  EXPECT_EQ(uv.dtype(), kUInt8);
  EXPECT_EQ(ints(uv), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(ints(ui), (std::vector<std::int64_t>{2, 1}));
  auto [xv, xi] = u.max(0);
  EXPECT_EQ(ints(xv), (std::vector<std::int64_t>{255, 7, 128}));
  EXPECT_EQ(ints(xi), (std::vector<std::int64_t>{1, 0, 1}));
  // b.min(1) on [[T, F, T], [T, T, F]] -> [False, False], [1, 2]
  auto [bv, bi] = min(tensor({1, 0, 1, 1, 1, 0}, {2, 3}, TensorOptions(kBool)), 1);
  EXPECT_EQ(bv.dtype(), kBool);
  EXPECT_EQ(bv.to_vector<bool>(), (std::vector<bool>{false, false}));
  EXPECT_EQ(ints(bi), (std::vector<std::int64_t>{1, 2}));
  // extremes: min/max of int32 limits
  Tensor ext = tensor({2147483647, -2147483648.0, 0}, TensorOptions(kInt32));
  EXPECT_EQ(min(ext).item<std::int64_t>(), -2147483648LL);
  EXPECT_EQ(ext.max().item<std::int64_t>(), 2147483647);
}

TEST(IntDtypes, LogsumexpComputesInFloat) {
  // u.logsumexp(1) -> [200., 255.] float32; b.logsumexp(1) -> [1.8620, 1.8620]
  Tensor l = logsumexp(u_uint8(), 1);
  EXPECT_EQ(l.dtype(), kFloat32);
  expect_tensor(l, {2}, {200, 255}, 1e-6, 0);
  Tensor lb = logsumexp(tensor({1, 0, 1, 1, 1, 0}, {2, 3}, TensorOptions(kBool)), 1);
  expect_tensor(lb, {2}, {1.8620, 1.8620}, 0, 1e-4);
}

TEST(IntDtypes, IndexSelectAcceptsInt32Indices) {
  Tensor x = native::arange(0, 12, 1, TensorOptions(kFloat32)).reshape({3, 4});
  // x.index_select(0, torch.tensor([0, 2], dtype=torch.int32)) -> rows 0 and 2
  Tensor r = index_select(x, 0, tensor({0, 2}, TensorOptions(kInt32)));
  expect_tensor(r, {2, 4}, {0, 1, 2, 3, 8, 9, 10, 11}, 0, 0);
  // PyTorch's refusals: uint8 for index_select, int32 for gather
  EXPECT_ERROR_TEXT(index_select(x, 0, tensor({0, 2}, TensorOptions(kUInt8))),
                    "index_select(): Expected dtype int32 or int64 for index");
  EXPECT_ERROR_TEXT(gather(x, 1, tensor({0, 1, 2}, {3, 1}, TensorOptions(kInt32))),
                    "gather(): Expected dtype int64 for index");
}

TEST(IntDtypes, EmbeddingAcceptsInt32Indices) {
  Tensor w = native::arange(0, 12, 1, TensorOptions(kFloat64)).reshape({4, 3}).requires_grad_();
  // F.embedding(torch.tensor([[3, 0], [3, 1]], dtype=torch.int32), w): rows 3, 0, 3, 1
  Tensor e = embedding(w, tensor({3, 0, 3, 1}, {2, 2}, TensorOptions(kInt32)));
  expect_tensor(e, {2, 2, 3}, {9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5}, 0, 0);
  e.sum().backward();  // row 3 twice, rows 0 and 1 once
  expect_tensor(w.grad(), {4, 3}, {1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 2, 2}, 0, 0);
  // F.embedding(torch.tensor([0, 1], dtype=torch.uint8), w)
  EXPECT_ERROR_TEXT(embedding(w, tensor({0, 1}, TensorOptions(kUInt8))),
                    "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                    "Long, Int; but got torch.ByteTensor instead (while checking arguments for embedding)");
}

TEST(IntDtypes, RefusedAsPyTorchRefuses) {
  Tensor m = m_int32(), u = u_uint8();
  // torch.zeros(2, dtype=torch.int32).requires_grad_() and the same for uint8
  EXPECT_ERROR_TEXT(native::zeros({2}, TensorOptions(kInt32)).requires_grad_(),
                    "only Tensors of floating point dtype can require gradients, got int32");
  EXPECT_ERROR_TEXT(native::zeros({2}, TensorOptions(kUInt8).requires_grad(true)),
                    "only Tensors of floating point dtype can require gradients, got uint8");
  // m.mean(), u.mean(1)
  EXPECT_ERROR_TEXT(m.mean(), "mean(): could not infer output dtype. Input dtype must be either a "
                              "floating point or complex dtype. Got: Int");
  EXPECT_ERROR_TEXT(u.mean(1), "mean(): could not infer output dtype. Input dtype must be either a "
                               "floating point or complex dtype. Got: Byte");
  // -torch.tensor([True]); torch.tensor([True]).abs()
  Tensor b = tensor({1}, TensorOptions(kBool));
  EXPECT_ERROR_TEXT(-b, "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                        "trying to invert a mask, use the `~` or `logical_not()` operator instead.");
  EXPECT_ERROR_TEXT(abs(b), "\"abs_cpu\" not implemented for 'Bool'");
  // m.var(), m.std(), m.norm()
  EXPECT_ERROR_TEXT(var(m), "std and var only support floating point and complex dtypes");
  EXPECT_ERROR_TEXT(std(u, 1), "std and var only support floating point and complex dtypes");
  EXPECT_ERROR_TEXT(norm(m), "norm(): input dtype should be either floating point or complex. Got Int instead.");
  // u.clone().mul_(2.5): "result type Float can't be cast to the desired output type Byte"
  EXPECT_ERROR_TEXT(native::clone(u).mul_(2.5),
                    "mul_: result type Float can't be cast to the desired output type Byte");
  // torch.zeros(0, dtype=torch.int32).min()
  EXPECT_ERROR_TEXT(min(native::zeros({0}, TensorOptions(kInt32))),
                    "min(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                    "the reduction dim with the 'dim' argument.");
}

class IntDtypesHdf5 : public testing::TempDirTest {};

TEST_F(IntDtypesHdf5, SaveLoadKeepsDtypeAndValues) {
  std::map<std::string, Tensor> in = {{"i", m_int32()}, {"u", u_uint8()},
                                      {"b", tensor({1, 0}, TensorOptions(kBool))}};
  save_tensors(file("t.h5"), in);
  auto out = load_tensors(file("t.h5"));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out["i"].dtype(), kInt32);
  EXPECT_EQ(out["u"].dtype(), kUInt8);
  EXPECT_EQ(out["b"].dtype(), kBool);  // untagged uint8 stays bool, as loom always stored it
  EXPECT_EQ(ints(out["i"]), ints(m_int32()));
  EXPECT_EQ(ints(out["u"]), ints(u_uint8()));
  EXPECT_EQ(shape_str(out["u"].shape()), "[2, 3]");
  Hdf5File f = Hdf5File::open_read(file("t.h5"));
  EXPECT_EQ(f.dtype("i"), kInt32);
  EXPECT_EQ(f.dtype("u"), kUInt8);
  EXPECT_EQ(f.attr_string("u", "loom_dtype"), "uint8");
  EXPECT_FALSE(f.has_attr("i", "loom_dtype"));
}

}  // namespace
}  // namespace loom
