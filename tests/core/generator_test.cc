// The (seed, offset) generator: seeding, reserving counters, saving and restoring.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/generator.h"
#include "kernels/random.h"
#include "testing.h"

namespace loom {
namespace {

// Restores the default generator after a test that changes it.
class DefaultGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = default_generator().state(); }
  void TearDown() override { default_generator().set_state(saved_); }
  GeneratorState saved_;
};

TEST(Generator, StartsAtSeedAndOffsetZero) {
  Generator fresh;
  EXPECT_EQ(fresh.seed(), kDefaultSeed);
  EXPECT_EQ(kDefaultSeed, 67280421310721ull);
  EXPECT_EQ(fresh.offset(), 0u);
  Generator seeded(42);
  EXPECT_EQ(seeded.state(), (GeneratorState{42, 0}));
}

TEST(Generator, ReserveReturnsTheOffsetAndAdvancesIt) {
  Generator g(7);
  EXPECT_EQ(g.reserve(5), 0u);
  EXPECT_EQ(g.offset(), 5u);
  EXPECT_EQ(g.reserve(0), 5u);
  EXPECT_EQ(g.reserve(3), 5u);
  EXPECT_EQ(g.offset(), 8u);
  EXPECT_EQ(g.reserve_state(2), (GeneratorState{7, 8}));
  EXPECT_EQ(g.offset(), 10u);
  EXPECT_EQ(g.seed(), 7u);
}

TEST(Generator, ManualSeedResetsTheOffset) {
  Generator g(1);
  g.reserve(100);
  g.manual_seed(9);
  EXPECT_EQ(g.state(), (GeneratorState{9, 0}));
  EXPECT_EQ(g.reserve(4), 0u);
}

TEST(Generator, StateRoundTrips) {
  Generator g(3);
  g.reserve(11);
  const GeneratorState saved = g.state();
  const std::uint64_t a = g.reserve(6), b = g.reserve(2);
  g.manual_seed(1234);
  g.reserve(50);
  g.set_state(saved);
  EXPECT_EQ(g.state(), saved);
  EXPECT_EQ(g.reserve(6), a);
  EXPECT_EQ(g.reserve(2), b);
  g.set_state(0xdeadbeefcafef00dull, 0x123456789ull);
  EXPECT_EQ(g.seed(), 0xdeadbeefcafef00dull);
  EXPECT_EQ(g.offset(), 0x123456789ull);
}

TEST(Generator, ReserveRefusesToWrap) {
  Generator g(5);
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  g.set_state(5, max - 1);
  EXPECT_THROW(g.reserve(2), Error);
  EXPECT_EQ(g.offset(), max - 1);  // unchanged by the failed call
  EXPECT_EQ(g.reserve(1), max - 1);
  EXPECT_EQ(g.offset(), max);
  EXPECT_EQ(g.reserve(0), max);
  EXPECT_THROW(g.reserve(1), Error);
}

TEST(Generator, ConcurrentReservesAreDisjoint) {
  Generator g(11);
  constexpr int kThreads = 8, kPerThread = 2000;
  std::vector<std::vector<std::uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&g, &got, t] {
      for (int k = 0; k < kPerThread; ++k) got[t].push_back(g.reserve(3));
    });
  for (auto& th : threads) th.join();
  std::vector<std::uint64_t> all;
  for (auto& v : got) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), std::size_t{kThreads * kPerThread});
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], 3 * i) << i;
  EXPECT_EQ(g.offset(), 3u * kThreads * kPerThread);
}

TEST_F(DefaultGeneratorTest, ManualSeedSeedsTheDefaultGenerator) {
  manual_seed(2024);
  EXPECT_EQ(default_generator().state(), (GeneratorState{2024, 0}));
  EXPECT_EQ(&default_generator(), &default_generator());
  EXPECT_EQ(default_generator().reserve(4), 0u);
  EXPECT_EQ(default_generator().offset(), 4u);
  manual_seed(2024);
  EXPECT_EQ(default_generator().offset(), 0u);
}

// The point of it all: the same seed replays the same numbers, consecutive draws
// differ, and a restored state replays the draws that followed it.
TEST_F(DefaultGeneratorTest, SameSeedSameNumbers) {
  const kernels::index_t n = 10;
  auto draw = [n] {
    std::vector<float> x(n);
    const GeneratorState s = default_generator().reserve_state(kernels::counters_used(n));
    kernels::fill_normal_cpu<float>(n, s.seed, s.offset, 0.f, 1.f, x.data());
    return x;
  };
  manual_seed(77);
  const auto first = draw(), second = draw();
  EXPECT_NE(first, second);
  manual_seed(77);
  EXPECT_EQ(draw(), first);
  const GeneratorState checkpoint = default_generator().state();
  const auto after = draw();
  manual_seed(78);
  EXPECT_NE(draw(), first);
  default_generator().set_state(checkpoint);
  EXPECT_EQ(draw(), after);
}

}  // namespace
}  // namespace loom
