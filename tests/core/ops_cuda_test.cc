// CUDA against the CPU reference for every operation of the foundation:
// elementwise, comparisons, where, copies and views, reductions, softmax,
// log_softmax, nll_loss, cross_entropy, mse_loss. Each case runs forward and
// backward (with the same random upstream gradient) on both devices and
// compares outputs and input gradients, over odd shapes (sizes 1, 3, 17, 129,
// and rows longer than a CUDA block). Skipped without a GPU.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "core/native.h"
#include "../autograd/op_testing.h"

namespace loom {
namespace {

using testing::uniform;
using Op = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

class OpsCuda : public ::testing::Test {
 protected:
  void SetUp() override { LOOM_SKIP_WITHOUT_CUDA(); }
};

struct Tol {
  double rtol, atol;
};
Tol tol_for(DType t) { return t == kFloat64 ? Tol{1e-12, 1e-12} : Tol{2e-5, 2e-6}; }

// Runs op on CPU copies and CUDA copies of `inputs` (floating ones become
// leaves requiring grad), compares every output, back-propagates the same
// random upstream gradient on both devices and compares every input gradient.
void expect_cuda_matches_cpu(const Op& op, const std::vector<Tensor>& inputs, const std::string& what,
                             std::uint64_t seed = 1) {
  SCOPED_TRACE(what);
  std::vector<Tensor> on_cpu, on_cuda;
  for (const Tensor& x : inputs) {
    Tensor c = native::clone(x), g = native::to(native::clone(x), kCUDA);
    if (is_floating(x.dtype())) c.requires_grad_(), g.requires_grad_();
    on_cpu.push_back(c);
    on_cuda.push_back(g);
  }
  std::vector<Tensor> ya = op(on_cpu), yb = op(on_cuda);
  ASSERT_EQ(ya.size(), yb.size());
  std::vector<Tensor> roots_a, roots_b, grads_a, grads_b;
  for (std::size_t k = 0; k < ya.size(); ++k) {
    ASSERT_TRUE(yb[k].is_cuda()) << "output " << k;
    ASSERT_EQ(shape_str(ya[k].shape()), shape_str(yb[k].shape())) << "output " << k;
    ASSERT_EQ(ya[k].dtype(), yb[k].dtype()) << "output " << k;
    Tol t = tol_for(ya[k].dtype());
    std::vector<double> va = ya[k].to_vector<double>(), vb = yb[k].to_vector<double>();
    testing::expect_all_close(std::span<const double>(vb), std::span<const double>(va), t.rtol, t.atol,
                              fmt::format("output {}", k));
    if (!ya[k].requires_grad()) continue;
    Tensor g = uniform(ya[k].shape(), seed + k, -1, 1, TensorOptions(ya[k].dtype()));
    roots_a.push_back(ya[k]);
    roots_b.push_back(yb[k]);
    grads_a.push_back(g);
    grads_b.push_back(native::to(g, kCUDA));
  }
  if (roots_a.empty()) return;
  autograd::backward(roots_a, grads_a);
  autograd::backward(roots_b, grads_b);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!on_cpu[i].requires_grad()) continue;
    Tensor ga = on_cpu[i].grad(), gb = on_cuda[i].grad();
    ASSERT_EQ(ga.defined(), gb.defined()) << "input " << i;
    if (!ga.defined()) continue;
    EXPECT_TRUE(gb.is_cuda());
    Tol t = tol_for(ga.dtype());
    std::vector<double> va = ga.to_vector<double>(), vb = gb.to_vector<double>();
    testing::expect_all_close(std::span<const double>(vb), std::span<const double>(va), t.rtol, t.atol,
                              fmt::format("gradient of input {}", i));
  }
}

Op one(std::function<Tensor(const std::vector<Tensor>&)> f) {
  return [f](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; };
}

const DType kFloatTypes[] = {kFloat32, kFloat64};
// Odd shapes: sizes 1, 3, 17, 129.
const std::vector<Shape> kShapes = {{1}, {3}, {17, 3}, {129}, {3, 17, 1}, {1, 129, 3}};

TEST_F(OpsCuda, BinaryWithBroadcasting) {
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{1}, {1}}, {{17, 3}, {3}}, {{3}, {17, 3}}, {{129, 1}, {1, 17}}, {{3, 1, 129}, {17, 1}}, {{}, {3, 17}}};
  const std::vector<std::pair<const char*, Tensor (*)(const Tensor&, const Tensor&)>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(abs(a) + 0.5, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
  };
  for (DType dt : kFloatTypes)
    for (const auto& [name, f] : ops)
      for (const auto& [sa, sb] : pairs) {
        auto fn = f;
        expect_cuda_matches_cpu(one([fn](const std::vector<Tensor>& x) { return fn(x[0], x[1]); }),
                                {uniform(sa, 1, -2, 2, dt), uniform(sb, 2, 0.5, 2, dt)},
                                fmt::format("{} {} {} {}", name, dt, shape_str(sa), shape_str(sb)));
      }
}

TEST_F(OpsCuda, UnaryAndScalarForms) {
  const std::vector<std::pair<const char*, Tensor (*)(const Tensor&)>> ops = {
      {"neg", [](const Tensor& x) { return -x; }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"log", [](const Tensor& x) { return log(abs(x) + 0.1); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"sqrt", [](const Tensor& x) { return sqrt(abs(x) + 0.1); }},
      {"square", [](const Tensor& x) { return square(x); }},
      {"pow 3", [](const Tensor& x) { return pow(x, 3.0); }},
      {"pow -0.5", [](const Tensor& x) { return pow(abs(x) + 0.5, -0.5); }},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }},
      {"scalars", [](const Tensor& x) { return (x + 1.5) * 2.0 - pow(x * x + 1.0, -1.0) * 0.25 + rsub(x, 3.0) / 4.0; }},
  };
  for (DType dt : kFloatTypes)
    for (const auto& [name, f] : ops)
      for (const Shape& s : kShapes) {
        auto fn = f;
        expect_cuda_matches_cpu(one([fn](const std::vector<Tensor>& x) { return fn(x[0]); }),
                                {uniform(s, 3, -2, 2, dt)}, fmt::format("{} {} {}", name, dt, shape_str(s)));
      }
}

TEST_F(OpsCuda, ComparisonsWhereMaskedFill) {
  for (DType dt : kFloatTypes) {
    Tensor a = uniform({17, 3}, 4, -1, 1, TensorOptions(dt)), b = uniform({3}, 5, -1, 1, TensorOptions(dt));
    using Compare = Tensor (*)(const Tensor&, const Tensor&);  // the tensor-tensor overloads
    for (Compare op : std::initializer_list<Compare>{eq, ne, lt, le, gt, ge}) {
      Tensor ca = op(a, b), cb = op(native::to(a, kCUDA), native::to(b, kCUDA));
      EXPECT_EQ(ca.to_vector<bool>(), cb.to_vector<bool>());
    }
    Tensor cond = gt(uniform({17, 3}, 6), uniform({17, 3}, 7));
    expect_cuda_matches_cpu(one([](const std::vector<Tensor>& x) { return where(x[2], x[0], x[1]); }),
                            {a, b, cond}, "where");
    expect_cuda_matches_cpu(one([](const std::vector<Tensor>& x) { return masked_fill(x[0], x[1], -3.0); }),
                            {a, gt(uniform({3}, 8), uniform({3}, 9))}, "masked_fill");
  }
  // Int64 and Bool operands compare too.
  Tensor i = tensor_int64({1, 5, -3}, {3}), j = tensor_int64({2, 5, -4}, {3});
  EXPECT_EQ(lt(native::to(i, kCUDA), native::to(j, kCUDA)).to_vector<bool>(), lt(i, j).to_vector<bool>());
}

TEST_F(OpsCuda, CopiesConversionsAndFactories) {
  Tensor x = uniform({17, 129}, 10);
  // Strided copies within the device and across devices, with conversion.
  Tensor g = native::to(x, kCUDA);
  EXPECT_EQ(g.t().contiguous().to_vector<double>(), x.t().contiguous().to_vector<double>());
  EXPECT_EQ(g.to(kFloat32).to_vector<float>(), x.to(kFloat32).to_vector<float>());
  EXPECT_EQ(g.to(kInt64).to_vector<std::int64_t>(), x.to(kInt64).to_vector<std::int64_t>());
  EXPECT_EQ(g.to(kBool).to_vector<bool>(), x.to(kBool).to_vector<bool>());
  EXPECT_EQ(g.slice(1, 3, 129, 5).cpu().to_vector<double>(), x.slice(1, 3, 129, 5).to_vector<double>());
  Tensor dst = native::zeros({129, 17}, TensorOptions(kFloat32).device(kCUDA));
  native::copy_(dst.t(), x);  // host float64 -> strided device float32
  EXPECT_EQ(dst.t().to_vector<float>(), x.to(kFloat32).to_vector<float>());
  EXPECT_EQ(arange(0, 129, 1, TensorOptions(kFloat64).device(kCUDA)).to_vector<double>(),
            arange(0, 129, 1, kFloat64).to_vector<double>());
  EXPECT_EQ(full({3, 17}, -2.5, TensorOptions(kFloat32).device(kCUDA)).to_vector<float>(),
            std::vector<float>(51, -2.5f));
}

TEST_F(OpsCuda, ViewsCatStackSplit) {
  for (DType dt : kFloatTypes) {
    Tensor x = uniform({3, 17, 129}, 11, -1, 1, TensorOptions(dt));
    Tensor y = uniform({3, 1, 129}, 12, -1, 1, TensorOptions(dt));
    const std::vector<std::pair<const char*, Op>> cases = {
        {"permute+reshape", one([](const std::vector<Tensor>& v) { return v[0].permute({2, 0, 1}).reshape({129, -1}) * 2.0; })},
        {"transpose+narrow", one([](const std::vector<Tensor>& v) { return v[0].transpose(0, 2).narrow(1, 3, 13) * 1.0; })},
        {"select+slice", one([](const std::vector<Tensor>& v) { return v[0].select(1, -1).slice(1, 1, 129, 4) * 1.0; })},
        {"expand", one([](const std::vector<Tensor>& v) { return v[1].expand({3, 17, 129}) * v[0]; })},
        {"cat", one([](const std::vector<Tensor>& v) { return cat({v[0], v[1], v[0].narrow(1, 0, 1)}, 1); })},
        {"stack", one([](const std::vector<Tensor>& v) { return stack({v[0].select(1, 0), v[1].squeeze(1)}, 2); })},
        {"split", [](const std::vector<Tensor>& v) { return split(v[0], 5, 1); }},
        {"chunk", [](const std::vector<Tensor>& v) { return chunk(v[0].t(), 3, 0); }},
        {"sum_to", one([](const std::vector<Tensor>& v) { return sum_to(v[0], {17, 1}); })},
    };
    for (const auto& [name, op] : cases) expect_cuda_matches_cpu(op, {x, y}, fmt::format("{} {}", name, dt));
  }
}

TEST_F(OpsCuda, Reductions) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{1}, {}}, {{129}, {0}}, {{17, 3}, {1}}, {{3, 17, 129}, {0, 2}}, {{3, 17, 129}, {1}},
      {{2, 1029}, {1}}, {{1029, 2}, {0}}, {{3, 17, 129}, {}}};
  for (DType dt : kFloatTypes)
    for (const auto& [shape, dims] : cases)
      for (bool keepdim : {false, true}) {
        Tensor x = uniform(shape, 13, -1, 1, TensorOptions(dt));
        std::string what = fmt::format("{} {} dims {} keepdim {}", dt, shape_str(shape), shape_str(dims), keepdim);
        expect_cuda_matches_cpu(one([&](const std::vector<Tensor>& v) { return sum(v[0], dims, keepdim); }), {x},
                                "sum " + what);
        expect_cuda_matches_cpu(one([&](const std::vector<Tensor>& v) { return mean(v[0], dims, keepdim); }), {x},
                                "mean " + what);
        std::int64_t d = dims.empty() ? 0 : dims[0];
        // max: values and (exactly equal) indices; continuous random data has no ties.
        expect_cuda_matches_cpu([&](const std::vector<Tensor>& v) {
          auto [values, indices] = max(v[0].transpose(0, -1), d, keepdim);
          return std::vector<Tensor>{values, indices};
        }, {x}, "max " + what);
      }
  Tensor x = uniform({17, 129}, 14);
  expect_cuda_matches_cpu(one([](const std::vector<Tensor>& v) { return max(v[0]); }), {x}, "max()");
  EXPECT_EQ(argmax(native::to(x, kCUDA), 1).to_vector<std::int64_t>(), argmax(x, 1).to_vector<std::int64_t>());
  EXPECT_EQ(argmax(native::to(x, kCUDA)).item(), argmax(x).item());
}

TEST_F(OpsCuda, SoftmaxAndLogSoftmax) {
  // (shape, dim): rows of 1, 3, 17, 129 and 1029 (several strided partials per
  // thread), a middle dim (column kernel) and dim 0 (outer = 1).
  const std::vector<std::pair<Shape, std::int64_t>> cases = {
      {{1, 1}, 1},    {{3, 17}, 1},   {{129, 3}, 1},   {{17, 129}, -1}, {{2, 1029}, 1},
      {{3, 17, 5}, 1}, {{129, 3}, 0}, {{3, 17, 129}, 0}, {{1029, 2}, 0}, {{}, 0}};
  for (DType dt : kFloatTypes)
    for (const auto& [shape, dim] : cases)
      for (bool log : {false, true}) {
        Tensor x = uniform(shape, 15, -10, 10, TensorOptions(dt));
        std::int64_t d = dim;
        expect_cuda_matches_cpu(one([d, log](const std::vector<Tensor>& v) {
                                  return log ? log_softmax(v[0], d) : softmax(v[0], d);
                                }),
                                {x}, fmt::format("{} {} {} dim {}", log ? "log_softmax" : "softmax", dt, shape_str(shape), dim));
      }
}

TEST_F(OpsCuda, NllLossCrossEntropyMseLoss) {
  for (DType dt : kFloatTypes)
    for (std::int64_t N : {1, 3, 17, 129, 300})
      for (std::int64_t C : {1, 3, 17, 129}) {
        std::vector<std::int64_t> t;
        for (std::int64_t n = 0; n < N; ++n) t.push_back(n % 5 == 4 ? -100 : (n * 7) % C);
        Tensor target = tensor_int64(t, {N});
        Tensor x = uniform({N, C}, 16, -3, 3, TensorOptions(dt));
        for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
          std::string what = fmt::format("{} N {} C {} reduction {}", dt, N, C, static_cast<int>(r));
          expect_cuda_matches_cpu(one([r](const std::vector<Tensor>& v) { return nll_loss(v[0], v[1], -100, r); }),
                                  {x, target}, "nll_loss " + what);
          expect_cuda_matches_cpu(one([r](const std::vector<Tensor>& v) { return cross_entropy(v[0], v[1], -100, r); }),
                                  {x, target}, "cross_entropy " + what);
          expect_cuda_matches_cpu(one([r](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1], r); }),
                                  {x, uniform({C}, 17, -1, 1, TensorOptions(dt))}, "mse_loss " + what);
        }
      }
  // Unbatched, and all targets ignored (mean is NaN on both devices).
  expect_cuda_matches_cpu(one([](const std::vector<Tensor>& v) { return cross_entropy(v[0], v[1]); }),
                          {uniform({17}, 18), tensor_int64({16}, {})}, "unbatched");
  expect_cuda_matches_cpu(one([](const std::vector<Tensor>& v) { return nll_loss(v[0], v[1]); }),
                          {uniform({3, 4}, 19), tensor_int64({-100, -100, -100}, {3})}, "all ignored");
}

TEST_F(OpsCuda, NllLossRejectsOutOfRangeTargets) {
  Tensor x = native::to(uniform({129, 17}, 20), kCUDA);
  std::vector<std::int64_t> t(129, 3);
  t[77] = 17;
  t[100] = -5;
  EXPECT_LOOM_ERROR(nll_loss(x, tensor_int64(t, {129}, kCUDA)), "Target 17 is out of bounds.");
  t[77] = 0;
  EXPECT_LOOM_ERROR(cross_entropy(x, tensor_int64(t, {129}, kCUDA)), "Target -5 is out of bounds.");
  // The device stays usable after the error.
  t[100] = 1;
  EXPECT_TRUE(std::isfinite(nll_loss(x, tensor_int64(t, {129}, kCUDA)).item()));
  EXPECT_LOOM_ERROR(nll_loss(x, tensor_int64(t, {129})), "Expected all tensors to be on the same device");
}

TEST_F(OpsCuda, ReductionsAndLossesAreBitwiseRepeatable) {
  Tensor x = native::to(uniform({300, 129}, 21, -5, 5, TensorOptions(kFloat32)), kCUDA);
  std::vector<std::int64_t> t;
  for (int n = 0; n < 300; ++n) t.push_back(n % 129);
  Tensor target = tensor_int64(t, {300}, kCUDA);
  auto run = [&] {
    Tensor leaf = native::clone(x).requires_grad_();
    Tensor loss = cross_entropy(leaf, target) + mean(leaf) + sum(softmax(leaf, 0), {}) ;
    loss.backward();
    std::vector<float> out = leaf.grad().to_vector<float>();
    out.push_back(static_cast<float>(loss.item()));
    return out;
  };
  std::vector<float> a = run(), b = run();
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace loom
