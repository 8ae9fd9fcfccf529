// The non-monotone trigger of NT-ASGD (Merity, Keskar & Socher 2017,
// Algorithm 1, as in the AWD-LSTM code): averaging starts once a validation
// loss is worse than the best of the evaluations made before the last
// `nonmono` ones.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"

namespace loom::examples {

// True when `loss`, just measured, should switch training to ASGD, given the
// earlier validation losses `history` (oldest first, without `loss`): there are
// more than `nonmono` of them and `loss` > min(history[0 .. size - nonmono)).
// Throws loom::Error unless nonmono >= 1.
inline bool nt_asgd_triggered(const std::vector<double>& history, double loss, std::int64_t nonmono) {
  LOOM_CHECK(nonmono >= 1, "nt_asgd_triggered: nonmono must be at least 1, got {}", nonmono);
  const auto n = static_cast<std::int64_t>(history.size());
  if (n <= nonmono) return false;
  return loss > *std::min_element(history.begin(), history.end() - nonmono);
}

}  // namespace loom::examples
