// Tensor: view semantics (shared storage, offsets, strides), contiguity,
// reshape copying only when needed, dtype conversion, item, factories, and
// errors in PyTorch's words.
#include <cstdint>
#include <vector>

#include "autograd/functions.h"
#include "core/native.h"
#include "core/tensor.h"
#include "../autograd/op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;

Tensor x24() { return arange(24.0, kFloat64).reshape({2, 3, 4}); }

TEST(Tensor, ContiguousStridesAndNumel) {
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(contiguous_strides({}), Shape{});
  EXPECT_EQ(contiguous_strides({3, 0, 2}), (Shape{2, 2, 1}));
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({3, 0}), 0);
  Tensor x = x24();
  EXPECT_EQ(x.dim(), 3);
  EXPECT_EQ(x.numel(), 24);
  EXPECT_EQ(x.size(-1), 4);
  EXPECT_EQ(x.stride(0), 12);
  EXPECT_EQ(shape_str(x.shape()), "[2, 3, 4]");
  EXPECT_EQ(x.device(), kCPU);
  EXPECT_EQ(x.device().str(), "cpu");
}

TEST(Tensor, ViewsShareStorage) {
  Tensor x = x24();
  Tensor v = x.view({6, 4});
  Tensor t = x.transpose(0, 2);
  Tensor n = x.narrow(2, 1, 2);
  Tensor s = x.select(1, 2);
  Tensor sl = x.slice(2, 1, 4, 2);
  Tensor u = x.unsqueeze(1);
  Tensor e = x.select(0, 0).select(0, 0).unsqueeze(0).expand({5, 4});
  for (const Tensor* view : {&v, &t, &n, &s, &sl, &u, &e})
    EXPECT_EQ(view->impl().storage, x.impl().storage);
  // Geometry as PyTorch: x[:, :, 1:3] has strides (12, 4, 1) and offset 1;
  // x.select(1, 2) has offset 8.
  EXPECT_EQ(n.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(n.storage_offset(), 1);
  EXPECT_EQ(s.storage_offset(), 8);
  EXPECT_EQ(t.strides(), (Shape{1, 4, 12}));
  EXPECT_EQ(sl.strides(), (Shape{12, 4, 2}));
  EXPECT_EQ(e.strides(), (Shape{0, 1}));
  // A write through a view shows in the base.
  native::fill_(s, -1.0);
  std::vector<double> xv = testing::values(x);
  for (int b = 0; b < 2; ++b)
    for (int k = 0; k < 4; ++k) EXPECT_EQ(xv[b * 12 + 8 + k], -1.0);
  EXPECT_EQ(xv[7], 7.0);
  native::fill_(t.select(0, 3), 100.0);  // x[:, :, 3]
  EXPECT_EQ(testing::values(x)[3], 100.0);
  EXPECT_EQ(testing::values(x)[23], 100.0);
  EXPECT_EQ(testing::values(v)[3], 100.0);
}

TEST(Tensor, CloneAndContiguousCopyOnlyWhenNeeded) {
  Tensor x = x24();
  Tensor c = x.clone();
  EXPECT_NE(c.impl().storage, x.impl().storage);
  native::fill_(c, 0.0);
  EXPECT_EQ(testing::values(x)[5], 5.0);
  EXPECT_TRUE(x.contiguous().is_same(x));
  Tensor t = x.transpose(0, 1);
  Tensor tc = t.contiguous();
  EXPECT_NE(tc.impl().storage, x.impl().storage);
  EXPECT_TRUE(tc.is_contiguous());
  expect_tensor(tc, {3, 2, 4}, testing::values(t), 0, 0);
}

TEST(Tensor, IsContiguousAsPyTorch) {
  // torch 1.13 for x = ones(2, 3, 4): x.transpose(0, 1) False, x[:, 1:2] False,
  // x[:, :, 1:3] False, x[1:] True, x[:, 0:1].transpose(1, 0) False,
  // x[0:1].expand(2, 3, 4) False, x.select(2, 0) False.
  Tensor x = ones({2, 3, 4});
  EXPECT_TRUE(x.is_contiguous());
  EXPECT_FALSE(x.transpose(0, 1).is_contiguous());
  EXPECT_FALSE(x.slice(1, 1, 2).is_contiguous());
  EXPECT_FALSE(x.slice(2, 1, 3).is_contiguous());
  EXPECT_TRUE(x.slice(0, 1, 2).is_contiguous());
  EXPECT_FALSE(x.slice(1, 0, 1).transpose(1, 0).is_contiguous());
  EXPECT_FALSE(x.slice(0, 0, 1).expand({2, 3, 4}).is_contiguous());
  EXPECT_FALSE(x.select(2, 0).is_contiguous());
  EXPECT_TRUE(x.select(0, 1).is_contiguous());
  EXPECT_TRUE(x.unsqueeze(3).is_contiguous());
  EXPECT_TRUE(full({}, 2.0).is_contiguous());
  // Size-1 dimensions do not break contiguity whatever their stride.
  EXPECT_TRUE(x.slice(0, 0, 1).transpose(0, 1).transpose(0, 1).is_contiguous());
  EXPECT_TRUE(make_view(x, {1, 4}, {99, 1}, 0).is_contiguous());
}

TEST(Tensor, ReshapeViewsWhenPossibleAndCopiesOtherwise) {
  Tensor x = x24();
  Tensor r = x.reshape({4, 6});
  EXPECT_EQ(r.impl().storage, x.impl().storage);
  Tensor nr = x.narrow(0, 1, 1).reshape({3, 4});  // contiguous slice: still a view
  EXPECT_EQ(nr.impl().storage, x.impl().storage);
  EXPECT_EQ(nr.storage_offset(), 12);
  Tensor t = x.transpose(1, 2);
  Tensor split_ok = t.reshape({2, 4, 3});  // same shape: a view
  EXPECT_EQ(split_ok.impl().storage, x.impl().storage);
  Tensor flat = t.reshape({-1});  // needs a copy
  EXPECT_NE(flat.impl().storage, x.impl().storage);
  // torch 1.13: arange(24.).reshape(2, 3, 4).transpose(1, 2).reshape(-1)[:6] = [0, 4, 8, 1, 5, 9].
  std::vector<double> fv = testing::values(flat);
  EXPECT_EQ(std::vector<double>(fv.begin(), fv.begin() + 6), (std::vector<double>{0, 4, 8, 1, 5, 9}));
  // A transposed matrix viewed by merging dims that are still adjacent in memory.
  Tensor merged = x.permute({0, 2, 1}).transpose(1, 2).view({2, 12});
  EXPECT_EQ(merged.impl().storage, x.impl().storage);
  EXPECT_EQ(x.flatten().impl().storage, x.impl().storage);
}

TEST(Tensor, ToDtypeConvertsAsPyTorch) {
  // torch 1.13: tensor([1.7, -1.7, 2.5, 0.0]).to(int64) = [1, -1, 2, 0];
  // tensor([1.7, 0.0, -0.1]).to(bool) = [True, False, True];
  // tensor([0.1, 1/3], float64).to(float32).double() = [0.10000000149011612, 0.3333333432674408].
  Tensor f = tensor({1.7, -1.7, 2.5, 0.0}, kFloat32);
  Tensor i = f.to(kInt64);
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_EQ(i.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, -1, 2, 0}));
  EXPECT_EQ(tensor({1.7, 0.0, -0.1}).to(kBool).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  Tensor d = tensor({0.1, 1.0 / 3}, kFloat64).to(kFloat32).to(kFloat64);
  EXPECT_EQ(testing::values(d), (std::vector<double>{0.10000000149011612, 0.3333333432674408}));
  EXPECT_TRUE(f.to(kFloat32).is_same(f));  // same dtype: the tensor itself
  Tensor back = tensor_int64({3, -4}, {2}).to(kFloat64);
  EXPECT_EQ(testing::values(back), (std::vector<double>{3.0, -4.0}));
  // A strided source converts element by element.
  Tensor tt = x24().transpose(0, 2).to(kFloat32);
  EXPECT_EQ(tt.dtype(), kFloat32);
  expect_tensor(tt, {4, 3, 2}, testing::values(x24().transpose(0, 2)), 0, 0);
}

TEST(Tensor, ItemAndToVector) {
  EXPECT_EQ(full({}, 2.5).item(), 2.5);
  EXPECT_EQ(full({1, 1}, -3.0, kFloat64).item(), -3.0);
  EXPECT_EQ(tensor_int64({7}, {}).item<std::int64_t>(), 7);
  EXPECT_EQ(x24().select(2, 3).select(1, 1).to_vector<double>(), (std::vector<double>{7.0, 19.0}));
  // libtorch: "a Tensor with 2 elements cannot be converted to Scalar".
  EXPECT_LOOM_ERROR(ones({2}).item(), "a Tensor with 2 elements cannot be converted to Scalar");
  EXPECT_LOOM_ERROR(ones({2}).data<double>(), "data<float64>() called on a tensor of dtype float32");
}

TEST(Tensor, Factories) {
  expect_tensor(zeros({2, 2}), {2, 2}, {0, 0, 0, 0}, 0, 0);
  expect_tensor(ones({3}, kFloat64), {3}, {1, 1, 1}, 0, 0);
  expect_tensor(full({2}, -1.5), {2}, {-1.5, -1.5}, 0, 0);
  EXPECT_EQ(zeros({2}).dtype(), kFloat32);
  EXPECT_TRUE(zeros({2}, TensorOptions(kFloat64).requires_grad()).requires_grad());
  // torch.arange(0, 1, 0.3) has 4 elements (float32 values of 0, 0.3, 0.6, 0.9).
  Tensor a = arange(0, 1, 0.3);
  expect_tensor(a, {4}, {0.0, 0.30000001192092896, 0.6000000238418579, 0.8999999761581421}, 0, 0);
  expect_tensor(arange(5.0, kInt64), {5}, {0, 1, 2, 3, 4}, 0, 0);
  expect_tensor(arange(3, 0, -1, kFloat64), {3}, {3, 2, 1}, 0, 0);
  expect_tensor(tensor({1, 2, 3, 4, 5, 6}, {3, 2}), {3, 2}, {1, 2, 3, 4, 5, 6}, 0, 0);
  EXPECT_EQ(zeros_like(x24()).dtype(), kFloat64);
  EXPECT_EQ(shape_str(ones_like(x24()).shape()), "[2, 3, 4]");
  EXPECT_EQ(empty({0, 3}).numel(), 0);
}

TEST(Tensor, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({2, 3}, kFloat64);
  native::copy_(dst, tensor({1, 2, 3}, kFloat32));
  expect_tensor(dst, {2, 3}, {1, 2, 3, 1, 2, 3}, 0, 0);
  native::copy_(dst.t(), tensor({7, 8}, kFloat64).reshape({2, 1}).t().expand({3, 2}));
  expect_tensor(dst, {2, 3}, {7, 7, 7, 8, 8, 8}, 0, 0);
  // torch 1.13: zeros(2, 3).copy_(ones(4)) raises "The size of tensor a (3) must match
  // the size of tensor b (4) at non-singleton dimension 1".
  EXPECT_LOOM_ERROR(native::copy_(dst, ones({4})),
                    "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1");
  EXPECT_LOOM_ERROR(native::copy_(dst, ones({2, 2, 3})), "cannot be broadcast to destination shape [2, 3]");
}

TEST(Tensor, ErrorsInPyTorchWords) {
  Tensor x = ones({2, 3});
  // torch 1.13 messages for the same calls.
  EXPECT_LOOM_ERROR(x.view({4}), "shape '[4]' is invalid for input of size 6");
  EXPECT_LOOM_ERROR(x.size(5), "Dimension out of range (expected to be in range of [-2, 1], but got 5)");
  EXPECT_LOOM_ERROR(x.sum({-3}), "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
  EXPECT_LOOM_ERROR(full({}, 1.0).size(1), "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
  EXPECT_LOOM_ERROR(x + ones({4}),
                    "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1");
  EXPECT_EQ((x * ones({2, 3}, kFloat64)).dtype(), kFloat64);  // promotes, as torch 1.13
  // torch.where(c, float32, float64).dtype -> float64, as torch 1.13
  EXPECT_EQ(where(gt(x, x), x, ones({2, 3}, kFloat64)).dtype(), kFloat64);
  EXPECT_LOOM_ERROR(empty({2, -1}), "Trying to create tensor with negative dimension -1: [2, -1]");
  EXPECT_LOOM_ERROR(tensor({1, 2, 3}, {2, 2}), "tensor(): 3 values do not fill shape [2, 2]");
  EXPECT_LOOM_ERROR(Tensor().dim(), "called a method on an undefined tensor");
#if !defined(LOOM_WITH_CUDA)
  EXPECT_LOOM_ERROR(ones({2}, kCUDA), "CUDA");
#endif
}

}  // namespace
}  // namespace loom
