// The process-wide deterministic-mode flag (see determinism.h).
#include "core/determinism.h"

#include <atomic>
#include <cstdlib>
#include <string_view>

#include "core/error.h"

namespace loom {

namespace {
// -1: not decided yet (read LOOM_DETERMINISTIC at the next query); 0: off; 1: on.
std::atomic<int> g_state{-1};
}  // namespace

bool deterministic_from_environment() {
  const char* raw = std::getenv("LOOM_DETERMINISTIC");
  if (raw == nullptr) return false;
  const std::string_view value(raw);
  if (value.empty() || value == "0") return false;
  if (value == "1") return true;
  fail("LOOM_DETERMINISTIC must be 0 or 1 (or unset), got \"{}\"", value);
}

void set_deterministic(bool enabled) { g_state.store(enabled ? 1 : 0); }

bool deterministic() {
  int state = g_state.load();
  if (state >= 0) return state == 1;
  const int from_env = deterministic_from_environment() ? 1 : 0;
  // A concurrent set_deterministic() wins over the environment.
  int expected = -1;
  if (g_state.compare_exchange_strong(expected, from_env)) return from_env == 1;
  return expected == 1;
}

void reset_deterministic() { g_state.store(-1); }

}  // namespace loom
