// matmul, bmm, linear: values against PyTorch, gradients against finite
// differences (gradcheck in float64), errors in PyTorch's words.
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/native.h"
#include "core/native_linalg.h"
#include "testing.h"

namespace loom {
namespace {

using testing::random_tensor;

Tensor leaf(const Shape& shape, unsigned seed) { return random_tensor(shape, seed).requires_grad_(); }

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                      const std::vector<Tensor>& inputs, const std::string& what) {
  GradcheckResult r = gradcheck(f, inputs);
  EXPECT_TRUE(r.ok) << what << ": " << r.message;
}

// ---- values against PyTorch --------------------------------------------------------------

// sin(0..23) and cos(0..5), printed by PyTorch 1.13 (float64).
const std::vector<double> kSin24 = {
    0.0, 0.8414709848078965, 0.9092974268256817, 0.1411200080598672, -0.7568024953079282,
    -0.9589242746631385, -0.27941549819892586, 0.6569865987187891, 0.9893582466233818,
    0.4121184852417566, -0.5440211108893698, -0.9999902065507035, -0.5365729180004349,
    0.4201670368266409, 0.9906073556948704, 0.6502878401571168, -0.2879033166650653,
    -0.9613974918795568, -0.750987246771676, 0.14987720966295234, 0.9129452507276277,
    0.8366556385360561, -0.008851309290403876, -0.8462204041751706};
const std::vector<double> kCos6 = {1.0, 0.5403023058681398, -0.4161468365471424,
                                   -0.9899924966004454, -0.6536436208636119, 0.28366218546322625};

TEST(Matmul, BroadcastBatchMatchesPyTorch) {
  // a = arange(24).reshape(2,1,3,4) * 0.1 - 1, b = sin(arange(24)).reshape(3,4,2);
  // torch.matmul(a, b) in PyTorch 1.13, float64:
  const std::vector<double> expected = {
      -0.01733483915752282, -0.6612301914344185,  -0.0681030658299919,  -0.3889688646650528,
      -0.11887129250246076, -0.11670753789568701, -0.7639060614090101,  -0.303462416917418,
      -0.4041574320376312,  -0.1104291546474935,  -0.04440880266625223, 0.08260410762243077,
      0.2396315546807543,   0.7495377752766742,   0.18571290588094733,  0.4211037561343867,
      0.13179425708114026,  0.09266973699209896,  -0.16963951917492975, 0.15555378887367866,
      -0.22040774584739858, 0.4278151156430444,   -0.2711759725198678,  0.7000764424124101,
      0.3153398267051267,   0.27563736989235516,  0.6750884560765056,   0.46867063216227944,
      1.0348370854478848,   0.6617038944322039,   0.07787560828133329,  -0.23576428215018863,
      0.02395695948152609,  -0.5641983012924763,  -0.029961689318280825, -0.892632320434764};
  for (DType dtype : {kFloat64, kFloat32}) {
    Tensor a = native::arange(0, 24, 1, dtype);
    a = (a * 0.1 - 1.0).reshape({2, 1, 3, 4});
    Tensor b = tensor(kSin24, {3, 4, 2}, dtype);
    Tensor out = matmul(a, b);
    EXPECT_EQ(out.shape(), (Shape{2, 3, 3, 2}));
    EXPECT_EQ(out.dtype(), dtype);
    double tol = dtype == kFloat64 ? 1e-14 : 2e-6;
    testing::expect_all_close(out.to_vector<double>(), expected, tol, tol, "matmul broadcast");
  }
}

TEST(Matmul, TwoDMatchesPyTorchForEveryOperandLayout) {
  // m1 = cos(arange(6)).reshape(2,3), m2 = (arange(12).reshape(3,4) - 5) * 0.25;
  // m1 @ m2 in PyTorch 1.13:
  const std::vector<double> expected = {-1.6971857038773919, -1.4161468365471424,
                                        -1.135107969216893,  -0.8540691018866438,
                                        1.6136481650638794,  1.2736546820636716,
                                        0.933661199063464,   0.5936677160632562};
  Tensor m1 = tensor(kCos6, {2, 3}, kFloat64);
  Tensor m2 = (native::arange(0, 12, 1, kFloat64).reshape({3, 4}) - 5.0) * 0.25;
  // Column-major operands (transposed views: BLAS transpose flags) ...
  Tensor m1_cm = m1.t().contiguous().t();
  Tensor m2_cm = m2.t().contiguous().t();
  ASSERT_EQ(m1_cm.strides(), (Shape{1, 2}));
  // ... and operands with no unit stride (every other column of a wider matrix: copied).
  Tensor wide = native::zeros({3, 8}, kFloat64);
  native::copy_(wide.slice(1, 0, 8, 2), m2);
  Tensor m2_gap = wide.slice(1, 0, 8, 2);
  ASSERT_EQ(m2_gap.strides(), (Shape{8, 2}));
  const std::vector<std::pair<Tensor, Tensor>> cases = {
      {m1, m2}, {m1_cm, m2}, {m1, m2_cm}, {m1_cm, m2_cm}, {m1, m2_gap}, {m1_cm, m2_gap}};
  for (const auto& [a, b] : cases) {
    testing::expect_all_close(matmul(a, b).to_vector<double>(), expected, 1e-14, 1e-14, "mm");
    testing::expect_all_close(native::mm(a, b).to_vector<double>(), expected, 1e-14, 1e-14,
                              "native::mm");
  }
}

TEST(Matmul, VectorCasesAgreeWithExplicitSums) {
  Tensor a = random_tensor({5}, 1), b = random_tensor({5}, 2), m = random_tensor({5, 3}, 3),
         n = random_tensor({4, 5}, 4);
  auto av = a.to_vector<double>(), bv = b.to_vector<double>(), mv = m.to_vector<double>(),
       nv = n.to_vector<double>();
  double dot = 0;
  for (int i = 0; i < 5; ++i) dot += av[i] * bv[i];
  Tensor d = matmul(a, b);
  EXPECT_EQ(d.dim(), 0);
  EXPECT_NEAR(d.item(), dot, 1e-14);
  std::vector<double> vm(3, 0.0), mvv(4, 0.0);  // a @ m and n @ a by explicit loops
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 5; ++i) vm[j] += av[i] * mv[i * 3 + j];
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 5; ++i) mvv[r] += nv[r * 5 + i] * av[i];
  Tensor o1 = matmul(a, m), o2 = matmul(n, a);
  EXPECT_EQ(o1.shape(), (Shape{3}));
  EXPECT_EQ(o2.shape(), (Shape{4}));
  testing::expect_all_close(o1.to_vector<double>(), vm, 1e-14, 1e-14, "vector @ matrix");
  testing::expect_all_close(o2.to_vector<double>(), mvv, 1e-14, 1e-14, "matrix @ vector");
}

TEST(Matmul, ShapesFollowTorchMatmul) {
  auto shape_of = [](const Shape& sa, const Shape& sb) {
    return matmul(random_tensor(sa, 1), random_tensor(sb, 2)).shape();
  };
  EXPECT_EQ(shape_of({3}, {3}), (Shape{}));
  EXPECT_EQ(shape_of({2, 3}, {3}), (Shape{2}));
  EXPECT_EQ(shape_of({3}, {3, 4}), (Shape{4}));
  EXPECT_EQ(shape_of({5, 2, 3}, {3}), (Shape{5, 2}));
  EXPECT_EQ(shape_of({3}, {5, 3, 4}), (Shape{5, 4}));
  EXPECT_EQ(shape_of({5, 2, 3}, {3, 4}), (Shape{5, 2, 4}));
  EXPECT_EQ(shape_of({2, 3}, {5, 3, 4}), (Shape{5, 2, 4}));
  EXPECT_EQ(shape_of({7, 1, 2, 3}, {5, 3, 4}), (Shape{7, 5, 2, 4}));
  EXPECT_EQ(shape_of({2, 0}, {0, 3}), (Shape{2, 3}));
  // An empty inner dimension gives zeros (as PyTorch).
  for (double v : matmul(random_tensor({2, 0}, 1), random_tensor({0, 3}, 2)).to_vector<double>())
    EXPECT_EQ(v, 0.0);
}

TEST(Matmul, BatchedEqualsLoopOfTwoDProducts) {
  // [4, 1, 3, 5] @ [6, 5, 2] (batch broadcast both ways) against per-batch 2-D products.
  Tensor a = random_tensor({4, 1, 3, 5}, 5), b = random_tensor({6, 5, 2}, 6);
  Tensor out = matmul(a, b);
  ASSERT_EQ(out.shape(), (Shape{4, 6, 3, 2}));
  for (std::int64_t i = 0; i < 4; ++i)
    for (std::int64_t j = 0; j < 6; ++j) {
      Tensor ref = native::mm(a.select(0, i).select(0, 0).contiguous(), b.select(0, j).contiguous());
      testing::expect_all_close(out.select(0, i).select(0, j).to_vector<double>(),
                                ref.to_vector<double>(), 1e-14, 1e-14, "batch");
    }
}

// ---- gradients ------------------------------------------------------------------------------

TEST(MatmulGrad, EveryRankCombination) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4}, {4}},          {{4}, {4, 3}},          {{2, 4}, {4}},        {{2, 4}, {4, 3}},
      {{3, 2, 4}, {4}},    {{3, 2, 4}, {4, 5}},    {{4}, {3, 4, 2}},     {{2, 4}, {3, 4, 5}},
      {{3, 2, 4}, {3, 4, 5}}, {{2, 1, 2, 4}, {3, 4, 5}}, {{1, 2, 4}, {3, 4, 2}},
      {{3, 1, 2, 4}, {1, 2, 4, 3}}};
  unsigned seed = 10;
  for (const auto& [sa, sb] : cases) {
    std::vector<Tensor> in = {leaf(sa, seed), leaf(sb, seed + 1)};
    seed += 2;
    expect_gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, in,
                     fmt::format("matmul {} @ {}", shape_str(sa), shape_str(sb)));
  }
}

TEST(MatmulGrad, TransposedAndStridedOperands) {
  // a^T @ b^T through views (BLAS transpose flags), and a batch that cannot fold.
  expect_gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0].t(), x[1].t()); },
                   {leaf({4, 3}, 40), leaf({5, 4}, 41)}, "a^T @ b^T");
  expect_gradcheck(
      [](const std::vector<Tensor>& x) { return matmul(x[0].permute({1, 0, 2}), x[1]); },
      {leaf({2, 3, 4}, 42), leaf({4, 5}, 43)}, "permuted batch @ matrix");
  expect_gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0].slice(1, 0, 6, 2), x[1]); },
                   {leaf({3, 6}, 44), leaf({3, 2}, 45)}, "column-strided @ matrix");
}

TEST(MatmulGrad, ExpandedOperandAccumulatesOverTheBatch) {
  // b is used by every batch element: its gradient is the sum over the batch.
  Tensor a = leaf({3, 2, 4}, 50), b = leaf({4, 5}, 51);
  Tensor g = random_tensor({3, 2, 5}, 52);
  matmul(a, b).backward(g);
  Tensor expected_b = native::zeros({4, 5}, kFloat64);
  for (std::int64_t i = 0; i < 3; ++i)
    expected_b = expected_b + native::mm(native::matrix_transpose(a.select(0, i).detach()),
                                         g.select(0, i));
  testing::expect_all_close(b.grad().to_vector<double>(), expected_b.to_vector<double>(), 1e-13,
                            1e-13, "dB");
}

TEST(BmmGrad, Gradcheck) {
  expect_gradcheck([](const std::vector<Tensor>& x) { return bmm(x[0], x[1]); },
                   {leaf({3, 2, 4}, 60), leaf({3, 4, 5}, 61)}, "bmm");
  expect_gradcheck(
      [](const std::vector<Tensor>& x) { return bmm(x[0].transpose(1, 2), x[1]); },
      {leaf({3, 4, 2}, 62), leaf({3, 4, 5}, 63)}, "bmm transposed");
  Tensor out = bmm(leaf({2, 1, 3}, 64), leaf({2, 3, 1}, 65));
  EXPECT_STREQ(grad_fn_name(*out.grad_fn()), "BmmBackward");
}

TEST(LinearOp, MatchesPyTorch) {
  // F.linear(x, W, b) in PyTorch 1.13 with the values below:
  Tensor x = tensor({1.0, -2.0, 0.5, 0.25, 3.0, -1.0}, {2, 3}, kFloat64);
  Tensor w = tensor({0.1, 0.2, 0.3, -0.5, 0.4, 1.5}, {2, 3}, kFloat64);
  Tensor b = tensor({0.7, -0.3}, kFloat64);
  testing::expect_all_close(linear(x, w, b).to_vector<double>(),
                            std::vector<double>{0.5499999999999999, -0.8500000000000001, 1.0250000000000001,
                             -0.7249999999999999},
                            1e-15, 1e-15, "linear");
  Tensor no_bias = linear(x, w);
  testing::expect_all_close(no_bias.to_vector<double>(),
                            std::vector<double>{0.5499999999999999 - 0.7, -0.8500000000000001 + 0.3,
                             1.0250000000000001 - 0.7, -0.7249999999999999 + 0.3},
                            1e-15, 1e-15, "linear without bias");
  EXPECT_EQ(linear(tensor({1.0, -2.0, 0.5}, kFloat64), w, b).shape(), (Shape{2}));
  EXPECT_EQ(linear(random_tensor({4, 5, 3}, 1), w, b).shape(), (Shape{4, 5, 2}));
}

TEST(LinearOpGrad, WithAndWithoutBias) {
  auto with_bias = [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); };
  auto without = [](const std::vector<Tensor>& x) { return linear(x[0], x[1]); };
  expect_gradcheck(with_bias, {leaf({5, 3}, 70), leaf({4, 3}, 71), leaf({4}, 72)}, "linear 2-D");
  expect_gradcheck(with_bias, {leaf({2, 5, 3}, 73), leaf({4, 3}, 74), leaf({4}, 75)},
                   "linear 3-D");
  expect_gradcheck(with_bias, {leaf({3}, 76), leaf({4, 3}, 77), leaf({4}, 78)}, "linear 1-D");
  expect_gradcheck(without, {leaf({5, 3}, 79), leaf({4, 3}, 80)}, "linear without bias");
  // A non-foldable input (permuted) and a transposed weight view.
  expect_gradcheck(
      [](const std::vector<Tensor>& x) { return linear(x[0].permute({1, 0, 2}), x[1].t(), x[2]); },
      {leaf({2, 5, 3}, 81), leaf({3, 4}, 82), leaf({4}, 83)}, "linear strided");
  // Only some inputs need a gradient.
  Tensor x = random_tensor({5, 3}, 84), w = leaf({4, 3}, 85);
  linear(x, w).sum().backward();
  ASSERT_TRUE(w.grad().defined());
  std::vector<double> colsum(3, 0.0);  // d sum(x W^T) / dW[o, i] = sum over rows of x[:, i]
  auto xv = x.to_vector<double>();
  for (int r = 0; r < 5; ++r)
    for (int i = 0; i < 3; ++i) colsum[i] += xv[r * 3 + i];
  std::vector<double> expected;
  for (int o = 0; o < 4; ++o) expected.insert(expected.end(), colsum.begin(), colsum.end());
  testing::expect_all_close(w.grad().to_vector<double>(), expected, 1e-14, 1e-14, "dW");
}

// ---- errors ---------------------------------------------------------------------------------

TEST(LinalgErrors, PyTorchMessages) {
  auto z = [](const Shape& s, DType t = kFloat32) { return native::zeros(s, t); };
  testing::expect_error_containing([&] { matmul(z({2, 3}), z({4, 5})); },
               "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)");
  testing::expect_error_containing([&] { native::mm(z({2, 3}), z({4, 5})); },
               "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)");
  testing::expect_error_containing([&] { matmul(z({2, 3}), z({4})); }, "size mismatch, got 2, 2x3,4");
  testing::expect_error_containing([&] { matmul(z({3}), z({4, 5})); },
               "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)");
  testing::expect_error_containing([&] { matmul(z({3}), z({4})); },
               "inconsistent tensor size, expected tensor [3] and src [4] to have the same number "
               "of elements, but got 3 and 4 elements respectively");
  testing::expect_error_containing([&] { matmul(z({5, 2, 3}), z({4, 5})); },
               "mat1 and mat2 shapes cannot be multiplied (10x3 and 4x5)");
  testing::expect_error_containing([&] { matmul(z({2, 2, 3}), z({2, 4, 5})); },
               "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, "
               "4].");
  testing::expect_error_containing([&] { matmul(z({2, 2, 3}), z({3, 3, 5})); },
               "The size of tensor a (2) must match the size of tensor b (3) at non-singleton "
               "dimension 0");
  testing::expect_error_containing([&] { matmul(z({}), z({3})); },
               "both arguments to matmul need to be at least 1D, but they are 0D and 1D");
  testing::expect_error_containing([&] { matmul(z({2, 3}), z({3}, kFloat64)); },
               "expected scalar type Float but found Double");
  testing::expect_error_containing([&] { matmul(z({2, 3}, kInt64), z({3}, kInt64)); }, "expected a floating dtype");
  testing::expect_error_containing([&] { bmm(z({2, 2, 3}), z({3, 3, 5})); },
               "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [3, "
               "3].");
  testing::expect_error_containing([&] { bmm(z({2, 2, 3}), z({2, 4, 5})); },
               "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, "
               "4].");
  testing::expect_error_containing([&] { bmm(z({2, 3}), z({2, 3, 5})); }, "batch1 must be a 3D tensor");
  testing::expect_error_containing([&] { bmm(z({2, 2, 3}), z({3, 5})); }, "batch2 must be a 3D tensor");
  testing::expect_error_containing([&] { bmm(z({2, 2, 3}), z({2, 3, 5}, kFloat64)); },
               "expected scalar type Float but found Double");
  testing::expect_error_containing([&] { linear(z({2, 3}), z({4, 5})); },
               "mat1 and mat2 shapes cannot be multiplied (2x3 and 5x4)");
  testing::expect_error_containing([&] { linear(z({2, 3}), z({4, 3}, kFloat64)); },
               "expected scalar type Float but found Double");
  testing::expect_error_containing([&] { linear(z({2, 3}), z({4, 3}), z({5})); }, "expected bias of shape [4]");
  testing::expect_error_containing([&] { linear(z({2, 3}), z({3})); }, "expected weight to be 2-D");
}

}  // namespace
}  // namespace loom
