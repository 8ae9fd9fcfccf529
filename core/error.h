// loom::Error and the checks that throw it.
//
// Every failure the user can cause (bad shapes, dtypes, devices, files) is
// reported by throwing loom::Error with a message that says what was expected
// and what came, in PyTorch's words where PyTorch has words. Nothing aborts.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace loom {

// The one exception type loom throws for user-visible failures.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws loom::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace loom

// LOOM_CHECK(condition, "format {}", args...): throws loom::Error when false.
#define LOOM_CHECK(condition, ...)   \
  do {                               \
    if (!(condition)) {              \
      ::loom::fail(__VA_ARGS__);     \
    }                                \
  } while (0)
