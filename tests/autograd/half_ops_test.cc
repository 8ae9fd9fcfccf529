// Elementwise, reduction, linalg and nn ops and their gradients in bfloat16
// and float16 against two oracles:
//  - PyTorch 1.13's CPU results, bit patterns from tests/data/half/ops.txt
//    (tests/fixtures/make_half_ops.py), where PyTorch implements the op for
//    the dtype (bfloat16: all but mse_loss; float16: the elementwise ops and
//    the reductions). Both compute in float32 and round once, but their float32
//    results may differ in the last float bit (other libm, other summation
//    order), which can move a value across a 16-bit rounding boundary: so a
//    result of a single op may be 1 ulp (of the 16-bit type) away. Where it
//    is further, loom must be closer than PyTorch to the float64 result of
//    the same op on the same (exactly widened) inputs: PyTorch 1.13's CPU
//    bfloat16 matmul rounds inside its sums, which loom does not (the test
//    prints how many such elements it saw). Composite results (losses built
//    of several ops, gradients) round after every op on both sides, and a
//    rounded intermediate that later cancels moves the result by more than
//    an ulp of its own size: they must agree within 2 ulps or within
//    4 * eps * max |PyTorch's tensor| (eps = 2^-8 bfloat16, 2^-11 float16).
//  - float32 compute then round once: every single op on 16-bit inputs gives
//    exactly the bits of the same op in float32 on the widened inputs, rounded.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/native.h"
#include "op_testing.h"
#include "testing.h"

namespace loom {
namespace {

struct Ref {
  Shape shape;
  std::vector<std::uint16_t> bits;
};

// name -> PyTorch's result, for one dtype ("bfloat16" / "float16").
std::map<std::string, Ref> load_refs(const std::string& dtype) {
  std::map<std::string, Ref> refs;
  std::ifstream in(testing::source_path("tests/data/half/ops.txt"));
  EXPECT_TRUE(in) << "missing tests/data/half/ops.txt";
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string dt, name, shape;
    s >> dt >> name >> shape;
    if (dt != dtype) continue;
    Ref r;
    if (shape != "-") {
      std::istringstream ss(shape);
      std::string part;
      while (std::getline(ss, part, ',')) r.shape.push_back(std::stoll(part));
    }
    std::string hex;
    while (s >> hex) r.bits.push_back(static_cast<std::uint16_t>(std::stoul(hex, nullptr, 16)));
    EXPECT_EQ(static_cast<std::int64_t>(r.bits.size()), shape_numel(r.shape)) << line;
    refs[name] = r;
  }
  return refs;
}

Tensor from_bits(const Ref& r, DType dtype) {
  Tensor t = empty(r.shape, dtype);
  if (!r.bits.empty()) std::memcpy(t.data_ptr(), r.bits.data(), r.bits.size() * 2);
  return t;
}

std::vector<std::uint16_t> bits_of(const Tensor& t) {
  Tensor c = native::contiguous(t.detach());
  std::vector<std::uint16_t> out(static_cast<std::size_t>(c.numel()));
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size() * 2);
  return out;
}

// Distance in units in the last place between two 16-bit patterns of one type
// (patterns ordered as sign-magnitude integers).
int ulps(std::uint16_t a, std::uint16_t b) {
  auto key = [](std::uint16_t x) { return (x & 0x8000) ? -static_cast<int>(x & 0x7fff) : static_cast<int>(x); };
  return std::abs(key(a) - key(b));
}

using Fn = std::function<std::vector<Tensor>(const std::map<std::string, Tensor>&)>;

// Every case of ops.txt: how loom computes it from the inputs in_a, in_b, in_m, in_w.
std::map<std::string, std::pair<Fn, bool>> cases() {
  using In = const std::map<std::string, Tensor>&;
  Tensor target = tensor_int64({1, 0, 5, 3}, {4});
  Tensor idx = tensor_int64({1, 3, 3, 0}, {2, 2});
  auto one = [](std::function<Tensor(In)> f) { return Fn([f](In in) { return std::vector<Tensor>{f(in)}; }); };
  // grads(f, inputs...): the gradients of the scalar f(inputs) in the dtype.
  auto grads = [](std::function<Tensor(const std::vector<Tensor>&)> f, std::vector<std::string> names) {
    return Fn([f, names](In in) {
      std::vector<Tensor> xs;
      for (const auto& n : names) xs.push_back(in.at(n).detach().clone().requires_grad_());
      f(xs).backward();
      std::vector<Tensor> g;
      for (auto& x : xs) g.push_back(x.grad());
      return g;
    });
  };
  std::map<std::string, std::pair<Fn, bool>> c;  // bool: a single op (the float32 oracle applies)
  auto single = [&](const std::string& name, std::function<Tensor(In)> f) { c[name] = {one(f), true}; };
  auto composite = [&](const std::string& name, Fn f) { c[name] = {f, false}; };
  single("neg", [](In in) { return neg(in.at("in_a")); });
  single("exp", [](In in) { return exp(in.at("in_a")); });
  single("tanh", [](In in) { return tanh(in.at("in_a")); });
  single("sigmoid", [](In in) { return sigmoid(in.at("in_a")); });
  single("relu", [](In in) { return relu(in.at("in_a")); });
  single("abs", [](In in) { return abs(in.at("in_a")); });
  single("square", [](In in) { return square(in.at("in_a")); });
  single("mul_scalar", [](In in) { return mul(in.at("in_a"), 0.1); });
  single("add_scalar", [](In in) { return add(in.at("in_a"), 0.3); });
  single("rsub_scalar", [](In in) { return rsub(in.at("in_a"), 1.7); });
  single("clamp", [](In in) { return clamp(in.at("in_a"), -0.5, 0.8); });
  single("log", [](In in) { return log(in.at("in_b")); });
  single("sqrt", [](In in) { return sqrt(in.at("in_b")); });
  single("pow_scalar", [](In in) { return pow(in.at("in_b"), 2.5); });
  single("reciprocal", [](In in) { return native::unary(native::UnaryOp::Reciprocal, in.at("in_b")); });
  single("add", [](In in) { return add(in.at("in_a"), in.at("in_b")); });
  single("sub", [](In in) { return sub(in.at("in_a"), in.at("in_b")); });
  single("mul", [](In in) { return mul(in.at("in_a"), in.at("in_b")); });
  single("div", [](In in) { return div(in.at("in_a"), in.at("in_b")); });
  single("maximum", [](In in) { return maximum(in.at("in_a"), in.at("in_b")); });
  single("minimum", [](In in) { return minimum(in.at("in_a"), in.at("in_b")); });
  single("pow", [](In in) { return pow(in.at("in_b"), in.at("in_a")); });
  single("add_broadcast", [](In in) { return add(in.at("in_a"), in.at("in_b").select(0, 0)); });
  single("sum", [](In in) { return sum(in.at("in_a")); });
  single("sum_dim0", [](In in) { return sum(in.at("in_a"), {0}); });
  single("mean_dim1", [](In in) { return mean(in.at("in_a"), {1}); });
  single("max_dim1", [](In in) { return max(in.at("in_a"), 1).first; });
  single("softmax1", [](In in) { return softmax(in.at("in_a"), 1); });
  single("log_softmax0", [](In in) { return log_softmax(in.at("in_a"), 0); });
  single("matmul", [](In in) { return matmul(in.at("in_a"), in.at("in_m")); });
  single("linear", [](In in) {
    return linear(in.at("in_m"), in.at("in_w"), in.at("in_w").select(1, 0).contiguous());
  });
  single("embedding", [idx](In in) { return embedding(in.at("in_a"), idx); });
  composite("cross_entropy", one([target](In in) { return cross_entropy(in.at("in_a"), target); }));
  composite("mse_loss", one([](In in) { return mse_loss(in.at("in_a"), in.at("in_b")); }));
  composite("grad_mul_sum", grads([](const std::vector<Tensor>& x) { return sum(mul(x[0], x[1])); }, {"in_a", "in_b"}));
  composite("grad_tanh_sigmoid",
            grads([](const std::vector<Tensor>& x) { return sum(mul(tanh(x[0]), sigmoid(x[0]))); }, {"in_a"}));
  composite("grad_div", grads([](const std::vector<Tensor>& x) { return sum(div(x[0], x[1])); }, {"in_a", "in_b"}));
  composite("grad_matmul",
            grads([](const std::vector<Tensor>& x) { return sum(pow(matmul(x[0], x[1]), 2.0)); }, {"in_a", "in_m"}));
  composite("grad_cross_entropy",
            grads([target](const std::vector<Tensor>& x) { return cross_entropy(x[0], target); }, {"in_a"}));
  composite("grad_softmax", Fn([](In in) {
              Tensor x = in.at("in_a").detach().clone().requires_grad_();
              sum(mul(softmax(x, 1), in.at("in_b"))).backward();
              return std::vector<Tensor>{x.grad()};
            }));
  composite("grad_linear",
            grads([](const std::vector<Tensor>& x) { return mean(exp(linear(x[0], x[1]))); }, {"in_m", "in_w"}));
  composite("grad_mse", Fn([](In in) {
              Tensor x = in.at("in_a").detach().clone().requires_grad_();
              mse_loss(x, in.at("in_b")).backward();
              return std::vector<Tensor>{x.grad()};
            }));
  return c;
}

// The value of a 16-bit pattern.
double value_of(std::uint16_t b, DType dtype) {
  return dtype == kBFloat16 ? static_cast<float>(bfloat16::from_bits(b)) : static_cast<float>(float16::from_bits(b));
}

void check_against_pytorch(DType dtype) {
  const std::string name = std::string(dtype_name(dtype));
  std::map<std::string, Ref> refs = load_refs(name);
  ASSERT_TRUE(refs.count("in_a") && refs.count("in_b") && refs.count("in_m") && refs.count("in_w"));
  std::map<std::string, Tensor> in, exact_in;
  for (const char* n : {"in_a", "in_b", "in_m", "in_w"}) {
    in[n] = from_bits(refs.at(n), dtype);
    exact_in[n] = in[n].to(kFloat64);
  }
  auto all = cases();
  int compared = 0, identical = 0, total = 0, worst = 0, closer = 0, worst_exact = 0;
  double worst_scaled = 0;  // composites: max |loom - PyTorch| / (eps * max |PyTorch|)
  const double eps = dtype == kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
  for (const auto& [case_name, fn_single] : all) {
    std::vector<Tensor> got = fn_single.first(in);
    std::vector<Tensor> exact = fn_single.first(exact_in);  // float64, same inputs
    const bool grad = case_name.rfind("grad_", 0) == 0;
    for (std::size_t k = 0; k < got.size(); ++k) {
      std::string key = got.size() == 1 && !grad ? case_name : case_name + "." + std::to_string(k);
      if (!refs.count(key)) continue;  // PyTorch does not implement it for this dtype
      const Ref& r = refs.at(key);
      ASSERT_EQ(got[k].dtype(), dtype) << key;
      ASSERT_EQ(got[k].shape(), r.shape) << key;
      std::vector<std::uint16_t> b = bits_of(got[k]);
      std::vector<double> e = exact[k].to_vector<double>();
      std::vector<std::uint16_t> e_rounded = bits_of(exact[k].to(dtype));
      const bool single = fn_single.second;
      double scale = 0;
      for (std::uint16_t x : r.bits) scale = std::max(scale, std::abs(value_of(x, dtype)));
      for (std::size_t i = 0; i < b.size(); ++i) {
        int d = ulps(b[i], r.bits[i]);
        worst = std::max(worst, d);
        if (single && case_name != "rsub_scalar")  // rsub rounds its scalar first, by design
          worst_exact = std::max(worst_exact, ulps(b[i], e_rounded[i]));
        identical += d == 0;
        ++total;
        if (!single) {
          double diff = std::abs(value_of(b[i], dtype) - value_of(r.bits[i], dtype));
          worst_scaled = std::max(worst_scaled, diff / (eps * scale));
          EXPECT_TRUE(d <= 2 || diff <= 4 * eps * scale)
              << key << "[" << i << "]: loom " << std::hex << b[i] << " PyTorch " << r.bits[i] << std::dec
              << " (" << diff / (eps * scale) << " eps * max |PyTorch|)";
          continue;
        }
        if (d <= 1) continue;
        double loom_err = std::abs(value_of(b[i], dtype) - e[i]);
        double torch_err = std::abs(value_of(r.bits[i], dtype) - e[i]);
        EXPECT_LE(loom_err, torch_err) << key << "[" << i << "]: loom " << std::hex << b[i] << " PyTorch "
                                       << r.bits[i] << std::dec << " float64 " << e[i];
        ++closer;
      }
      ++compared;
    }
  }
  // Every PyTorch result in the file has a loom case.
  for (const auto& [key, r] : refs) {
    if (key.rfind("in_", 0) == 0) continue;
    std::string base = key.substr(0, key.find('.'));
    EXPECT_TRUE(all.count(base)) << "no loom case for " << key;
  }
  EXPECT_GT(compared, dtype == kBFloat16 ? 40 : 15);
  std::printf("[ %s ] %d results, %d of %d elements bit-identical to PyTorch 1.13, worst %d ulp from it; "
              "single ops: %d elements more than 1 ulp from PyTorch, each closer than PyTorch to float64, "
              "worst %d ulp from the float64 result rounded; composites: worst |loom - PyTorch| = %.2f eps "
              "* max |PyTorch|\n",
              name.c_str(), compared, identical, total, worst, closer, worst_exact, worst_scaled);
}

TEST(HalfOps, BFloat16MatchesPyTorch) { check_against_pytorch(kBFloat16); }
TEST(HalfOps, Float16MatchesPyTorchWhereItImplementsTheOp) { check_against_pytorch(kFloat16); }

// Every single op equals float32 compute rounded once, bit for bit.
void check_round_once(DType dtype) {
  std::map<std::string, Ref> refs = load_refs(std::string(dtype_name(dtype)));
  std::map<std::string, Tensor> in, wide;
  for (const char* n : {"in_a", "in_b", "in_m", "in_w"}) {
    in[n] = from_bits(refs.at(n), dtype);
    wide[n] = in[n].to(kFloat32);
  }
  int n = 0;
  for (const auto& [case_name, fn_single] : cases()) {
    if (!fn_single.second) continue;
    Tensor got = fn_single.first(in)[0];
    // rsub's scalar is cast to the dtype first, as PyTorch does (the other
    // scalars stay unrounded in the float math).
    Tensor expected = case_name == "rsub_scalar"
                          ? rsub(wide.at("in_a"), static_cast<double>(dtype == kBFloat16
                                                                          ? static_cast<float>(bfloat16(1.7f))
                                                                          : static_cast<float>(float16(1.7f)))).to(dtype)
                          : fn_single.first(wide)[0].to(dtype);
    EXPECT_EQ(bits_of(got), bits_of(expected)) << case_name;
    ++n;
  }
  EXPECT_GE(n, 30);
}

TEST(HalfOps, BFloat16SingleOpsAreFloat32RoundedOnce) { check_round_once(kBFloat16); }
TEST(HalfOps, Float16SingleOpsAreFloat32RoundedOnce) { check_round_once(kFloat16); }

// Scalars stay unrounded in the float32 math: x * 0.1 is not x * bfloat16(0.1).
TEST(HalfOps, ScalarOperandIsNotRoundedFirst) {
  Tensor x = tensor({3.0}, kBFloat16);
  EXPECT_EQ(mul(x, 0.1).item(), static_cast<double>(static_cast<float>(bfloat16(3.0f * 0.1f))));
  EXPECT_EQ(bits_of(mul(x, 0.1))[0], bfloat16(0.3f).bits);  // 3 * 0.1f = 0.3 (f32) -> 0x3e9a
}

// Backward of embedding (sums of repeated rows), reductions and max: the
// 16-bit gradient is the float32 gradient of the same (exactly widened)
// values, rounded once. Dropout's gradient is the upstream gradient times the
// 16-bit mask, as in PyTorch.
TEST(HalfOps, BackwardOfEmbeddingReductionsMaxAndDropout) {
  for (DType dtype : {kBFloat16, kFloat16}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    Tensor w0 = testing::random_tensor({5, 3}, 4, dtype);
    Tensor x0 = testing::random_tensor({4, 7}, 5, dtype);
    Tensor g = testing::random_tensor({6, 3}, 6, dtype);
    Tensor idx = tensor_int64({0, 2, 0, 4, 0, 0}, {6});
    auto grads = [&](DType t) {
      Tensor w = w0.to(t).detach().requires_grad_(), x = x0.to(t).detach().requires_grad_();
      Tensor loss = add(add(sum(mul(embedding(w, idx), g.to(t))), mean(x)),
                        sum(max(x, 1).first));
      loss.backward();
      return std::pair<Tensor, Tensor>{w.grad(), x.grad()};
    };
    auto [w16, x16] = grads(dtype);
    auto [w32, x32] = grads(kFloat32);
    EXPECT_EQ(w16.dtype(), dtype);
    EXPECT_EQ(bits_of(w16), bits_of(w32.to(dtype))) << "embedding";
    EXPECT_EQ(bits_of(x16), bits_of(x32.to(dtype))) << "mean and max";

    Tensor ones_in = ones({300}, TensorOptions(dtype).requires_grad());
    Tensor up = testing::random_tensor({300}, 7, dtype);
    Tensor y = dropout(ones_in, 0.3);  // y is the mask itself
    y.backward(up);
    EXPECT_EQ(ones_in.grad().dtype(), dtype);
    EXPECT_EQ(bits_of(ones_in.grad()), bits_of(mul(up, y.detach()))) << "dropout";
  }
}

TEST(HalfOps, GradientsHaveTheTensorsDType) {
  for (DType dtype : {kBFloat16, kFloat16}) {
    Tensor w = testing::random_tensor({3, 4}, 1, dtype).requires_grad_();
    Tensor x = testing::random_tensor({5, 4}, 2, dtype);
    Tensor loss = mean(square(linear(x, w)));
    EXPECT_EQ(loss.dtype(), dtype);
    loss.backward();
    ASSERT_TRUE(w.grad().defined());
    EXPECT_EQ(w.grad().dtype(), dtype);
    // Against float64 autograd on the same (exactly widened) values: relative error of
    // a few 16-bit ulps (2^-8 bfloat16, 2^-11 float16) at most.
    Tensor w64 = w.detach().to(kFloat64).requires_grad_();
    mean(square(linear(x.to(kFloat64), w64))).backward();
    std::vector<double> g = w.grad().to_vector<double>(), e = w64.grad().to_vector<double>();
    const double eps = dtype == kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
    testing::expect_all_close(std::span<const double>(g), std::span<const double>(e), 4 * eps, 4 * eps * 0.1,
                              std::string(dtype_name(dtype)));
  }
}

}  // namespace
}  // namespace loom
