// Helpers for the operation tests (tests/autograd, tests/core): random
// inputs, gradcheck with its message, value and error-text checks.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/error.h"
#include "core/tensor.h"
#include "testing.h"

namespace loom::testing {

// A contiguous tensor of uniform values in [lo, hi) from a fixed seed.
inline Tensor uniform(const Shape& shape, std::uint64_t seed, double lo = -1, double hi = 1,
                      TensorOptions options = TensorOptions(kFloat64)) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return tensor(v, shape, options);
}

// A float64 leaf requiring grad, uniform in [lo, hi).
inline Tensor leaf(const Shape& shape, std::uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = uniform(shape, seed, lo, hi);
  t.requires_grad_(true);
  return t;
}

// Values bounded away from zero: magnitude in [lo, hi), random sign.
inline Tensor leaf_away_from_zero(const Shape& shape, std::uint64_t seed, double lo = 0.5,
                                  double hi = 2) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> mag(lo, hi);
  std::bernoulli_distribution sign(0.5);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (double& x : v) x = sign(rng) ? mag(rng) : -mag(rng);
  Tensor t = tensor(v, shape, TensorOptions(kFloat64));
  t.requires_grad_(true);
  return t;
}

// The row-major values of t as doubles.
inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Checks shape and values of t against expected (rtol, atol).
inline void expect_tensor(const Tensor& t, const Shape& shape, const std::vector<double>& expected,
                          double rtol = 1e-6, double atol = 1e-6, const std::string& what = "") {
  ASSERT_TRUE(t.defined()) << what;
  EXPECT_EQ(shape_str(t.shape()), shape_str(shape)) << what;
  if (t.shape() != shape) return;
  std::vector<double> a = values(t);
  expect_all_close(std::span<const double>(a), std::span<const double>(expected), rtol, atol, what);
}

}  // namespace loom::testing

// EXPECT_GRADCHECK(f, inputs[, options]): gradcheck must pass; prints its message.
#define EXPECT_GRADCHECK(f, ...)                                  \
  do {                                                            \
    ::loom::GradcheckResult loom_gc_ = ::loom::gradcheck(f, __VA_ARGS__); \
    EXPECT_TRUE(loom_gc_.ok) << loom_gc_.message;                 \
  } while (0)

// EXPECT_LOOM_ERROR(statement, "text"): statement throws loom::Error whose
// message contains text.
#define EXPECT_LOOM_ERROR(statement, text)                                             \
  do {                                                                                 \
    bool loom_thrown_ = false;                                                         \
    try {                                                                              \
      statement;                                                                       \
    } catch (const ::loom::Error& loom_e_) {                                           \
      loom_thrown_ = true;                                                             \
      EXPECT_NE(std::string(loom_e_.what()).find(text), std::string::npos)             \
          << "message: " << loom_e_.what() << "\nexpected to contain: " << (text);     \
    }                                                                                  \
    EXPECT_TRUE(loom_thrown_) << #statement << " did not throw loom::Error";           \
  } while (0)
