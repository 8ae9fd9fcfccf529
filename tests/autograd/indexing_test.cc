// Indexing (autograd/indexing.h) against PyTorch 1.13: the same expressions
// as tests/fixtures/make_indexing_cases.py (tests/data/functional/indexing.h5:
// results and x's gradient for a linspace upstream gradient), gradcheck,
// CUDA against the CPU (skipped without a GPU), integer tensors, and errors.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/indexing.h"
#include "autograd/op_testing.h"
#include "autograd/sort_ops.h"
#include "testing.h"

namespace loom {
namespace {

using namespace loom::indexing;  // NOLINT: as libtorch code reads

const std::map<std::string, Tensor>& stored() {
  return testing::stored_tensors("tests/data/functional/indexing.h5");
}
Tensor at(const std::string& key) { return stored().at(key); }

Tensor ids(std::vector<std::int64_t> v, Shape shape, Device device) {
  return tensor_int64(v, shape).to(device);
}

// The expressions of the generator, by name, on a tensor on `dev`.
const std::map<std::string, std::function<Tensor(const Tensor&)>>& cases() {
  static const std::map<std::string, std::function<Tensor(const Tensor&)>> c = {
      {"int", [](const Tensor& x) { return index(x, {1}); }},
      {"neg_int", [](const Tensor& x) { return index(x, {-1, 2}); }},
      {"slice", [](const Tensor& x) { return index(x, {Slice(0, 2)}); }},
      {"slice_step", [](const Tensor& x) { return index(x, {Slice(), Slice(std::nullopt, std::nullopt, 2)}); }},
      {"slice_neg", [](const Tensor& x) { return index(x, {Slice(), Slice(-3), Slice(1, -1)}); }},
      {"none_ellipsis_int", [](const Tensor& x) { return index(x, {None, Ellipsis, 1}); }},
      {"ellipsis_slice", [](const Tensor& x) { return index(x, {Ellipsis, Slice(1, 3)}); }},
      {"tensor_ids", [](const Tensor& x) { return index(x, {Slice(), ids({2, 0, 2, -1}, {4}, x.device())}); }},
      {"tensor_ids_2d", [](const Tensor& x) { return index(x, {ids({0, 2, 2, 1}, {2, 2}, x.device())}); }},
      {"mask_rows",
       [](const Tensor& x) { return index(x, {tensor({1, 0, 1}, kBool).to(x.device())}); }},
      {"mask_2d_after",
       [](const Tensor& x) { return index(x, {1, at("mask").to(kBool).to(x.device())}); }},
      {"mask_values", [](const Tensor& x) { return index(x, {gt(x, full({}, 10.0, TensorOptions(x.dtype()).device(x.device())))}); }},
      {"mixed", [](const Tensor& x) { return index(x, {Slice(1), None, ids({3, 0}, {2}, x.device())}); }},
      {"index_select_2", [](const Tensor& x) { return index_select(x, 2, ids({4, 0, 4}, {3}, x.device())); }},
      {"index_select_0", [](const Tensor& x) { return index_select(x, 0, ids({2, 2, 0, 1}, {4}, x.device())); }},
      {"gather_1",
       [](const Tensor& x) {
         return gather(x, 1, ids({3, 0, 1, 1, 2, 0, 0, 0, 3, 3, 1, 2, 3, 0, 1}, {3, 1, 5}, x.device()));
       }},
      {"gather_2",
       [](const Tensor& x) {
         return gather(index(x, {Slice(0, 2), Slice(0, 3)}), 2,
                       ids({4, 4, 0, 1, 2, 3, 1, 0, 3, 3, 0, 4}, {2, 3, 2}, x.device()));
       }},
      {"masked_select_broadcast",
       [](const Tensor& x) { return masked_select(x, at("mask").to(kBool).to(x.device())); }},
  };
  return c;
}

std::vector<double> host(const Tensor& t) { return t.to(kCPU).to(kFloat64).contiguous().to_vector<double>(); }

// The generator's with_ties: the values of "ties", with x[:2, 0]'s gradient path.
Tensor with_ties(const Tensor& x) {
  Tensor part = index(x, {Slice(0, 2), 0});
  return add(sub(part, detach(part)), at("ties").to(x.device()));
}

struct Out {
  Tensor value, grad;
};
Out run(const std::string& name, Device device) {
  Tensor x = at("x").to(device).clone().requires_grad_();
  Tensor y = cases().at(name)(x);
  y.backward(at(name + "/upstream").to(device));
  return {y, x.grad()};
}

TEST(Indexing, ResultsAndGradientsMatchPyTorch) {
  ASSERT_EQ(cases().size(), 18u);
  for (const auto& [name, fn] : cases()) {
    SCOPED_TRACE(name);
    Out o = run(name, kCPU);
    EXPECT_EQ(o.value.shape(), at(name + "/output").shape());
    EXPECT_EQ(host(o.value), at(name + "/output").to_vector<double>());
    EXPECT_EQ(host(o.grad), at(name + "/grad").to_vector<double>());
  }
  Tensor nz = nonzero(tensor({0.0, 1.5, 0.0, std::nan(""), 0.0, -2.0}, {2, 3}, kFloat64));
  EXPECT_EQ(nz.shape(), at("nonzero").shape());
  EXPECT_EQ(nz.to_vector<std::int64_t>(), at("nonzero").to_vector<std::int64_t>());
}

TEST(Indexing, BasicIndicesAreViews) {
  Tensor x = at("x").clone();
  Tensor v = index(x, {1, Slice(1, 3)});  // x[1, 1:3]: offset 1 * 20 + 1 * 5 elements
  EXPECT_EQ(static_cast<const char*>(v.data_ptr()) - static_cast<const char*>(x.data_ptr()), 25 * 8);
  EXPECT_EQ(v.shape(), (Shape{2, 5}));
}

TEST(Indexing, CudaMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (const auto& [name, fn] : cases()) {
    SCOPED_TRACE(name);
    Out cpu = run(name, kCPU), cuda = run(name, kCUDA);
    EXPECT_EQ(host(cuda.value), host(cpu.value));
    testing::expect_all_close(host(cuda.grad), host(cpu.grad), 1e-15, 0, "grad");
  }
}

TEST(Indexing, Gradcheck) {
  for (const auto& [name, fn] : cases()) {
    if (name == "mask_values") continue;  // the mask depends on x: not a smooth function
    SCOPED_TRACE(name);
    Tensor x = at("x").clone().requires_grad_();
    GradcheckResult g = gradcheck([&](const std::vector<Tensor>& in) { return fn(in[0]); }, {x});
    EXPECT_TRUE(g.ok) << g.message;
  }
}

TEST(Indexing, IntegerAndBoolTensors) {
  Tensor labels = tensor_int64({7, 8, 9, 10}, {4});
  EXPECT_EQ(index(labels, {ids({3, 0}, {2}, kCPU)}).to_vector<std::int64_t>(), (std::vector<std::int64_t>{10, 7}));
  EXPECT_EQ(index_select(labels, 0, ids({1, 1}, {2}, kCPU)).dtype(), kInt64);
  EXPECT_EQ(gather(labels, 0, ids({2}, {1}, kCPU)).to_vector<std::int64_t>(), (std::vector<std::int64_t>{9}));
}

// sort / topk cases of the generator: (values, indices) of x (the shuffled tensor).
const std::map<std::string, std::function<std::pair<Tensor, Tensor>(const Tensor&)>>& sort_cases() {
  static const std::map<std::string, std::function<std::pair<Tensor, Tensor>(const Tensor&)>> c = {
      {"sort_last", [](const Tensor& x) { return sort(x, -1); }},
      {"sort_dim1_desc", [](const Tensor& x) { return sort(x, 1, true); }},
      {"sort_ties", [](const Tensor& x) { return sort(with_ties(x), -1); }},
      {"sort_ties_desc", [](const Tensor& x) { return sort(with_ties(x), -1, true); }},
      {"topk_3_last", [](const Tensor& x) { return topk(x, 3, -1); }},
      {"topk_2_dim0_smallest", [](const Tensor& x) { return topk(x, 2, 0, false); }},
  };
  return c;
}

TEST(Sort, ValuesIndicesAndGradientsMatchPyTorch) {
  ASSERT_EQ(sort_cases().size(), 6u);
  for (Device device : {kCPU, kCUDA}) {
    if (device.is_cuda() && !testing::has_cuda_device()) continue;
    for (const auto& [name, fn] : sort_cases()) {
      SCOPED_TRACE(name + " " + device.str());
      Tensor x = at("shuffled").to(device).clone().requires_grad_();
      auto [values, indices] = fn(x);
      values.backward(at(name + "/upstream").to(device));
      EXPECT_EQ(values.shape(), at(name + "/output").shape());
      testing::expect_all_close(host(values), at(name + "/output").to_vector<double>(), 0, 0, "values");  // NaN = NaN
      EXPECT_EQ(indices.to(kCPU).to_vector<std::int64_t>(), at(name + "/indices").to_vector<std::int64_t>());
      EXPECT_EQ(host(x.grad()), at(name + "/grad").to_vector<double>());
    }
  }
  EXPECT_EQ(argsort(tensor({3.0, 1.0, 2.0})).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 2, 0}));
  EXPECT_LOOM_ERROR(topk(tensor({1.0, 2.0}), 3), "selected index k out of range");
}

TEST(TensorMethods, LibtorchSpellingsEqualTheFreeFunctions) {
  Tensor x = at("x");
  EXPECT_EQ(host(x[1]), host(select(x, 0, 1)));
  EXPECT_EQ(host(x[-1]), host(select(x, 0, 2)));
  EXPECT_EQ(host(x.index({Slice(), 2})), host(index(x, {Slice(), 2})));
  EXPECT_EQ(x.argmax(1).to_vector<std::int64_t>(), argmax(x, 1).to_vector<std::int64_t>());
  EXPECT_EQ(x.argmax().item(), argmax(x).item());
  auto [values, indices] = x.max(2, true);
  EXPECT_EQ(values.shape(), (Shape{3, 4, 1}));
  EXPECT_EQ(host(values), host(max(x, 2, true).first));
  EXPECT_EQ(indices.to_vector<std::int64_t>(), max(x, 2, true).second.to_vector<std::int64_t>());
  EXPECT_EQ(x.max().item(), 38.5);  // arange(60) - 20.5
  EXPECT_EQ(host(x.softmax(1)), host(softmax(x, 1)));
  EXPECT_EQ(host(x.log_softmax(-1)), host(log_softmax(x, -1)));
  EXPECT_LOOM_ERROR(x[3], "select(): index 3 out of range for tensor of size [3, 4, 5] at dimension 0");
}

TEST(ScatterAdd, ValuesAndGradientsMatchPyTorch) {
  // torch 1.13: x = arange(12.).reshape(3, 4), src = arange(8.).reshape(2, 4) * 0.5 + 1,
  // index [[2, 0, 1, 2], [2, 2, 0, 0]], y = scatter_add(x, 0, index, src),
  // y.backward(linspace(-1, 2, 12).reshape(3, 4)).
  const std::vector<double> up = {-1.0, -0.7272727272727273, -0.4545454545454546, -0.18181818181818188,
                                  0.09090909090909083, 0.36363636363636354, 0.6363636363636362, 0.909090909090909,
                                  1.1818181818181819, 1.4545454545454546, 1.7272727272727273, 2.0};
  for (Device device : {kCPU, kCUDA}) {
    if (device.is_cuda() && !testing::has_cuda_device()) continue;
    SCOPED_TRACE(device.str());
    Tensor x = tensor({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4}, kFloat64).to(device).requires_grad_();
    Tensor src = tensor({1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5}, {2, 4}, kFloat64).to(device).requires_grad_();
    Tensor y = scatter_add(x, 0, ids({2, 0, 1, 2, 2, 2, 0, 0}, {2, 4}, device), src);
    EXPECT_EQ(host(y), (std::vector<double>{0.0, 2.5, 6.0, 7.5, 4.0, 5.0, 8.0, 7.0, 12.0, 12.5, 10.0, 13.5}));
    y.backward(tensor(up, {3, 4}, kFloat64).to(device));
    EXPECT_EQ(host(x.grad()), up);
    EXPECT_EQ(host(src.grad()), (std::vector<double>{1.1818181818181819, -0.7272727272727273, 0.6363636363636362,
                                                     2.0, 1.1818181818181819, 1.4545454545454546,
                                                     -0.4545454545454546, -0.18181818181818188}));
  }
  // Along dim 1 with repeats, in place: torch.zeros(2, 5).scatter_add_(1, [[4, 4, 0], [1, 1, 1]],
  // [[1, 2, 3], [4, 5, 6]]).
  Tensor z = zeros({2, 5}, kFloat64);
  z.scatter_add_(1, ids({4, 4, 0, 1, 1, 1}, {2, 3}, kCPU), tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kFloat64));
  EXPECT_EQ(host(z), (std::vector<double>{3, 0, 0, 0, 3, 0, 15, 0, 0, 0}));
  Tensor a = testing::random_tensor({3, 4}, 3).requires_grad_(), b = testing::random_tensor({2, 4}, 4).requires_grad_();
  GradcheckResult g = gradcheck(
      [&](const std::vector<Tensor>& in) { return scatter_add(in[0], 0, ids({2, 0, 1, 2, 2, 2, 0, 0}, {2, 4}, kCPU), in[1]); },
      {a, b});
  EXPECT_TRUE(g.ok) << g.message;
  EXPECT_LOOM_ERROR(scatter_add(zeros({2, 5}, kFloat64), 1, ids({5}, {1, 1}, kCPU), ones({1, 1}, kFloat64)),
                    "index 5 is out of bounds for dimension 1 with size 5");
  EXPECT_LOOM_ERROR(zeros({2}, TensorOptions(kFloat64).requires_grad()).scatter_add_(0, ids({0}, {1}, kCPU), ones({1}, kFloat64)),
                    "a leaf Variable that requires grad is being used in an in-place operation.");
}

TEST(Indexing, ErrorsInPyTorchWords) {
  Tensor x = tensor({0, 1, 2, 3, 4, 5}, {2, 3});
  EXPECT_LOOM_ERROR(index(x, {5}), "index 5 is out of bounds for dimension 0 with size 2");
  EXPECT_LOOM_ERROR(index(x, {0, 0, 0}), "too many indices for tensor of dimension 2");
  EXPECT_LOOM_ERROR(index(x, {Ellipsis, Ellipsis}), "an index can only have a single ellipsis ('...')");
  EXPECT_LOOM_ERROR(index_select(x, 0, ids({3}, {1}, kCPU)), "index out of range in self");
  EXPECT_LOOM_ERROR(gather(x, 1, ids({3}, {1, 1}, kCPU)), "index 3 is out of bounds for dimension 1 with size 3");
  EXPECT_LOOM_ERROR(index(x, {tensor({1, 0, 1}, kBool)}),
                    "The shape of the mask [3] at index 0 does not match the shape of the indexed tensor [2, 3] at "
                    "index 0");
  EXPECT_EQ(host(index(x, {ids({0}, {1}, kCPU), ids({2}, {1}, kCPU)})), std::vector<double>{2});  // x[[0], [2]]
  EXPECT_LOOM_ERROR(index(x, {ids({0, 1}, {2}, kCPU), ids({0, 1, 2}, {3}, kCPU)}),
                    "shape mismatch: indexing tensors could not be broadcast together with shapes [2], [3]");
  EXPECT_LOOM_ERROR(index(x, {Slice(0, 2, -1)}), "step must be greater than zero");
}

}  // namespace
}  // namespace loom
