// Elementwise operations: forward values against PyTorch 1.13, gradients
// against finite differences (gradcheck in float64, random upstream gradient),
// PyTorch's gradient conventions at ties and kinks, and error messages.
#include <cmath>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "autograd/functions.h"
#include "op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;
using testing::leaf;
using testing::leaf_away_from_zero;
using testing::uniform;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

const Shape k23{2, 3};

// The inputs of the forward checks below: the same literals as in the PyTorch script.
Tensor lit_a() { return tensor({0.5, -1.25, 2.0, 3.0, -0.75, 1.5}, {2, 3}, kFloat64); }
Tensor lit_b() { return tensor({0.25, 2.0, -1.5}, {3}, kFloat64); }

// ---- forward values -----------------------------------------------------------------
// Expected values printed by /usr/bin/python3 (torch 1.13) for
//   a = [[0.5, -1.25, 2.0], [3.0, -0.75, 1.5]], b = [0.25, 2.0, -1.5] (float64).
TEST(ElementwiseForward, BinaryBroadcastMatchesPyTorch) {
  Tensor a = lit_a(), b = lit_b();
  expect_tensor(a + b, k23, {0.75, 0.75, 0.5, 3.25, 1.25, 0.0}, 1e-15, 0, "add");
  expect_tensor(a - b, k23, {0.25, -3.25, 3.5, 2.75, -2.75, 3.0}, 1e-15, 0, "sub");
  expect_tensor(b - a, k23, {-0.25, 3.25, -3.5, -2.75, 2.75, -3.0}, 1e-15, 0, "sub reversed");
  expect_tensor(a * b, k23, {0.125, -2.5, -3.0, 0.75, -1.5, -2.25}, 1e-15, 0, "mul");
  expect_tensor(a / b, k23, {2.0, -0.625, -1.3333333333333333, 12.0, -0.375, -1.0}, 1e-15, 0, "div");
  expect_tensor(b / a, k23, {0.5, -1.6, -0.75, 0.08333333333333333, -2.6666666666666665, -1.0},
                1e-15, 0, "div reversed");
  expect_tensor(pow(abs(a), b), k23,
                {0.8408964152537145, 1.5625, 0.3535533905932738, 1.3160740129524924, 0.5625,
                 0.5443310539518174},
                1e-14, 0, "pow");
  expect_tensor(maximum(a, b), k23, {0.5, 2.0, 2.0, 3.0, 2.0, 1.5}, 0, 0, "maximum");
  expect_tensor(minimum(a, b), k23, {0.25, -1.25, -1.5, 0.25, -0.75, -1.5}, 0, 0, "minimum");
}

TEST(ElementwiseForward, ScalarFormsMatchPyTorch) {
  Tensor a = lit_a();
  expect_tensor(a + 1.5, k23, {2.0, 0.25, 3.5, 4.5, 0.75, 3.0}, 1e-15, 0, "add scalar");
  expect_tensor(1.5 + a, k23, {2.0, 0.25, 3.5, 4.5, 0.75, 3.0}, 1e-15, 0, "scalar add");
  expect_tensor(a - 1.5, k23, {-1.0, -2.75, 0.5, 1.5, -2.25, 0.0}, 1e-15, 0, "sub scalar");
  expect_tensor(a * -2.5, k23, {-1.25, 3.125, -5.0, -7.5, 1.875, -3.75}, 1e-15, 0, "mul scalar");
  expect_tensor(-2.5 * a, k23, {-1.25, 3.125, -5.0, -7.5, 1.875, -3.75}, 1e-15, 0, "scalar mul");
  expect_tensor(a / 4.0, k23, {0.125, -0.3125, 0.5, 0.75, -0.1875, 0.375}, 1e-15, 0, "div scalar");
  expect_tensor(2.0 - a, k23, {1.5, 3.25, 0.0, -1.0, 2.75, 0.5}, 1e-15, 0, "rsub");
  expect_tensor(rsub(a, 2.0), k23, {1.5, 3.25, 0.0, -1.0, 2.75, 0.5}, 1e-15, 0, "rsub()");
}

TEST(ElementwiseForward, UnaryMatchesPyTorch) {
  Tensor a = lit_a();
  expect_tensor(-a, k23, {-0.5, 1.25, -2.0, -3.0, 0.75, -1.5}, 0, 0, "neg");
  expect_tensor(exp(a), k23,
                {1.6487212707001282, 0.2865047968601901, 7.38905609893065, 20.085536923187668,
                 0.4723665527410147, 4.4816890703380645},
                1e-14, 0, "exp");
  expect_tensor(log(abs(a)), k23,
                {-0.6931471805599453, 0.22314355131420976, 0.6931471805599453, 1.0986122886681098,
                 -0.2876820724517809, 0.4054651081081644},
                1e-14, 0, "log");
  expect_tensor(tanh(a), k23,
                {0.46211715726000974, -0.8482836399575129, 0.9640275800758169, 0.9950547536867305,
                 -0.6351489523872873, 0.9051482536448664},
                1e-14, 0, "tanh");
  expect_tensor(sigmoid(a), k23,
                {0.6224593312018546, 0.22270013882530884, 0.8807970779778823, 0.9525741268224334,
                 0.320821300824607, 0.8175744761936437},
                1e-14, 0, "sigmoid");
  expect_tensor(relu(a), k23, {0.5, 0.0, 2.0, 3.0, 0.0, 1.5}, 0, 0, "relu");
  expect_tensor(sqrt(abs(a)), k23,
                {0.7071067811865476, 1.118033988749895, 1.4142135623730951, 1.7320508075688772,
                 0.8660254037844386, 1.224744871391589},
                1e-14, 0, "sqrt");
  expect_tensor(abs(a), k23, {0.5, 1.25, 2.0, 3.0, 0.75, 1.5}, 0, 0, "abs");
  expect_tensor(square(a), k23, {0.25, 1.5625, 4.0, 9.0, 0.5625, 2.25}, 1e-15, 0, "square");
  expect_tensor(pow(a, 3.0), k23, {0.125, -1.953125, 8.0, 27.0, -0.421875, 3.375}, 1e-14, 0, "pow 3");
  expect_tensor(pow(abs(a), 0.5), k23,
                {0.7071067811865476, 1.118033988749895, 1.4142135623730951, 1.7320508075688772,
                 0.8660254037844386, 1.224744871391589},
                1e-14, 0, "pow 0.5");
  expect_tensor(clamp(a, -1.0, 1.6), k23, {0.5, -1.0, 1.6, 1.6, -0.75, 1.5}, 0, 0, "clamp");
}

TEST(ElementwiseForward, WhereAndMaskedFillMatchPyTorch) {
  Tensor a = lit_a(), b = lit_b();
  Tensor cond = ne(tensor({1, 0, 1}, kFloat64), tensor({0, 0, 0}, kFloat64));  // [T, F, T]
  EXPECT_EQ(cond.dtype(), kBool);
  expect_tensor(where(cond, a, b), k23, {0.5, 2.0, 2.0, 3.0, 2.0, 1.5}, 0, 0, "where");
  expect_tensor(masked_fill(a, cond, -7.0), k23, {-7.0, -1.25, -7.0, -7.0, -0.75, -7.0}, 0, 0,
                "masked_fill");
}

TEST(ElementwiseForward, Float32ComputesInFloat32) {
  Tensor a = tensor({0.1, 0.2}, kFloat32), b = tensor({0.2, 0.3}, kFloat32);
  Tensor c = a + b;
  EXPECT_EQ(c.dtype(), kFloat32);
  // 0.1f + 0.2f and 0.2f + 0.3f rounded in float32 (not the float64 sums).
  std::vector<float> v = c.to_vector<float>();
  EXPECT_EQ(v[0], 0.1f + 0.2f);
  EXPECT_EQ(v[1], 0.2f + 0.3f);
}

TEST(ElementwiseForward, ComparisonsGiveBool) {
  Tensor a = tensor({1, 2, 3}, kFloat64), b = tensor({2, 2, 2}, kFloat64);
  auto bools = [](const Tensor& t) { return t.to_vector<bool>(); };
  EXPECT_EQ(bools(eq(a, b)), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(bools(ne(a, b)), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(bools(lt(a, b)), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(bools(le(a, b)), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(bools(gt(a, b)), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(bools(ge(a, b)), (std::vector<bool>{false, true, true}));
  EXPECT_FALSE(eq(a, b).requires_grad());
}

// ---- gradients: finite differences ----------------------------------------------------
struct BinaryCase {
  const char* name;
  Tensor (*op)(const Tensor&, const Tensor&);
  bool positive_base;  // pow: base in (0.5, 2)
};

Tensor op_add(const Tensor& a, const Tensor& b) { return a + b; }
Tensor op_sub(const Tensor& a, const Tensor& b) { return a - b; }
Tensor op_mul(const Tensor& a, const Tensor& b) { return a * b; }
Tensor op_div(const Tensor& a, const Tensor& b) { return a / b; }
Tensor op_pow(const Tensor& a, const Tensor& b) { return pow(a, b); }
Tensor op_maximum(const Tensor& a, const Tensor& b) { return maximum(a, b); }
Tensor op_minimum(const Tensor& a, const Tensor& b) { return minimum(a, b); }

const BinaryCase kBinaryCases[] = {
    {"add", op_add, false},         {"sub", op_sub, false},         {"mul", op_mul, false},
    {"div", op_div, false},         {"pow", op_pow, true},          {"maximum", op_maximum, false},
    {"minimum", op_minimum, false},
};

TEST(ElementwiseGrad, BinaryOpsWithBroadcastingBothWays) {
  // (a shape, b shape): same, b broadcast, a broadcast, both broadcast, 0-dim operands.
  // (a shape, b shape, broadcast shape)
  const std::vector<std::tuple<Shape, Shape, Shape>> shapes = {
      {{2, 3}, {2, 3}, {2, 3}}, {{2, 3}, {3}, {2, 3}},       {{3}, {2, 3}, {2, 3}},
      {{2, 1}, {1, 3}, {2, 3}}, {{4, 1, 3}, {2, 1}, {4, 2, 3}}, {{}, {2, 3}, {2, 3}},
      {{2, 3}, {}, {2, 3}},     {{}, {}, {}}};
  std::uint64_t seed = 10;
  for (const BinaryCase& c : kBinaryCases) {
    for (const auto& [sa, sb, so] : shapes) {
      SCOPED_TRACE(fmt::format("{} {} {}", c.name, shape_str(sa), shape_str(sb)));
      Tensor a = c.positive_base ? leaf(sa, ++seed, 0.5, 2.0) : leaf_away_from_zero(sa, ++seed);
      Tensor b = leaf_away_from_zero(sb, ++seed);
      auto op = c.op;
      Tensor out = op(a, b);
      EXPECT_EQ(shape_str(out.shape()), shape_str(so));
      EXPECT_GRADCHECK(Fn([op](const std::vector<Tensor>& x) { return op(x[0], x[1]); }), {a, b});
    }
  }
}

TEST(ElementwiseGrad, OnlyOneOperandRequiresGrad) {
  Tensor a = leaf({2, 3}, 1), b = uniform({3}, 2, 0.5, 2);
  EXPECT_GRADCHECK(Fn([b](const std::vector<Tensor>& x) { return x[0] * b; }), {a});
  EXPECT_GRADCHECK(Fn([b](const std::vector<Tensor>& x) { return b / (x[0] + 3.0); }), {a});
  EXPECT_FALSE((uniform({2}, 3) * uniform({2}, 4)).requires_grad());
}

TEST(ElementwiseGrad, ScalarForms) {
  Tensor a = leaf({2, 3}, 7);
  const std::vector<std::pair<const char*, Fn>> cases = {
      {"add", [](const std::vector<Tensor>& x) { return x[0] + 1.5; }},
      {"radd", [](const std::vector<Tensor>& x) { return 1.5 + x[0]; }},
      {"sub", [](const std::vector<Tensor>& x) { return x[0] - 0.5; }},
      {"rsub", [](const std::vector<Tensor>& x) { return 2.0 - x[0]; }},
      {"mul", [](const std::vector<Tensor>& x) { return x[0] * -2.5; }},
      {"rmul", [](const std::vector<Tensor>& x) { return -2.5 * x[0]; }},
      {"div", [](const std::vector<Tensor>& x) { return x[0] / 4.0; }},
  };
  for (const auto& [name, f] : cases) {
    SCOPED_TRACE(name);
    EXPECT_GRADCHECK(f, {a});
  }
}

TEST(ElementwiseGrad, UnaryOps) {
  Tensor any = leaf_away_from_zero({3, 4}, 11, 0.1, 2.0);  // no kinks within eps
  Tensor pos = leaf({3, 4}, 12, 0.2, 3.0);
  const std::vector<std::tuple<const char*, Fn, Tensor>> cases = {
      {"neg", [](const std::vector<Tensor>& x) { return -x[0]; }, any},
      {"neg()", [](const std::vector<Tensor>& x) { return neg(x[0]); }, any},
      {"exp", [](const std::vector<Tensor>& x) { return exp(x[0]); }, any},
      {"log", [](const std::vector<Tensor>& x) { return log(x[0]); }, pos},
      {"tanh", [](const std::vector<Tensor>& x) { return tanh(x[0]); }, any},
      {"sigmoid", [](const std::vector<Tensor>& x) { return sigmoid(x[0]); }, any},
      {"relu", [](const std::vector<Tensor>& x) { return relu(x[0]); }, any},
      {"sqrt", [](const std::vector<Tensor>& x) { return sqrt(x[0]); }, pos},
      {"abs", [](const std::vector<Tensor>& x) { return abs(x[0]); }, any},
      {"square", [](const std::vector<Tensor>& x) { return square(x[0]); }, any},
      {"pow 3", [](const std::vector<Tensor>& x) { return pow(x[0], 3.0); }, any},
      {"pow -1.5", [](const std::vector<Tensor>& x) { return pow(x[0], -1.5); }, pos},
      {"pow 0.5", [](const std::vector<Tensor>& x) { return pow(x[0], 0.5); }, pos},
      {"pow 0", [](const std::vector<Tensor>& x) { return pow(x[0], 0.0); }, any},
      {"clamp", [](const std::vector<Tensor>& x) { return clamp(x[0], -0.7, 0.9); }, any},
      {"method exp", [](const std::vector<Tensor>& x) { return x[0].exp(); }, any},
      {"method pow", [](const std::vector<Tensor>& x) { return x[0].pow(2.0); }, any},
  };
  for (const auto& [name, f, x] : cases) {
    SCOPED_TRACE(name);
    EXPECT_GRADCHECK(f, {x});
  }
}

TEST(ElementwiseGrad, UnaryOpsOnNonContiguousInput) {
  Tensor x = leaf({3, 4}, 13, 0.2, 2.0);
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return tanh(v[0].t()) * v[0].t(); }), {x});
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return log(v[0].slice(1, 0, 4, 2)); }), {x});
}

TEST(ElementwiseGrad, WhereAndMaskedFill) {
  Tensor a = leaf({2, 3}, 21), b = leaf({3}, 22);
  Tensor cond = gt(uniform({2, 3}, 23), uniform({2, 3}, 24));
  EXPECT_GRADCHECK(Fn([cond](const std::vector<Tensor>& x) { return where(cond, x[0], x[1]); }),
                   {a, b});
  Tensor mask = gt(uniform({3}, 25), uniform({3}, 26));  // broadcast over rows
  EXPECT_GRADCHECK(Fn([mask](const std::vector<Tensor>& x) { return masked_fill(x[0], mask, 3.0); }),
                   {a});
}

TEST(ElementwiseGrad, ChainedExpression) {
  Tensor a = leaf({3, 2}, 31), b = leaf({2}, 32, 0.5, 1.5);
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& x) {
                     return sigmoid(x[0] * x[1]) + tanh(x[0] / x[1]) * exp(-x[0]);
                   }),
                   {a, b});
}

// ---- PyTorch's conventions at ties and kinks -----------------------------------------
// Gradients printed by torch 1.13 for the same inputs (see the literals' comments).
TEST(ElementwiseGrad, MaximumMinimumSplitTiesEvenlyAsPyTorch) {
  // x = [1, 2, 3], y = [1, 1, 4], upstream [1, 10, 100].
  Tensor up = tensor({1.0, 10.0, 100.0}, kFloat64);
  for (bool is_max : {true, false}) {
    Tensor x = tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_();
    Tensor y = tensor({1.0, 1.0, 4.0}, kFloat64).requires_grad_();
    (is_max ? maximum(x, y) : minimum(x, y)).backward(up);
    if (is_max) {
      expect_tensor(x.grad(), {3}, {0.5, 10.0, 0.0}, 0, 0, "maximum dx");
      expect_tensor(y.grad(), {3}, {0.5, 0.0, 100.0}, 0, 0, "maximum dy");
    } else {
      expect_tensor(x.grad(), {3}, {0.5, 0.0, 100.0}, 0, 0, "minimum dx");
      expect_tensor(y.grad(), {3}, {0.5, 10.0, 0.0}, 0, 0, "minimum dy");
    }
  }
}

TEST(ElementwiseGrad, KinksFollowPyTorch) {
  // z = [-1, -0.5, 0, 0.5, 1], upstream ones; torch 1.13 gradients in the comments.
  auto grad_of = [](Tensor (*f)(const Tensor&)) {
    Tensor z = tensor({-1.0, -0.5, 0.0, 0.5, 1.0}, kFloat64).requires_grad_();
    f(z).backward(ones({5}, kFloat64));
    return z.grad();
  };
  // clamp(-0.5, 0.5): gradient passes where min <= x <= max.
  expect_tensor(grad_of([](const Tensor& z) { return clamp(z, -0.5, 0.5); }), {5},
                {0, 1, 1, 1, 0}, 0, 0, "clamp");
  expect_tensor(grad_of([](const Tensor& z) { return relu(z); }), {5}, {0, 0, 0, 1, 1}, 0, 0, "relu");
  expect_tensor(grad_of([](const Tensor& z) { return abs(z); }), {5}, {-1, -1, 0, 1, 1}, 0, 0, "abs");
  expect_tensor(grad_of([](const Tensor& z) { return pow(z, 0.0); }), {5}, {0, 0, 0, 0, 0}, 0, 0,
                "pow 0");
}

TEST(ElementwiseGrad, PowTensorAtZeroBaseAsPyTorch) {
  // base [0, 2], exponent [2, 3]: torch 1.13 gives d/dbase [0, 12], d/dexp [0, 5.545177444479562].
  Tensor base = tensor({0.0, 2.0}, kFloat64).requires_grad_();
  Tensor e = tensor({2.0, 3.0}, kFloat64).requires_grad_();
  pow(base, e).backward(ones({2}, kFloat64));
  expect_tensor(base.grad(), {2}, {0.0, 12.0}, 1e-14, 0, "dbase");
  expect_tensor(e.grad(), {2}, {0.0, 5.545177444479562}, 1e-14, 0, "dexponent");
}

TEST(ElementwiseGrad, NodeNames) {
  Tensor a = leaf({2}, 41);
  EXPECT_STREQ(grad_fn_name(*(a + a).grad_fn()), "AddBackward");
  EXPECT_STREQ(grad_fn_name(*(a * a).grad_fn()), "MulBackward");
  EXPECT_STREQ(grad_fn_name(*tanh(a).grad_fn()), "TanhBackward");
  EXPECT_STREQ(grad_fn_name(*sigmoid(a).grad_fn()), "SigmoidBackward");
}

// ---- errors ---------------------------------------------------------------------------
TEST(ElementwiseErrors, BroadcastMismatchUsesPyTorchWords) {
  // torch 1.13: "The size of tensor a (3) must match the size of tensor b (4) at
  // non-singleton dimension 1"
  EXPECT_LOOM_ERROR(ones({2, 3}) + ones({4}),
                    "The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
                    "dimension 1");
}

TEST(ElementwiseErrors, MixedDtypesPromoteAndMatmulStillRefuses) {
  // torch 1.13: (torch.ones(2) + torch.ones(2, dtype=torch.float64)).dtype -> float64
  // (type promotion: tests/core/type_promotion_test.cc); torch.matmul of float32 and
  // float64 refuses: "expected scalar type Float but found Double".
  EXPECT_EQ((ones({2}, kFloat32) + ones({2}, kFloat64)).dtype(), kFloat64);
  EXPECT_LOOM_ERROR(matmul(ones({1, 2}, kFloat32), ones({2, 1}, kFloat64)),
                    "expected scalar type Float but found Double");
}

TEST(ElementwiseErrors, IntegerInputsToFloatingOps) {
  Tensor i = tensor_int64({1, 2}, {2});
  EXPECT_LOOM_ERROR(exp(i), "expected a floating dtype (float32, float64, bfloat16 or float16), got int64");
}

TEST(ElementwiseErrors, ClampBounds) {
  EXPECT_LOOM_ERROR(clamp(ones({2}), 2.0, 1.0), "clamp: min (2) must not exceed max (1)");
}

TEST(ElementwiseErrors, MaskedFillMaskMustBroadcastToInput) {
  Tensor mask = gt(ones({2, 3}), zeros({2, 3}));
  EXPECT_LOOM_ERROR(masked_fill(ones({3}), mask, 0.0), "cannot be broadcast to [3]");
}

}  // namespace
}  // namespace loom
