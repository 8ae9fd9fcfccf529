// Advanced indexing with several tensor indices, index_put, scatter,
// masked_fill with a tensor value and where with a scalar
// (autograd/indexing.h) against PyTorch 1.13: the same expressions as
// tests/fixtures/make_index_put_cases.py (tests/data/functional/index_put.h5:
// results, x's and the values' gradients for a linspace upstream gradient),
// gradcheck, CUDA against the CPU (skipped without a GPU), the in-place
// forms, loom's rule for repeated writes, integer tensors, and errors.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/indexing.h"
#include "autograd/op_testing.h"
#include "testing.h"

namespace loom {
namespace {

using namespace loom::indexing;  // NOLINT: as libtorch code reads

const std::map<std::string, Tensor>& stored() {
  return testing::stored_tensors("tests/data/functional/index_put.h5");
}
Tensor at(const std::string& key) { return stored().at(key); }
bool has(const std::string& key) { return stored().count(key) != 0; }

Tensor ids(std::vector<std::int64_t> v, Shape shape, Device device) { return tensor_int64(v, shape).to(device); }
Tensor ids(std::vector<std::int64_t> v, Device device) {
  const auto n = static_cast<std::int64_t>(v.size());
  return ids(std::move(v), {n}, device);
}
// The generator's MASK [4, 5] and ROWS [3].
Tensor mask(Device device) {
  return tensor({1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0}, {4, 5}, kFloat64).to(kBool).to(device);
}
Tensor rows(Device device) { return tensor({1, 0, 1}, {3}, kFloat64).to(kBool).to(device); }

std::vector<double> host(const Tensor& t) { return t.to(kCPU).to(kFloat64).contiguous().to_vector<double>(); }

using Case = std::function<Tensor(const Tensor& x, const Tensor& v)>;

// The expressions of the generator, by name; v is the case's values (undefined if none).
const std::map<std::string, Case>& cases() {
  static const std::map<std::string, Case> c = {
      {"adv_adjacent", [](const Tensor& x, const Tensor&) { return index(x, {ids({0, 2, 1}, x.device()), ids({3, 0, 3}, x.device())}); }},
      {"adv_separated",
       [](const Tensor& x, const Tensor&) {
         return index(x, {ids({0, 2}, {2, 1}, x.device()), Slice(), ids({1, 4, 0}, x.device())});
       }},
      {"adv_none_first",
       [](const Tensor& x, const Tensor&) { return index(x, {None, ids({2, 0}, x.device()), Slice(), ids({1, 1}, x.device())}); }},
      {"adv_slice_then_two",
       [](const Tensor& x, const Tensor&) {
         return index(x, {Slice(1), ids({1, 3}, {2, 1}, x.device()), ids({0, 2, 4}, x.device())});
       }},
      {"adv_int_between",
       [](const Tensor& x, const Tensor&) { return index(x, {ids({2, 0}, x.device()), 1, ids({4, 0}, {2, 1}, x.device())}); }},
      {"adv_mask_and_ids", [](const Tensor& x, const Tensor&) { return index(x, {rows(x.device()), Slice(), ids({4, 0}, x.device())}); }},
      {"adv_ids_and_mask", [](const Tensor& x, const Tensor&) { return index(x, {ids({2}, x.device()), mask(x.device())}); }},
      {"adv_zero_dim_selects",
       [](const Tensor& x, const Tensor&) { return index(x, {ids({1}, {}, x.device()), Slice(), ids({0, 3}, x.device())}); }},
      {"adv_ellipsis_neg",
       [](const Tensor& x, const Tensor&) { return index(x, {Ellipsis, ids({-1, 0}, x.device()), ids({-5, 3}, x.device())}); }},
      {"put_slice", [](const Tensor& x, const Tensor& v) { return index_put(x, {Slice(), Slice(1, 3)}, v); }},
      {"put_ids_broadcast", [](const Tensor& x, const Tensor& v) { return index_put(x, {Slice(), ids({3, 0}, x.device())}, v); }},
      {"put_two_ids",
       [](const Tensor& x, const Tensor& v) {
         return index_put(x, {ids({0, 2}, x.device()), Slice(), ids({4, 1}, x.device())}, v);
       }},
      {"put_mask_0d", [](const Tensor& x, const Tensor& v) { return index_put(x, {Slice(), mask(x.device())}, v); }},
      {"put_leading_ones", [](const Tensor& x, const Tensor& v) { return index_put(x, {1}, v); }},
      {"put_accumulate_dups",
       [](const Tensor& x, const Tensor& v) {
         return index_put(x, std::vector<Tensor>{ids({0, 2, 0, 0}, x.device()), ids({1, 1, 1, 3}, x.device())}, v, true);
       }},
      {"put_accumulate_mask",
       [](const Tensor& x, const Tensor& v) { return index_put(x, std::vector<Tensor>{rows(x.device())}, v, true); }},
      {"put_unique",
       [](const Tensor& x, const Tensor& v) {
         return index_put(x, std::vector<Tensor>{ids({2, 0}, x.device()), ids({1, 3}, x.device())}, v);
       }},
      {"put_dups_overwrite",
       [](const Tensor& x, const Tensor& v) {
         return index_put(x, std::vector<Tensor>{ids({1, 0, 1}, x.device()), ids({2, 2, 2}, x.device())}, v);
       }},
      {"scatter_dim1",
       [](const Tensor& x, const Tensor& v) {
         return scatter(x, 1,
                        ids({0, 1, 2, 3, 0, 3, 2, 1, 0, 1, 1, 1, 3, 3, 2, 2, 0, 0, 1, 3, 3, 0, 2, 1, 2, 0, 3, 1, 2, 0},
                            {3, 2, 5}, x.device()),
                        v);
       }},
      {"scatter_dim0",
       [](const Tensor& x, const Tensor& v) { return scatter(x, 0, ids({2, 0, 1, 0, 1, 2}, {2, 3, 1}, x.device()), v); }},
      {"scatter_value_dim2",
       [](const Tensor& x, const Tensor&) {
         return scatter(x, 2,
                        ids({4, 0, 1, 2, 3, 0, 2, 4, 0, 1, 4, 3, 2, 0, 1, 3, 3, 4, 0, 2, 1, 4, 2, 0}, {3, 4, 2},
                            x.device()),
                        1.25);
       }},
      {"masked_fill_tensor", [](const Tensor& x, const Tensor& v) { return masked_fill(x, mask(x.device()), v); }},
      {"masked_fill_scalar", [](const Tensor& x, const Tensor&) { return masked_fill(x, x > 0, -1.5); }},
      {"where_scalar", [](const Tensor& x, const Tensor&) { return where(x > 0, x, 0.5); }},
  };
  return c;
}

struct Out {
  Tensor value, grad, values_grad;
};
Out run(const std::string& name, Device device) {
  Tensor x = at("x").to(device).clone().requires_grad_();
  Tensor v;
  if (has(name + "/values")) v = at(name + "/values").to(device).clone().requires_grad_();
  Tensor y = cases().at(name)(x, v);
  y.backward(at(name + "/upstream").to(device));
  return {y, x.grad(), v.defined() ? v.grad() : Tensor()};
}

TEST(IndexPut, ResultsAndGradientsMatchPyTorch) {
  ASSERT_EQ(cases().size(), 24u);
  for (const auto& [name, fn] : cases()) {
    SCOPED_TRACE(name);
    Out o = run(name, kCPU);
    EXPECT_EQ(o.value.shape(), at(name + "/output").shape());
    EXPECT_EQ(host(o.value), at(name + "/output").to_vector<double>());
    EXPECT_EQ(host(o.grad), at(name + "/grad").to_vector<double>());
    if (has(name + "/values")) {
      ASSERT_TRUE(o.values_grad.defined());
      EXPECT_EQ(o.values_grad.shape(), at(name + "/values_grad").shape());
      EXPECT_EQ(host(o.values_grad), at(name + "/values_grad").to_vector<double>());
    }
  }
}

TEST(IndexPut, CudaMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (const auto& [name, fn] : cases()) {
    SCOPED_TRACE(name);
    Out cpu = run(name, kCPU), cuda = run(name, kCUDA);
    EXPECT_EQ(host(cuda.value), host(cpu.value));
    EXPECT_EQ(host(cuda.grad), host(cpu.grad));
    if (cpu.values_grad.defined()) EXPECT_EQ(host(cuda.values_grad), host(cpu.values_grad));
  }
}

TEST(IndexPut, Gradcheck) {
  for (const auto& [name, fn] : cases()) {
    // Overwritten writes: the output does not depend on them, but PyTorch's
    // formula (grad[indices]) gives them a gradient, and so does loom's.
    if (name == "put_dups_overwrite") continue;
    SCOPED_TRACE(name);
    Tensor x = at("x").clone().requires_grad_();
    const bool with_values = has(name + "/values");
    std::vector<Tensor> inputs = {x};
    if (with_values) inputs.push_back(at(name + "/values").clone().requires_grad_());
    GradcheckResult g = gradcheck(
        [&](const std::vector<Tensor>& in) { return fn(in[0], with_values ? in[1] : Tensor()); }, inputs);
    EXPECT_TRUE(g.ok) << g.message;
  }
}

TEST(IndexPut, InPlaceFormsWriteThroughCopy) {
  // The in-place forms equal the out-of-place ones, bump the version and
  // carry gradients through a non-leaf (put_two_ids: x.clone()[[0, 2], :, [4, 1]] = v).
  Tensor x = at("x").clone().requires_grad_(), v = at("put_two_ids/values").clone().requires_grad_();
  Tensor a = clone(x);
  const std::uint64_t before = a._version();
  a.index_put_({ids({0, 2}, kCPU), Slice(), ids({4, 1}, kCPU)}, v);
  EXPECT_GT(a._version(), before);
  EXPECT_EQ(host(a), at("put_two_ids/output").to_vector<double>());
  a.backward(at("put_two_ids/upstream"));
  EXPECT_EQ(host(x.grad()), at("put_two_ids/grad").to_vector<double>());
  EXPECT_EQ(host(v.grad()), at("put_two_ids/values_grad").to_vector<double>());

  Tensor s = at("x").clone();
  s.scatter_(0, ids({2, 0, 1, 0, 1, 2}, {2, 3, 1}, kCPU), at("scatter_dim0/values"));
  EXPECT_EQ(host(s), at("scatter_dim0/output").to_vector<double>());
  Tensor m = at("x").clone();
  m.masked_fill_(m > 0, -1.5);
  EXPECT_EQ(host(m), at("masked_fill_scalar/output").to_vector<double>());
  Tensor t = at("x").clone();
  t.masked_fill_(mask(kCPU), at("masked_fill_tensor/values"));
  EXPECT_EQ(host(t), at("masked_fill_tensor/output").to_vector<double>());
  // torch: z = zeros(2, 3); z[:, [2, 0]] = 7 -> [[7, 0, 7], [7, 0, 7]].
  Tensor z = zeros({2, 3}, kFloat64);
  z.index_put_({Slice(), ids({2, 0}, kCPU)}, 7);
  EXPECT_EQ(host(z), (std::vector<double>{7, 0, 7, 7, 0, 7}));
  // torch: w = zeros(2, 3); w.index_put_((None-as-full-slice), ...) spelled w[:, [1]] = [[1.], [2.]].
  Tensor w = zeros({2, 3}, kFloat64);
  w.index_put_(std::vector<Tensor>{Tensor(), ids({1}, kCPU)}, tensor({1.0, 2.0}, {2, 1}, kFloat64));
  EXPECT_EQ(host(w), (std::vector<double>{0, 1, 0, 0, 2, 0}));
  EXPECT_EQ(host(x.index_put({ids({0}, kCPU)}, zeros({4, 5}, kFloat64)).index({0})), std::vector<double>(20, 0.0));
  EXPECT_EQ(host(x.scatter(2, ids({0}, {1, 1, 1}, kCPU), 9.0).index({0, 0, 0})), std::vector<double>{9.0});

  EXPECT_LOOM_ERROR(zeros({2}, TensorOptions(kFloat64).requires_grad()).index_put_({ids({0}, kCPU)}, 1.0),
                    "a leaf Variable that requires grad is being used in an in-place operation.");
  // A refused write leaves the tensor as it was.
  Tensor keep = zeros({3}, kFloat64);
  EXPECT_LOOM_ERROR(keep.index_put_({ids({0, 9}, kCPU)}, 1.0), "index 9 is out of bounds for dimension 0 with size 3");
  EXPECT_EQ(host(keep), (std::vector<double>{0, 0, 0}));
}

TEST(IndexPut, RepeatedWritesLastWinsOnEveryDevice) {
  for (Device device : {kCPU, kCUDA}) {
    if (device.is_cuda() && !testing::has_cuda_device()) continue;
    SCOPED_TRACE(device.str());
    // torch 1.13 (CPU): zeros(2, 4).scatter_(1, [[1, 1, 3], [0, 2, 0]], [[1, 2, 3], [4, 5, 6]])
    // -> [[0, 2, 0, 3], [6, 0, 5, 0]]: loom's rule, the last write in index order wins.
    Tensor z = zeros({2, 4}, kFloat64).to(device);
    z.scatter_(1, ids({1, 1, 3, 0, 2, 0}, {2, 3}, device), tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kFloat64).to(device));
    EXPECT_EQ(host(z), (std::vector<double>{0, 2, 0, 3, 6, 0, 5, 0}));
    // Gradients are specified even so (torch 1.13): x = zeros(3), src = [1, 2, 3],
    // scatter(x, 0, [0, 0, 0], src).backward([10, 20, 30]): x.grad [0, 20, 30], src.grad [10, 10, 10].
    Tensor x = zeros({3}, kFloat64).to(device).requires_grad_();
    Tensor src = tensor({1.0, 2.0, 3.0}, {3}, kFloat64).to(device).requires_grad_();
    Tensor y = scatter(x, 0, ids({0, 0, 0}, device), src);
    EXPECT_EQ(host(y), (std::vector<double>{3, 0, 0}));
    y.backward(tensor({10.0, 20.0, 30.0}, {3}, kFloat64).to(device));
    EXPECT_EQ(host(x.grad()), (std::vector<double>{0, 20, 30}));
    EXPECT_EQ(host(src.grad()), (std::vector<double>{10, 10, 10}));
    // index_put without accumulate: the last write of index_put_([0, 0, 0], [1, 2, 3]) wins (torch CPU: [3, 0, 0]).
    Tensor p = index_put(zeros({3}, kFloat64).to(device), {ids({0, 0, 0}, device)},
                         tensor({1.0, 2.0, 3.0}, {3}, kFloat64).to(device));
    EXPECT_EQ(host(p), (std::vector<double>{3, 0, 0}));
  }
}

TEST(IndexPut, IntegerAndBfloat16Tensors) {
  // torch 1.13: tensor([7, 8, 9, 10]).index_put(([1, 3],), [-5, 9]) -> [7, -5, 9, 9]
  Tensor labels = tensor_int64({7, 8, 9, 10}, {4});
  Tensor put = index_put(labels, {ids({1, 3}, kCPU)}, tensor_int64({-5, 9}, {2}));
  EXPECT_EQ(put.dtype(), kInt64);
  EXPECT_EQ(put.to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, -5, 9, 9}));
  // zeros(3, long).scatter_add(0, [0, 0, 2], [1, 2, 3]) -> [3, 0, 3]
  EXPECT_EQ(scatter_add(zeros({3}, kInt64), 0, ids({0, 0, 2}, kCPU), tensor_int64({1, 2, 3}, {3})).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{3, 0, 3}));
  // zeros(2, 3, long).scatter_(1, [[2], [0]], 3) -> [[0, 0, 3], [3, 0, 0]]
  EXPECT_EQ(scatter(zeros({2, 3}, kInt64), 1, ids({2, 0}, {2, 1}, kCPU), 3).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{0, 0, 3, 3, 0, 0}));
  // arange(12).reshape(3, 4)[[2, 0], [[1], [3]]] -> [[9, 1], [11, 3]]
  Tensor m = tensor_int64({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor picked = index(m, {ids({2, 0}, kCPU), ids({1, 3}, {2, 1}, kCPU)});
  EXPECT_EQ(picked.shape(), (Shape{2, 2}));
  EXPECT_EQ(picked.to_vector<std::int64_t>(), (std::vector<std::int64_t>{9, 1, 11, 3}));
  // bfloat16: accumulation in float32, rounded once: 256 + 1 + 1 = 258 (exact in bfloat16),
  // where bfloat16 steps (256 + 1 -> 256, + 1 -> 256) would lose both ones.
  Tensor b = full({2}, 256.0, TensorOptions(kBFloat16));
  Tensor acc = index_put(b, {ids({0, 0}, kCPU)}, ones({2}, kBFloat16), true);
  EXPECT_EQ(acc.dtype(), kBFloat16);
  EXPECT_EQ(host(acc), (std::vector<double>{258, 256}));
  EXPECT_EQ(host(scatter(b, 0, ids({1}, kCPU), 0.5)), (std::vector<double>{256, 0.5}));
}

TEST(IndexPut, EmptyIndicesWriteNothing) {
  // torch 1.13 on x = arange(12.).reshape(3, 4): x[tensor([], long)] is [0, 4], as is
  // x[tensor([False] * 3)]; writes through them, and scatter with an index of shape [0, 4], change nothing.
  for (Device device : {kCPU, kCUDA}) {
    if (device.is_cuda() && !testing::has_cuda_device()) continue;
    SCOPED_TRACE(device.str());
    Tensor x = tensor({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4}, kFloat64).to(device);
    Tensor none = zeros({3}, kBool).to(device);
    EXPECT_EQ(index(x, {ids({}, {0}, device)}).shape(), (Shape{0, 4}));
    EXPECT_EQ(index(x, {none}).shape(), (Shape{0, 4}));
    EXPECT_EQ(host(index_put(x, {none}, 5.0)), host(x));
    EXPECT_EQ(host(index_put(x, {ids({}, {0}, device)}, zeros({4}, kFloat64).to(device), true)), host(x));
    EXPECT_EQ(host(scatter(x, 0, ids({}, {0, 4}, device), 1.0)), host(x));
  }
}

TEST(IndexPut, ErrorsInPyTorchWords) {
  // The texts torch 1.13 gives for the same calls on zeros(2, 3, 4, 5).
  Tensor x = zeros({2, 3, 4, 5});
  EXPECT_LOOM_ERROR(index(x, {ids({0, 1, 2}, kCPU), ids({0, 1}, kCPU)}),
                    "shape mismatch: indexing tensors could not be broadcast together with shapes [3], [2]");
  EXPECT_LOOM_ERROR(index(x, {Slice(), ids({3}, kCPU)}), "index 3 is out of bounds for dimension 0 with size 3");
  EXPECT_LOOM_ERROR(index(x, {ids({0}, kCPU), Slice(), ids({9}, kCPU)}),
                    "index 9 is out of bounds for dimension 1 with size 4");
  EXPECT_LOOM_ERROR(index(x, {tensor({0.5})}), "tensors used as indices must be long, byte or bool tensors");
  EXPECT_LOOM_ERROR(index_put(x, {ids({0, 1}, kCPU)}, ones({3})),
                    "shape mismatch: value tensor of shape [3] cannot be broadcast to indexing result of shape [2, 3, 4, 5]");
  EXPECT_LOOM_ERROR(index_put(x, {ids({5}, kCPU)}, ones({})), "index 5 is out of bounds for dimension 0 with size 2");
  const Tensor i = ids({0, 1}, kCPU);
  EXPECT_LOOM_ERROR(index_put(x, std::vector<Tensor>{i, i, i, i, i}, ones({})),
                    "too many indices for tensor of dimension 4 (got 5)");
  EXPECT_LOOM_ERROR(index_put(x, {ids({0, 1}, kCPU)}, ones({2}, kFloat64)),
                    "Index put requires the source and destination dtypes match, got Float for the destination and "
                    "Double for the source.");
  EXPECT_LOOM_ERROR(index_put(x, {tensor({1, 0, 1}, kBool)}, ones({})),
                    "The shape of the mask [3] at index 0 does not match the shape of the indexed tensor [2, 3, 4, 5] "
                    "at index 0");
  EXPECT_LOOM_ERROR(scatter(x, 0, ids({2}, {1, 1, 1, 1}, kCPU), 1.0), "index 2 is out of bounds for dimension 0 with size 2");
  EXPECT_LOOM_ERROR(scatter(x, 0, ids({-1}, {1, 1, 1, 1}, kCPU), 1.0),
                    "index -1 is out of bounds for dimension 0 with size 2");
  EXPECT_LOOM_ERROR(scatter(x, 0, ids({2}, {1}, kCPU), 1.0),
                    "Index tensor must have the same number of dimensions as self tensor");
  EXPECT_LOOM_ERROR(scatter(x, 0, zeros({1, 1, 1, 1}), 1.0), "scatter(): Expected dtype int64 for index");
  EXPECT_LOOM_ERROR(scatter(x, 0, zeros({3, 3, 4, 5}, kInt64), ones({2, 3, 4, 5})),
                    "Expected index [3, 3, 4, 5] to be smaller than self [2, 3, 4, 5] apart from dimension 0 and to be "
                    "smaller size than src [2, 3, 4, 5]");
  EXPECT_LOOM_ERROR(scatter(x, 0, zeros({1, 4, 1, 1}, kInt64), ones({1, 4, 1, 1})),
                    "Expected index [1, 4, 1, 1] to be smaller than self [2, 3, 4, 5] apart from dimension 0 and to be "
                    "smaller size than src [1, 4, 1, 1]");
  EXPECT_LOOM_ERROR(scatter(x, 0, zeros({1, 1, 1, 1}, kInt64), ones({2, 3, 4, 5}, kFloat64)),
                    "scatter(): Expected self.dtype to be equal to src.dtype");
  EXPECT_LOOM_ERROR(scatter(x, 4, zeros({1, 1, 1, 1}, kInt64), 1.0),
                    "Dimension out of range (expected to be in range of [-4, 3], but got 4)");
  EXPECT_LOOM_ERROR(masked_fill(x, ones({5}).to(kBool), ones({2})),
                    "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with 1 dimension(s).");
}

}  // namespace
}  // namespace loom
