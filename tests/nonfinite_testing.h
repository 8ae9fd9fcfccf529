// Comparing results that may hold NaN and infinities against a reference:
// the class of every element (NaN, +inf, -inf, finite) must match exactly,
// and finite elements must agree to a tolerance.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace loom::testing {

// 0 finite, 1 NaN, 2 +inf, 3 -inf.
inline int nonfinite_class(double v) {
  if (std::isnan(v)) return 1;
  if (std::isinf(v)) return v > 0 ? 2 : 3;
  return 0;
}

inline const char* nonfinite_class_name(int c) {
  static const char* names[] = {"finite", "nan", "+inf", "-inf"};
  return names[c];
}

// Counts of an expected vector's classes, for reports: "12 finite, 3 nan, 1 +inf, 0 -inf".
inline std::string class_counts(const std::vector<double>& v) {
  std::int64_t n[4] = {0, 0, 0, 0};
  for (double x : v) ++n[nonfinite_class(x)];
  return fmt::format("{} finite, {} nan, {} +inf, {} -inf", n[0], n[1], n[2], n[3]);
}

// Expects `actual` to have the class of `expected` element for element and,
// where both are finite, |a - e| <= atol + rtol * |e|. Reports the count of
// class mismatches with the first one, and the worst finite element. Returns
// the worst finite |a - e|.
inline double expect_same_nonfinite(const std::vector<double>& actual,
                                    const std::vector<double>& expected, double rtol, double atol,
                                    const std::string& what) {
  EXPECT_EQ(actual.size(), expected.size()) << what;
  if (actual.size() != expected.size()) return INFINITY;
  std::int64_t mismatched = 0, first = -1, bad = 0, worst_at = -1;
  double worst = 0, worst_excess = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const int ca = nonfinite_class(actual[i]), ce = nonfinite_class(expected[i]);
    if (ca != ce) {
      if (mismatched++ == 0) first = static_cast<std::int64_t>(i);
      continue;
    }
    if (ce != 0) continue;
    const double err = std::abs(actual[i] - expected[i]);
    const double excess = err - (atol + rtol * std::abs(expected[i]));
    if (err > worst) worst = err;
    if (excess > 0) {
      ++bad;
      if (worst_at < 0 || excess > worst_excess) worst_excess = excess, worst_at = static_cast<std::int64_t>(i);
    }
  }
  EXPECT_EQ(mismatched, 0) << what << ": " << mismatched << " of " << actual.size()
                           << " elements differ in kind, the first at flat index " << first << ": "
                           << (first >= 0 ? fmt::format("{} vs expected {}", actual[first], expected[first]) : "")
                           << " (expected: " << class_counts(expected) << "; got: " << class_counts(actual) << ")";
  EXPECT_EQ(bad, 0) << what << ": " << bad << " finite elements outside rtol " << rtol << ", atol " << atol
                    << "; worst at flat index " << worst_at << ": "
                    << (worst_at >= 0 ? fmt::format("{} vs expected {}", actual[worst_at], expected[worst_at]) : "");
  return worst;
}

}  // namespace loom::testing
