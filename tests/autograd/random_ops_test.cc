// rand, randn and dropout from the default Philox generator: ranges and
// moments, reproducibility, dropout statistics and gradients.
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/generator.h"
#include "core/native.h"
#include "kernels/philox.h"
#include "testing.h"

namespace loom {
namespace {

// Restores the default generator after each test.
class RandomOps : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = default_generator().state(); }
  void TearDown() override { default_generator().set_state(saved_); }
  GeneratorState saved_;
};

using testing::Moments;
using testing::moments;

constexpr std::int64_t kN = 100000;

TEST_F(RandomOps, RandIsUniformOnZeroOne) {
  for (DType dtype : {kFloat32, kFloat64}) {
    manual_seed(11);
    Tensor t = rand({100, kN / 100}, dtype);
    EXPECT_EQ(t.shape(), (Shape{100, kN / 100}));
    EXPECT_EQ(t.dtype(), dtype);
    Moments m = moments(t.to_vector<double>());
    EXPECT_GE(m.min, 0.0);
    EXPECT_LT(m.max, 1.0);
    // U[0,1): mean 1/2 (sd of the mean 0.289/sqrt(n) = 9.1e-4), variance 1/12
    // (sd of the sample variance sqrt(1/180 n) = 2.4e-4): 5 sd bounds.
    EXPECT_NEAR(m.mean, 0.5, 5 * 9.2e-4);
    EXPECT_NEAR(m.var, 1.0 / 12, 5 * 2.4e-4);
    EXPECT_LT(m.min, 1e-3);  // the whole range is reached
    EXPECT_GT(m.max, 1 - 1e-3);
  }
}

TEST_F(RandomOps, RandnIsStandardNormal) {
  for (DType dtype : {kFloat32, kFloat64}) {
    manual_seed(12);
    Tensor t = randn({kN}, dtype);
    Moments m = moments(t.to_vector<double>());
    // N(0,1): sd of the mean 1/sqrt(n) = 3.2e-3, of the variance sqrt(2/n) = 4.5e-3.
    EXPECT_NEAR(m.mean, 0.0, 5 * 3.2e-3);
    EXPECT_NEAR(m.var, 1.0, 5 * 4.5e-3);
    std::int64_t beyond2 = 0;  // P(|z| > 2) = 0.0455, sd sqrt(p(1-p)/n) = 6.6e-4
    for (double x : t.to_vector<double>()) beyond2 += std::abs(x) > 2;
    EXPECT_NEAR(static_cast<double>(beyond2) / kN, 0.0455, 5 * 6.6e-4);
  }
}

TEST_F(RandomOps, SeedReplaysAndDrawsAdvanceTheOffset) {
  manual_seed(5);
  std::vector<double> a = rand({10}).to_vector<double>();
  EXPECT_EQ(default_generator().offset(), kernels::counters_used(10));  // ceil(10 / 4) = 3
  std::vector<double> b = rand({10}).to_vector<double>();
  EXPECT_EQ(default_generator().offset(), 6u);
  EXPECT_NE(a, b);
  manual_seed(5);
  EXPECT_EQ(rand({10}).to_vector<double>(), a);
  EXPECT_EQ(rand({10}).to_vector<double>(), b);
  manual_seed(6);
  EXPECT_NE(rand({10}).to_vector<double>(), a);
}

TEST_F(RandomOps, FactoryOptionsAndErrors) {
  Tensor t = randn({2, 3}, TensorOptions(kFloat64).requires_grad());
  EXPECT_TRUE(t.requires_grad());
  EXPECT_TRUE(t.is_leaf());
  EXPECT_EQ(rand({0}).numel(), 0);
  testing::expect_error_containing([] { rand({3}, kInt64); }, "rand: expected a floating dtype");
  testing::expect_error_containing([] { randn({3}, kBool); }, "randn: expected a floating dtype");
}

// ---- dropout --------------------------------------------------------------------------------

TEST_F(RandomOps, DropoutProbabilityOutOfRange) {
  Tensor x = native::ones({4});
  testing::expect_error_containing([&] { dropout(x, 1.5); }, "dropout probability has to be between 0 and 1, but got 1.5");
  testing::expect_error_containing([&] { dropout(x, -0.5, false); },
               "dropout probability has to be between 0 and 1, but got -0.5");
}

TEST_F(RandomOps, DropoutIdentityCases) {
  Tensor x = native::ones({4}).requires_grad_();
  const std::uint64_t offset = default_generator().offset();
  EXPECT_TRUE(dropout(x, 0.5, /*training=*/false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0).is_same(x));
  EXPECT_EQ(default_generator().offset(), offset);  // nothing drawn
}

TEST_F(RandomOps, DropoutAllDropped) {
  Tensor x = native::full({5}, 3.0, kFloat64).requires_grad_();
  Tensor y = dropout(x, 1.0);
  for (double v : y.to_vector<double>()) EXPECT_EQ(v, 0.0);
  y.backward(native::ones({5}, kFloat64));
  for (double v : x.grad().to_vector<double>()) EXPECT_EQ(v, 0.0);
}

TEST_F(RandomOps, DropoutStatistics) {
  for (DType dtype : {kFloat32, kFloat64}) {
    for (double p : {0.1, 0.5, 0.8}) {
      manual_seed(21);
      Tensor x = native::ones({kN}, dtype);
      std::vector<double> y = dropout(x, p).to_vector<double>();
      const double scale = dtype == kFloat32 ? static_cast<double>(1.0f / (1.0f - static_cast<float>(p)))
                                             : 1.0 / (1.0 - p);
      std::int64_t kept = 0;
      for (double v : y) {
        if (v != 0) {
          ++kept;
          ASSERT_EQ(v, scale) << "kept values are exactly 1/(1-p)";
        }
      }
      // Kept fraction: mean 1 - p, sd sqrt(p (1 - p) / n): 5 sd.
      const double sd = std::sqrt(p * (1 - p) / kN);
      EXPECT_NEAR(static_cast<double>(kept) / kN, 1 - p, 5 * sd) << "p = " << p;
    }
  }
}

TEST_F(RandomOps, DropoutSameSeedSameMask) {
  Tensor x = native::ones({1000});
  manual_seed(3);
  auto a = dropout(x, 0.4).to_vector<float>();
  auto b = dropout(x, 0.4).to_vector<float>();
  EXPECT_NE(a, b);  // the second draw moved on
  manual_seed(3);
  EXPECT_EQ(dropout(x, 0.4).to_vector<float>(), a);
  // The mask is the Philox stream's: element i is kept when uniform(i) >= p.
  const GeneratorState s{3, 0};
  for (std::int64_t i = 0; i < 1000; ++i) {
    const float u = kernels::philox_uniform_at<float>(s.seed, s.offset, i);
    EXPECT_EQ(a[i] != 0.0f, u >= 0.4f) << "element " << i;
  }
}

TEST_F(RandomOps, DropoutGradientIsTheMask) {
  // With the seed fixed inside f, every evaluation draws the same mask.
  auto f = [](const std::vector<Tensor>& in) {
    manual_seed(99);
    return dropout(in[0], 0.3);
  };
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> dist(0.5, 1.5);  // nonzero inputs
  std::vector<double> xv(60);
  for (double& v : xv) v = dist(rng);
  Tensor x = tensor(xv, {6, 10}, kFloat64).requires_grad_();
  GradcheckResult r = gradcheck(f, {x});
  EXPECT_TRUE(r.ok) << r.message;

  // d out / d x = mask = out / x, elementwise, for an upstream gradient g.
  x.set_grad(Tensor());
  Tensor y = f({x});
  Tensor g = tensor(std::vector<double>(xv.rbegin(), xv.rend()), {6, 10}, kFloat64);
  y.backward(g);
  auto yv = y.to_vector<double>(), gv = g.to_vector<double>(), dx = x.grad().to_vector<double>();
  std::int64_t dropped = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    EXPECT_DOUBLE_EQ(dx[i], gv[i] * (yv[i] / xv[i]));
    dropped += yv[i] == 0;
  }
  EXPECT_GT(dropped, 0);  // the case is not trivially the identity
  EXPECT_LT(dropped, 60);
}

TEST_F(RandomOps, DropoutOfAStridedView) {
  Tensor base = native::full({4, 6}, 2.0);
  Tensor x = base.t();  // non-contiguous
  manual_seed(8);
  auto y = dropout(x, 0.5).to_vector<float>();
  manual_seed(8);
  auto yc = dropout(x.contiguous(), 0.5).to_vector<float>();
  EXPECT_EQ(y, yc);  // mask element i goes with element i of x in row-major order
}

}  // namespace
}  // namespace loom
