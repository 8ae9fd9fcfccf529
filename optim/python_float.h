// Formats a double as Python's repr(float) does ("0.1", "1.0", "1e-08", "inf"),
// so that error messages read word for word like PyTorch's.
#pragma once

#include <string>

#include <fmt/format.h>

namespace loom::optim {

// Python's str(float): fmt's shortest round-trip form, with ".0" added to
// integral values ("2" -> "2.0"); "inf", "-inf" and "nan" as Python spells them.
inline std::string python_float(double value) {
  std::string s = fmt::format("{}", value);
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

}  // namespace loom::optim
