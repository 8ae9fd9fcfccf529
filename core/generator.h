// The random-number generator state: a (seed, offset) pair for the counter-based
// Philox stream of kernels/philox.h, and the process-wide default generator.
//
// A draw of n elements reserves counters_used(n) counters and fills from
// (seed, offset): the same seed gives the same numbers on the CPU and on CUDA,
// element for element. Typical use by an operation:
//
//   const auto [seed, offset] = loom::default_generator().reserve_state(
//       kernels::counters_used(n));
//   kernels::fill_dropout_mask_cpu<float>(n, seed, offset, p, mask);
//
// Saving state() in a checkpoint and set_state() on load resumes the exact stream.
#pragma once

#include <cstdint>
#include <mutex>

namespace loom {

// PyTorch's default seed (torch.initial_seed() of a fresh process).
inline constexpr std::uint64_t kDefaultSeed = 67280421310721ull;

// A generator's whole state: the Philox key (seed) and the next unused counter (offset).
struct GeneratorState {
  std::uint64_t seed = kDefaultSeed;
  std::uint64_t offset = 0;
  friend bool operator==(const GeneratorState&, const GeneratorState&) = default;
};

// A (seed, offset) generator. Every method is thread-safe; concurrent reserve()
// calls get disjoint counter ranges.
class Generator {
 public:
  // A generator at (seed, offset 0).
  explicit Generator(std::uint64_t seed = kDefaultSeed) : seed_(seed) {}

  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // The current seed.
  std::uint64_t seed() const;
  // The next unused counter.
  std::uint64_t offset() const;
  // Seed and offset, read together.
  GeneratorState state() const;

  // Restarts the stream: seed = `seed`, offset = 0.
  void manual_seed(std::uint64_t seed);
  // Restores a saved state (e.g. from a checkpoint) exactly.
  void set_state(std::uint64_t seed, std::uint64_t offset);
  void set_state(const GeneratorState& state) { set_state(state.seed, state.offset); }

  // Reserves `counters` counters: returns the offset to draw from and advances the
  // offset by `counters`. Throws loom::Error if the 64-bit offset would wrap
  // (which would repeat the stream).
  std::uint64_t reserve(std::uint64_t counters);
  // The same, returning the seed too, both read under one lock: use it where
  // another thread may call manual_seed() meanwhile.
  GeneratorState reserve_state(std::uint64_t counters);

 private:
  mutable std::mutex mutex_;
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// The process-wide generator every random operation uses unless given another.
// Starts at (kDefaultSeed, 0).
Generator& default_generator();

// Seeds the default generator: default_generator().manual_seed(seed), as
// torch.manual_seed. Returns nothing; the same seed replays the same numbers.
void manual_seed(std::uint64_t seed);

}  // namespace loom
