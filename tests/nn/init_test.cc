// nn::init: ranges and rough moments of uniform_ / normal_, constant fills,
// in-place semantics on leaves that require grad and on strided views, errors.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "nn/init.h"
#include "testing.h"

namespace loom::nn {
namespace {

using testing::Moments;
using testing::moments;

TEST(Init, UniformBoundsAndMoments) {
  for (DType dtype : {kFloat32, kFloat64}) {
    manual_seed(21);
    Tensor t = empty({200, 100}, dtype);
    Tensor r = init::uniform_(t, -0.5, 1.5);
    EXPECT_TRUE(r.is_same(t));
    Moments s = moments(t.to_vector<double>());
    EXPECT_GE(s.min, -0.5);
    EXPECT_LT(s.max, 1.5);
    EXPECT_LT(s.min, -0.49);
    EXPECT_GT(s.max, 1.49);
    EXPECT_NEAR(s.mean, 0.5, 0.02);         // sd of the mean: 0.577 / sqrt(20000) ~ 0.004
    EXPECT_NEAR(s.var, 4.0 / 12.0, 0.02);   // (b - a)^2 / 12
  }
}

TEST(Init, NormalMoments) {
  for (DType dtype : {kFloat32, kFloat64}) {
    manual_seed(22);
    Tensor t = empty({20000}, dtype);
    init::normal_(t, 2.0, 0.5);
    Moments s = moments(t.to_vector<double>());
    EXPECT_NEAR(s.mean, 2.0, 0.02);          // sd of the mean ~ 0.0035
    EXPECT_NEAR(std::sqrt(s.var), 0.5, 0.02);
    EXPECT_LT(s.min, 2.0 - 3 * 0.5);         // tails are there
    EXPECT_GT(s.max, 2.0 + 3 * 0.5);
  }
  manual_seed(22);
  Tensor z = empty({1000}, kFloat64);
  init::normal_(z, 1.0, 0.0);
  for (double v : z.to_vector<double>()) EXPECT_EQ(v, 1.0);
}

TEST(Init, InPlaceOnLeavesAndViews) {
  Tensor p = zeros({3, 4}, TensorOptions(kFloat64).requires_grad());
  const void* data = p.data_ptr();
  init::ones_(p);
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(p.requires_grad());
  EXPECT_EQ(p.data_ptr(), data);
  EXPECT_EQ(p.to_vector<double>(), std::vector<double>(12, 1.0));
  init::uniform_(p, 2.0, 3.0);
  EXPECT_TRUE(p.is_leaf());
  for (double v : p.to_vector<double>()) {
    EXPECT_GE(v, 2.0);
    EXPECT_LT(v, 3.0);
  }
  init::zeros_(p);
  EXPECT_EQ(p.to_vector<double>(), std::vector<double>(12, 0.0));

  // A strided view: only its elements change (column 1 of a (3, 4) matrix).
  Tensor base = zeros({3, 4}, kFloat64);
  Tensor column = make_view(base, {3}, {4}, 1);
  init::constant_(column, 7.0);
  EXPECT_EQ(base.to_vector<double>(), (std::vector<double>{0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0}));
  init::normal_(column, 0.0, 1.0);
  std::vector<double> v = base.to_vector<double>();
  for (int i = 0; i < 12; ++i)
    if (i % 4 != 1) EXPECT_EQ(v[i], 0.0) << i;
}

TEST(Init, Errors) {
  Tensor t = empty({4}, kFloat64);
  try {
    init::uniform_(t, 2.0, 1.0);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    // torch.empty(4).uniform_(2, 1) in torch 1.13.
    EXPECT_EQ(std::string(e.what()), "uniform_ expects to return a [from, to) range, but found from=2 > to=1");
  }
  try {
    init::normal_(t, 0.0, -1.0);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    // torch.empty(4).normal_(0, -1) in torch 1.13.
    EXPECT_EQ(std::string(e.what()), "normal expects std >= 0.0, but found std -1");
  }
  EXPECT_THROW(init::uniform_(tensor_int64({1, 2}, {2})), Error);
}

}  // namespace
}  // namespace loom::nn
