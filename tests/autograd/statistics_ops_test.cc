// min, var, std, norm, logsumexp, cumsum, sign (autograd/statistics_ops.h)
// against PyTorch 1.13 (values and gradients, float64:
// tests/data/functional/statistics.h5 from
// /usr/bin/python3 tests/fixtures/make_statistics_ops.py), gradcheck, CUDA
// against the CPU (skipped without a GPU), allclose against PyTorch's
// answers, randint / randperm / *_like / nested literals, and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "autograd/factory_ops.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/op_testing.h"
#include "autograd/statistics_ops.h"
#include "core/generator.h"
#include "core/hdf5_file.h"
#include "core/tensor_io.h"
#include "testing.h"

namespace loom {
namespace {

const std::string& data_path() {
  static const std::string path = testing::source_path("tests/data/functional/statistics.h5");
  return path;
}
const std::map<std::string, Tensor>& stored() {
  static const std::map<std::string, Tensor> file = load_tensors(data_path());
  return file;
}
Tensor at(const std::string& key) {
  auto it = stored().find(key);
  if (it == stored().end()) throw std::runtime_error("statistics.h5 lacks " + key);
  return it->second;
}

struct Case {
  std::string name, op;
  Shape dims;
  bool has_dims = false, keepdim = false, unbiased = true;
  double p = 2;
  std::int64_t dim = 0;
};

std::vector<Case> cases() {
  Hdf5File f = Hdf5File::open_read(data_path());  // per use: no static Hdf5File at exit
  std::vector<Case> out;
  for (const auto& [key, value] : stored()) {
    const std::string name = key.substr(0, key.find('/'));
    if (key != name + "/input") continue;  // one case per input
    Case c;
    c.name = name;
    const std::string g = "/" + name;
    c.op = f.attr_string(g, "op");
    if (stored().count(name + "/dims")) {
      c.has_dims = true;
      c.dims = stored().at(name + "/dims").to_vector<std::int64_t>();
    }
    if (f.has_attr(g, "keepdim")) c.keepdim = f.attr_int(g, "keepdim") != 0;
    if (f.has_attr(g, "unbiased")) c.unbiased = f.attr_int(g, "unbiased") != 0;
    if (f.has_attr(g, "p")) c.p = f.attr_double(g, "p");
    if (f.has_attr(g, "dim")) c.dim = f.attr_int(g, "dim");
    out.push_back(c);
  }
  return out;
}

// The op of case c on x; `indices` receives min's indices when it has them.
Tensor apply(const Case& c, const Tensor& x, Tensor* indices = nullptr) {
  if (c.op == "min") return min(x);
  if (c.op == "min_dim") {
    auto [v, i] = min(x, c.dim, c.keepdim);
    if (indices) *indices = i;
    return v;
  }
  if (c.op == "var") return var(x, c.dims, c.unbiased, c.keepdim);
  if (c.op == "std") return std(x, c.dims, c.unbiased, c.keepdim);
  if (c.op == "norm") return norm(x, c.p, c.dims, c.keepdim);
  if (c.op == "logsumexp") return logsumexp(x, c.dims, c.keepdim);
  if (c.op == "cumsum") return cumsum(x, c.dim);
  if (c.op == "sign") return sign(x);
  throw std::runtime_error("unknown op " + c.op);
}

std::vector<double> host(const Tensor& t) { return t.to(kCPU).to(kFloat64).to_vector<double>(); }

struct OpRun {
  Tensor out, indices, grad;
};
OpRun run(const Case& c, Device device) {
  Tensor x = at(c.name + "/input").to(device).clone().requires_grad_();
  OpRun r;
  r.out = apply(c, x, &r.indices);
  r.out.backward(at(c.name + "/upstream").to(device));
  r.grad = x.grad();
  return r;
}

TEST(StatisticsOps, ValuesAndGradientsMatchPyTorch) {
  const std::vector<Case> all = cases();
  ASSERT_EQ(all.size(), 18u);
  for (const Case& c : all) {
    SCOPED_TRACE(c.name);
    OpRun r = run(c, kCPU);
    EXPECT_EQ(r.out.shape(), at(c.name + "/output").shape());
    testing::expect_all_close(host(r.out), at(c.name + "/output").to_vector<double>(), 1e-12, 1e-14, "output");
    testing::expect_all_close(host(r.grad), at(c.name + "/grad").to_vector<double>(), 1e-12, 1e-14, "grad");
    if (stored().count(c.name + "/indices"))
      EXPECT_EQ(r.indices.to_vector<std::int64_t>(), at(c.name + "/indices").to_vector<std::int64_t>());
  }
}

TEST(StatisticsOps, CudaMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    OpRun cpu = run(c, kCPU), cuda = run(c, kCUDA);
    testing::expect_all_close(host(cuda.out), host(cpu.out), 1e-12, 1e-14, "output");
    testing::expect_all_close(host(cuda.grad), host(cpu.grad), 1e-12, 1e-14, "grad");
  }
}

TEST(StatisticsOps, GradcheckFloat64) {
  for (const Case& c : cases()) {
    // sign: gradient 0 everywhere but at 0; the zero-row norm and std and the
    // infinite logsumexp rows are not differentiable there by finite differences.
    if (c.op == "sign" || c.name == "norm2_zero_row" || c.name == "std_zero_rows" ||
        c.name == "logsumexp_inf_rows" || c.name == "min_ties_keepdim")
      continue;
    SCOPED_TRACE(c.name);
    Tensor x = at(c.name + "/input").clone().requires_grad_();
    GradcheckResult g = gradcheck([&](const std::vector<Tensor>& in) { return apply(c, in[0]); }, {x});
    EXPECT_TRUE(g.ok) << g.message;
  }
}

TEST(StatisticsOps, Float32FollowsFloat64) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Tensor x64 = at(c.name + "/input");
    Tensor y32 = apply(c, x64.to(kFloat32));
    EXPECT_EQ(y32.dtype(), kFloat32);
    testing::expect_all_close(host(y32), host(apply(c, x64)), 1e-5, 1e-5, "float32");
  }
}

TEST(StatisticsOps, AllcloseAnswersAsPyTorch) {
  // torch.allclose on the same operands (torch 1.13): True, False, False,
  // True (equal_nan), True (equal infinities), False (inf vs finite).
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Tensor a = tensor({1.0, 2.0, 3.0}, kFloat64);
  EXPECT_TRUE(allclose(a, tensor({1.0 + 1e-6, 2.0, 3.0 - 2e-5}, kFloat64)));
  EXPECT_FALSE(allclose(a, tensor({1.0, 2.0, 3.001}, kFloat64)));
  EXPECT_FALSE(allclose(tensor({nan, 1.0}, kFloat64), tensor({nan, 1.0}, kFloat64)));
  EXPECT_TRUE(allclose(tensor({nan, 1.0}, kFloat64), tensor({nan, 1.0}, kFloat64), 1e-5, 1e-8, true));
  EXPECT_TRUE(allclose(tensor({inf, -inf}, kFloat64), tensor({inf, -inf}, kFloat64)));
  EXPECT_FALSE(allclose(tensor({inf}, kFloat64), tensor({1e300}, kFloat64)));
  EXPECT_TRUE(allclose(a, tensor({1.0}, kFloat64).expand({3}) + tensor({0.0, 1.0, 2.0}, kFloat64)));
  EXPECT_LOOM_ERROR(allclose(a, a.to(kFloat32)), "Double did not match Float");
}

TEST(Factories, RandintIsUniformInRangeAndTheSameOnEveryDevice) {
  manual_seed(7);
  Tensor r = randint(-3, 5, {4000});
  EXPECT_EQ(r.dtype(), kInt64);
  std::vector<std::int64_t> v = r.to_vector<std::int64_t>();
  std::vector<int> counts(8, 0);
  for (std::int64_t x : v) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 5);
    ++counts[static_cast<std::size_t>(x + 3)];
  }
  for (int c : counts) EXPECT_NEAR(c, 500, 100);  // 4.5 sigma of Binomial(4000, 1/8)
  manual_seed(7);
  EXPECT_EQ(randint(-3, 5, {4000}).to_vector<std::int64_t>(), v);
  EXPECT_EQ(randint(10, {3}, kFloat32).dtype(), kFloat32);
  EXPECT_LOOM_ERROR(randint(5, 5, {2}), "random_ expects 'from' to be less than 'to', but got from=5 >= to=5");
  if (testing::has_cuda_device()) {
    manual_seed(7);
    EXPECT_EQ(randint(-3, 5, {4000}, TensorOptions(kInt64).device(kCUDA)).to(kCPU).to_vector<std::int64_t>(), v);
  }
}

TEST(Factories, RandpermIsAPermutationFromTheGenerator) {
  manual_seed(11);
  std::vector<std::int64_t> p = randperm(50).to_vector<std::int64_t>();
  std::vector<std::int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
  EXPECT_NE(p, sorted);  // a shuffle of 50 is the identity with probability 1/50!
  manual_seed(11);
  EXPECT_EQ(randperm(50).to_vector<std::int64_t>(), p);
  EXPECT_EQ(randperm(0).numel(), 0);
  EXPECT_LOOM_ERROR(randperm(-1), "n must be non-negative, got -1");
}

TEST(Factories, LikeFactoriesAndNestedLiterals) {
  Tensor x = zeros({2, 3}, kFloat64);
  for (const Tensor& t : {empty_like(x), rand_like(x), randn_like(x)}) {
    EXPECT_EQ(t.shape(), x.shape());
    EXPECT_EQ(t.dtype(), kFloat64);
  }
  Tensor m = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  EXPECT_EQ(m.shape(), (Shape{2, 3}));
  EXPECT_EQ(m.dtype(), kFloat32);
  EXPECT_EQ(host(m), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  Tensor b = tensor({{{1.0, 2.0}, {3.0, 4.0}}, {{5.0, 6.0}, {7.0, 8.0}}, {{9.0, 10.0}, {11.0, 12.0}}}, kFloat64);
  EXPECT_EQ(b.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(b.dtype(), kFloat64);
  EXPECT_EQ(host(b)[7], 8.0);
  EXPECT_LOOM_ERROR(tensor({{1.0, 2.0}, {3.0}}),
                    "tensor: row 1 has 1 values, expected 2 (the rows of a nested list must have equal lengths)");
}

TEST(StatisticsOps, Errors) {
  Tensor ints = tensor_int64({1, 2}, {2});
  // torch.tensor([1, 2]).var(): PyTorch's refusal
  EXPECT_LOOM_ERROR(var(ints), "std and var only support floating point and complex dtypes");
  EXPECT_LOOM_ERROR(norm(tensor({1.0}), 0.0), "norm: p = 0 is not supported (finite p > 0)");
  // torch.tensor([1, 2]).cumsum(0) -> tensor([1, 3]): integers are summed, not refused
  EXPECT_EQ(cumsum(ints, 0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 3}));
}

}  // namespace
}  // namespace loom
