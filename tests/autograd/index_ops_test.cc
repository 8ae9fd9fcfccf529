// embedding: values and gradients against PyTorch, gradcheck with repeated
// indices, errors in PyTorch's words.
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/native.h"
#include "core/native_index.h"
#include "testing.h"

namespace loom {
namespace {

using testing::random_tensor;

TEST(EmbeddingOp, ForwardAndBackwardMatchPyTorch) {
  // w = arange(15).reshape(5, 3) * 0.5 - 2, idx = [[4, 0, 4], [2, 2, 1]],
  // g = arange(18).reshape(2, 3, 3) * 0.1; F.embedding(idx, w) and w.grad after
  // backward(g), printed by PyTorch 1.13 (float64):
  const std::vector<double> expected_out = {4.0,  4.5, 5.0, -2.0, -1.5, -1.0, 4.0, 4.5, 5.0,
                                            1.0,  1.5, 2.0, 1.0,  1.5,  2.0,  -0.5, 0.0, 0.5};
  const std::vector<double> expected_grad = {
      0.30000000000000004, 0.4, 0.5, 1.5, 1.6, 1.7000000000000002, 2.1, 2.3, 2.5,
      0.0, 0.0, 0.0, 0.6000000000000001, 0.8, 1.0};
  for (DType dtype : {kFloat64, kFloat32}) {
    Tensor w = native::arange(0, 15, 1, dtype).reshape({5, 3}) * 0.5 - 2.0;
    w = w.detach().requires_grad_();
    Tensor idx = tensor_int64({4, 0, 4, 2, 2, 1}, {2, 3});
    Tensor out = embedding(w, idx);
    ASSERT_EQ(out.shape(), (Shape{2, 3, 3}));
    EXPECT_EQ(out.dtype(), dtype);
    testing::expect_all_close(out.to_vector<double>(), expected_out, 0, 0, "embedding forward");
    Tensor g = native::arange(0, 18, 1, dtype).reshape({2, 3, 3}) * 0.1;
    out.backward(g);
    double tol = dtype == kFloat64 ? 1e-15 : 1e-6;
    testing::expect_all_close(w.grad().to_vector<double>(), expected_grad, tol, tol,
                              "embedding grad");
  }
}

TEST(EmbeddingOp, GradcheckWithRepeatedIndices) {
  auto check = [](const Tensor& idx, const std::string& what) {
    Tensor w = random_tensor({6, 4}, 7).requires_grad_();
    GradcheckResult r = gradcheck([&](const std::vector<Tensor>& x) { return embedding(x[0], idx); },
                                  {w});
    EXPECT_TRUE(r.ok) << what << ": " << r.message;
  };
  check(tensor_int64({1, 3, 1, 5, 1, 0}, {2, 3}), "2-D indices, index 1 three times");
  check(tensor_int64({2, 2, 2, 2}, {4}), "one index only");
  check(tensor_int64({5}, {}), "0-D index");
  check(tensor_int64({}, {0}), "no indices");
}

TEST(EmbeddingOp, ShapesAndSharedRows) {
  Tensor w = random_tensor({4, 3}, 1);
  EXPECT_EQ(embedding(w, tensor_int64({2}, {})).shape(), (Shape{3}));
  EXPECT_EQ(embedding(w, tensor_int64({}, {0})).shape(), (Shape{0, 3}));
  EXPECT_EQ(embedding(w, tensor_int64({0, 1, 2, 3, 0, 1}, {1, 2, 3})).shape(), (Shape{1, 2, 3, 3}));
  // A transposed (non-contiguous) table reads the same rows as its contiguous copy.
  Tensor wt = random_tensor({3, 4}, 2).t();
  Tensor idx = tensor_int64({3, 0, 3}, {3});
  auto got = embedding(wt, idx).to_vector<double>(), table = wt.contiguous().to_vector<double>();
  for (int i = 0; i < 3; ++i)
    for (int e = 0; e < 3; ++e)
      EXPECT_EQ(got[i * 3 + e], table[(i == 1 ? 0 : 3) * 3 + e]);
}

TEST(EmbeddingOp, BackwardIsRepeatable) {
  // Many repeats of few rows: two backward passes give the same bits.
  std::vector<std::int64_t> ids(500);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>((i * 7) % 3);
  Tensor idx = tensor_int64(ids, {500});
  Tensor g = random_tensor({500, 9}, 3, kFloat32);
  auto a = native::embedding_backward(g, idx, 4).to_vector<float>();
  auto b = native::embedding_backward(g, idx, 4).to_vector<float>();
  EXPECT_EQ(a, b);
  for (int e = 0; e < 9; ++e) EXPECT_EQ(a[3 * 9 + e], 0.0f);  // row 3 never named
}

TEST(EmbeddingOp, Errors) {
  Tensor w = native::zeros({4, 3});
  testing::expect_error_containing([&] { embedding(w, tensor_int64({0, 4}, {2})); }, "index out of range in self");
  testing::expect_error_containing([&] { embedding(w, tensor_int64({-1}, {1})); }, "index out of range in self");
  testing::expect_error_containing([&] { embedding(w, native::zeros({2})); },
               "Expected tensor for argument #1 'indices' to have one of the following scalar "
               "types: Long, Int; but got torch.FloatTensor instead (while checking arguments for "
               "embedding)");
  testing::expect_error_containing([&] { embedding(native::zeros({4}), tensor_int64({1}, {1})); },
               "'weight' must be 2-D");
  testing::expect_error_containing([&] { embedding(native::zeros({4, 3}, kInt64), tensor_int64({1}, {1})); },
               "expected a floating dtype");
}

}  // namespace
}  // namespace loom
