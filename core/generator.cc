// The (seed, offset) generator (contracts in core/generator.h).
#include "core/generator.h"

#include <limits>

#include "core/error.h"

namespace loom {

std::uint64_t Generator::seed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seed_;
}

std::uint64_t Generator::offset() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return offset_;
}

GeneratorState Generator::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return GeneratorState{seed_, offset_};
}

void Generator::manual_seed(std::uint64_t seed) { set_state(seed, 0); }

void Generator::set_state(std::uint64_t seed, std::uint64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  offset_ = offset;
}

std::uint64_t Generator::reserve(std::uint64_t counters) { return reserve_state(counters).offset; }

GeneratorState Generator::reserve_state(std::uint64_t counters) {
  std::lock_guard<std::mutex> lock(mutex_);
  LOOM_CHECK(counters <= std::numeric_limits<std::uint64_t>::max() - offset_,
             "Generator: reserving {} counters at offset {} would wrap the 64-bit offset and "
             "repeat the random stream; call manual_seed() to start a new one",
             counters, offset_);
  const GeneratorState drawn{seed_, offset_};
  offset_ += counters;
  return drawn;
}

Generator& default_generator() {
  static Generator generator(kDefaultSeed);
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace loom
