// Philox 4x32-10 against Random123's known answers, the (seed, offset, i) mapping,
// the portable ln / sin / cos, and the statistics of the CPU fills.
#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "core/error.h"
#include "kernels/philox.h"
#include "kernels/random.h"
#include "testing.h"

namespace loom::kernels {
namespace {

// ---- known answers -------------------------------------------------------------------

struct Kat {
  std::uint32_t ctr[4];
  std::uint32_t key[2];
  std::uint32_t expected[4];
};

// Random123 (github.com/DEShawResearch/random123), tests/kat_vectors, the
// "philox4x32 10" and "philox4x32 7" lines: CTR (4 words) KEY (2 words) EXPECTED (4 words).
constexpr Kat kKat10[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},  // pi digits
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};
constexpr Kat kKat7[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
     {0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a}},
};

template <int R>
void expect_kat(const Kat& kat) {
  PhiloxWords ctr{{kat.ctr[0], kat.ctr[1], kat.ctr[2], kat.ctr[3]}};
  PhiloxKey key{{kat.key[0], kat.key[1]}};
  PhiloxWords out = philox4x32<R>(ctr, key);
  for (int l = 0; l < 4; ++l)
    EXPECT_EQ(out.v[l], kat.expected[l]) << "rounds " << R << ", ctr[0] " << std::hex << kat.ctr[0]
                                         << ", lane " << l;
}

TEST(Philox, Random123KnownAnswers10Rounds) {
  for (const Kat& kat : kKat10) expect_kat<10>(kat);
}

TEST(Philox, Random123KnownAnswers7Rounds) {
  for (const Kat& kat : kKat7) expect_kat<7>(kat);
}

TEST(Philox, DefaultRoundsAreTen) {
  const Kat& kat = kKat10[2];
  PhiloxWords out = philox4x32({{kat.ctr[0], kat.ctr[1], kat.ctr[2], kat.ctr[3]}},
                               {{kat.key[0], kat.key[1]}});
  for (int l = 0; l < 4; ++l) EXPECT_EQ(out.v[l], kat.expected[l]);
}

// ---- the (seed, offset, i) mapping ---------------------------------------------------------

TEST(Philox, KeyAndCounterLayout) {
  const std::uint64_t seed = 0x0123456789abcdefull, c = 0xfedcba9876543210ull;
  PhiloxKey key = philox_key(seed);
  EXPECT_EQ(key.v[0], 0x89abcdefu);
  EXPECT_EQ(key.v[1], 0x01234567u);
  for (std::uint32_t sub : {0u, 1u}) {
    PhiloxWords direct = philox4x32<10>({{0x76543210u, 0xfedcba98u, sub, 0u}}, key);
    PhiloxWords words = philox_words(seed, c, sub);
    for (int l = 0; l < 4; ++l) EXPECT_EQ(words.v[l], direct.v[l]);
  }
}

TEST(Philox, CountersUsed) {
  EXPECT_EQ(counters_used(0), 0u);
  EXPECT_EQ(counters_used(-5), 0u);
  EXPECT_EQ(counters_used(1), 1u);
  EXPECT_EQ(counters_used(4), 1u);
  EXPECT_EQ(counters_used(5), 2u);
  EXPECT_EQ(counters_used(100003), 25001u);
}

// Seed 0, offset 0 is the all-zeros known answer: the first four uniforms are its words.
TEST(Philox, UniformFloatFromKnownAnswer) {
  std::vector<float> u(4);
  fill_uniform_cpu<float>(4, 0, 0, 0.f, 1.f, u.data());
  for (int l = 0; l < 4; ++l) {
    const float expected = static_cast<float>(kKat10[0].expected[l] >> 8) / 16777216.0f;
    EXPECT_EQ(u[l], expected) << "lane " << l;
  }
}

// Box-Muller on the all-zeros known answer, recomputed with libm in long double.
TEST(Philox, NormalFromKnownAnswer) {
  const std::uint32_t* w = kKat10[0].expected;
  std::vector<float> zf(4);
  fill_normal_cpu<float>(4, 0, 0, 0.f, 1.f, zf.data());
  for (int pair = 0; pair < 2; ++pair) {
    const long double two32 = 4294967296.0L;
    const long double u = (static_cast<long double>(w[2 * pair]) + 1) / two32;
    const long double v = static_cast<long double>(w[2 * pair + 1]) / two32;
    const long double r = std::sqrt(-2 * std::log(u));
    const long double a = 2 * std::numbers::pi_v<long double> * v;
    const double z0 = static_cast<double>(r * std::cos(a)), z1 = static_cast<double>(r * std::sin(a));
    EXPECT_NEAR(zf[2 * pair], z0, 1e-6 * std::abs(z0) + 1e-7) << "pair " << pair;
    EXPECT_NEAR(zf[2 * pair + 1], z1, 1e-6 * std::abs(z1) + 1e-7) << "pair " << pair;
  }
}

// A 53-bit double uniform is word * 2^21 + (word2 >> 11); the float one truncates it.
TEST(Philox, DoubleUniformLayout) {
  const std::uint64_t seed = 99, offset = 12345;
  for (index_t i = 0; i < 64; ++i) {
    const std::uint64_t c = offset + static_cast<std::uint64_t>(i / 4);
    const std::uint32_t w = philox_words(seed, c, 0).v[i % 4];
    const std::uint32_t w2 = philox_words(seed, c, 1).v[i % 4];
    const double ud = philox_uniform_at<double>(seed, offset, i);
    EXPECT_EQ(ud, std::ldexp(static_cast<double>((std::uint64_t{w} << 21) | (w2 >> 11)), -53));
    const float uf = philox_uniform_at<float>(seed, offset, i);
    EXPECT_EQ(uf, static_cast<float>(std::floor(std::ldexp(ud, 24)) / 16777216.0));
  }
}

// Element i depends on (seed, offset, i) only: not on n, and offset shifts by whole counters.
template <typename T>
void expect_prefix_and_shift(const char* what,
                             void (*fill)(index_t, std::uint64_t, std::uint64_t, T*)) {
  const std::uint64_t seed = 0xabcdef12345ull, offset = 0xfffffffdull;  // crosses a 32-bit carry
  std::vector<T> small(10), large(1000);
  fill(10, seed, offset, small.data());
  fill(1000, seed, offset, large.data());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(small[i], large[i]) << what << " element " << i;
  for (index_t n : {1, 3, 17}) {
    std::vector<T> part(static_cast<std::size_t>(n));
    fill(n, seed, offset, part.data());
    for (index_t i = 0; i < n; ++i) EXPECT_EQ(part[i], large[i]) << what << " n " << n << " i " << i;
  }
  // Starting 5 counters later is the same stream from element 20 on.
  std::vector<T> shifted(100);
  fill(100, seed, offset + 5, shifted.data());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(shifted[i], large[20 + i]) << what << " shifted " << i;
}

template <typename T>
void uniform_fill(index_t n, std::uint64_t s, std::uint64_t o, T* out) {
  fill_uniform_cpu<T>(n, s, o, T(-2), T(3), out);
}
template <typename T>
void normal_fill(index_t n, std::uint64_t s, std::uint64_t o, T* out) {
  fill_normal_cpu<T>(n, s, o, T(1), T(2), out);
}
template <typename T>
void dropout_fill(index_t n, std::uint64_t s, std::uint64_t o, T* out) {
  fill_dropout_mask_cpu<T>(n, s, o, T(0.3), out);
}

TEST(Philox, ElementIndependentOfLengthAndSplit) {
  expect_prefix_and_shift<float>("uniform float", uniform_fill<float>);
  expect_prefix_and_shift<double>("uniform double", uniform_fill<double>);
  expect_prefix_and_shift<float>("normal float", normal_fill<float>);
  expect_prefix_and_shift<double>("normal double", normal_fill<double>);
  expect_prefix_and_shift<float>("dropout float", dropout_fill<float>);
  expect_prefix_and_shift<double>("dropout double", dropout_fill<double>);
}

TEST(Philox, PerElementHelpersMatchFills) {
  const std::uint64_t seed = 5, offset = 77;
  std::vector<double> u(37), z(37);
  fill_uniform_cpu<double>(37, seed, offset, 0.0, 1.0, u.data());
  fill_normal_cpu<double>(37, seed, offset, 0.0, 1.0, z.data());
  for (index_t i = 0; i < 37; ++i) {
    EXPECT_EQ(u[i], philox_uniform_at<double>(seed, offset, i));
    EXPECT_EQ(z[i], philox_normal_at<double>(seed, offset, i));
  }
}

TEST(Philox, DifferentOffsetsAndSeedsGiveDifferentStreams) {
  const index_t n = 1000;
  std::vector<float> a(n), b(n), c(n);
  fill_uniform_cpu<float>(n, 1, 0, 0.f, 1.f, a.data());
  fill_uniform_cpu<float>(n, 1, counters_used(n), 0.f, 1.f, b.data());
  fill_uniform_cpu<float>(n, 2, 0, 0.f, 1.f, c.data());
  int same_ab = 0, same_ac = 0;
  for (index_t i = 0; i < n; ++i) {
    same_ab += a[i] == b[i];
    same_ac += a[i] == c[i];
  }
  // Two independent 24-bit uniforms agree with probability 2^-24.
  EXPECT_LE(same_ab, 1);
  EXPECT_LE(same_ac, 1);
}

// ---- the portable ln, sin, cos -------------------------------------------------------------

TEST(Philox, PortableLogMatchesLibm) {
  std::vector<double> xs = {1.0, 0.5, 0.25, std::ldexp(1.0, -53), std::ldexp(1.0, -32),
                            std::sqrt(0.5), std::nextafter(std::sqrt(0.5), 1.0),
                            std::nextafter(std::sqrt(0.5), 0.0), 1.0 - std::ldexp(1.0, -53),
                            0.1, 0.9, 0.75, 3.0, 1e10};
  std::vector<float> grid(20000);
  fill_uniform_cpu<float>(20000, 3, 0, 0.f, 1.f, grid.data());
  for (float g : grid) xs.push_back(static_cast<double>(g) + std::ldexp(1.0, -40));
  double worst = 0;
  for (double x : xs) {
    const double expected = std::log(x), got = philox_log(x);
    const double err = std::abs(got - expected) / std::max(std::abs(expected), 1e-300);
    worst = std::max(worst, err);
    EXPECT_LE(std::abs(got - expected), 4e-16 * std::abs(expected)) << "x = " << x;
  }
  EXPECT_EQ(philox_log(1.0), 0.0);
  RecordProperty("worst_relative_error", std::to_string(worst / 1.1102230246251565e-16) + " ulp");
}

TEST(Philox, PortableSinCosMatchLibm) {
  auto check = [](auto tag, std::uint64_t k) {
    constexpr int B = decltype(tag)::value;
    double s = 0, c = 0;
    philox_sincos_2pi<B>(k, &s, &c);
    const long double a = 2 * std::numbers::pi_v<long double> * std::ldexp(static_cast<long double>(k), -B);
    EXPECT_NEAR(s, static_cast<double>(std::sin(a)), 3e-16) << "B " << B << " k " << k;
    EXPECT_NEAR(c, static_cast<double>(std::cos(a)), 3e-16) << "B " << B << " k " << k;
  };
  using B32 = std::integral_constant<int, 32>;
  using B53 = std::integral_constant<int, 53>;
  for (std::uint64_t k : {0ull, 1ull, 1ull << 29, (1ull << 29) - 1, 1ull << 30, 3ull << 30,
                          (1ull << 32) - 1, 0x9E3779B9ull, 7ull << 29})
    check(B32{}, k);
  for (std::uint64_t k : {0ull, 1ull, 1ull << 50, 1ull << 51, 3ull << 51, (1ull << 53) - 1,
                          0x123456789abcdull})
    check(B53{}, k);
  for (std::uint64_t k = 0; k < 20000; ++k) {
    check(B32{}, k * 214748ull + 12345ull);
    check(B53{}, (k * 0x9E3779B97F4Aull) & ((1ull << 53) - 1));
  }
}

// ---- statistics of the fills -----------------------------------------------------------------

struct Moments {
  double mean = 0, var = 0;
};
template <typename T>
Moments moments(const std::vector<T>& x) {
  Moments m;
  for (T v : x) m.mean += v;
  m.mean /= static_cast<double>(x.size());
  for (T v : x) m.var += (v - m.mean) * (v - m.mean);
  m.var /= static_cast<double>(x.size() - 1);
  return m;
}

template <typename T>
void check_uniform_statistics() {
  const index_t n = 1 << 20;
  const T low = T(-1.5), high = T(2.5);
  std::vector<T> x(n);
  fill_uniform_cpu<T>(n, 2024, 3, low, high, x.data());
  for (index_t i = 0; i < n; ++i) {
    ASSERT_GE(x[i], low) << i;
    ASSERT_LT(x[i], high) << i;
  }
  Moments m = moments(x);
  const double width = static_cast<double>(high - low), sd = width / std::sqrt(12.0);
  EXPECT_NEAR(m.mean, 0.5, 5 * sd / std::sqrt(double(n)));  // (low + high) / 2
  EXPECT_NEAR(m.var, width * width / 12, 5 * width * width * std::sqrt(1.0 / 180 / n));
  // The [0, 1) uniform itself: mean 1/2.
  std::vector<T> u(n);
  fill_uniform_cpu<T>(n, 7, 0, T(0), T(1), u.data());
  EXPECT_NEAR(moments(u).mean, 0.5, 5 / std::sqrt(12.0 * n));
  // Each of 16 bins holds 1/16 of the values within 5 standard errors.
  std::vector<index_t> bins(16);
  for (T v : u) ++bins[static_cast<int>(v * 16)];
  const double p = 1.0 / 16, se = std::sqrt(p * (1 - p) / n);
  for (int b = 0; b < 16; ++b) EXPECT_NEAR(double(bins[b]) / n, p, 5 * se) << "bin " << b;
}

TEST(PhiloxFill, UniformStatisticsFloat) { check_uniform_statistics<float>(); }
TEST(PhiloxFill, UniformStatisticsDouble) { check_uniform_statistics<double>(); }

TEST(PhiloxFill, UniformDegenerateRange) {
  std::vector<float> x(9);
  fill_uniform_cpu<float>(9, 1, 0, 0.25f, 0.25f, x.data());
  for (float v : x) EXPECT_EQ(v, 0.25f);
}

template <typename T>
void check_normal_statistics() {
  const index_t n = 1 << 20;
  std::vector<T> z(n);
  fill_normal_cpu<T>(n, 31337, 11, T(0), T(1), z.data());
  Moments m = moments(z);
  EXPECT_NEAR(m.mean, 0.0, 5 / std::sqrt(double(n)));
  EXPECT_NEAR(m.var, 1.0, 5 * std::sqrt(2.0 / n));
  // P(|z| < 1) = erf(1 / sqrt 2); P(|z| < 2) likewise.
  for (double t : {1.0, 2.0}) {
    index_t inside = 0;
    for (T v : z) inside += std::abs(v) < t;
    const double p = std::erf(t / std::sqrt(2.0)), se = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(double(inside) / n, p, 5 * se) << "|z| < " << t;
  }
  // The two members of a Box-Muller pair, and neighbouring pairs, are uncorrelated.
  for (int lag : {1, 2, 4}) {
    double c = 0;
    index_t count = 0;
    for (index_t i = 0; i + lag < n; i += 4, ++count) c += double(z[i]) * double(z[i + lag]);
    EXPECT_NEAR(c / double(count), 0.0, 5 / std::sqrt(double(count))) << "lag " << lag;
  }
  // mean + std * z.
  std::vector<T> y(n);
  fill_normal_cpu<T>(n, 31337, 11, T(2), T(3), y.data());
  for (index_t i = 0; i < n; i += 997) EXPECT_EQ(y[i], std::fma(T(3), z[i], T(2))) << i;
  Moments my = moments(y);
  EXPECT_NEAR(my.mean, 2.0, 5 * 3 / std::sqrt(double(n)));
  EXPECT_NEAR(my.var, 9.0, 5 * 9 * std::sqrt(2.0 / n));
}

TEST(PhiloxFill, NormalStatisticsFloat) { check_normal_statistics<float>(); }
TEST(PhiloxFill, NormalStatisticsDouble) { check_normal_statistics<double>(); }

template <typename T>
void check_dropout_mask() {
  const index_t n = 1 << 20;
  std::vector<T> mask(n);
  for (T p : {T(0), T(0.1), T(0.5), T(0.9), T(1)}) {
    fill_dropout_mask_cpu<T>(n, 8, 1234, p, mask.data());
    const T scale = p < T(1) ? T(1) / (T(1) - p) : T(0);
    index_t kept = 0;
    for (index_t i = 0; i < n; ++i) {
      if (mask[i] != T(0)) {
        ++kept;
        ASSERT_EQ(mask[i], scale) << "p " << p << " i " << i;
      }
    }
    const double q = 1.0 - static_cast<double>(p);
    const double se = std::sqrt(q * (1 - q) / n);
    EXPECT_NEAR(double(kept) / n, q, 5 * se + 1e-12) << "p " << p;
    if (p == T(0)) {
      EXPECT_EQ(kept, n);
    }
    if (p == T(1)) {
      EXPECT_EQ(kept, 0);
    }
  }
  // The mask keeps exactly the elements whose uniform is >= p.
  std::vector<T> u(1000), m(1000);
  fill_uniform_cpu<T>(1000, 8, 1234, T(0), T(1), u.data());
  fill_dropout_mask_cpu<T>(1000, 8, 1234, T(0.5), m.data());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(m[i] != T(0), u[i] >= T(0.5)) << i;
}

TEST(PhiloxFill, DropoutMaskFloat) { check_dropout_mask<float>(); }
TEST(PhiloxFill, DropoutMaskDouble) { check_dropout_mask<double>(); }

TEST(PhiloxFill, BadArgumentsThrow) {
  std::vector<float> x(4, 7.f);
  EXPECT_THROW(fill_uniform_cpu<float>(4, 0, 0, 1.f, 0.f, x.data()), Error);
  EXPECT_THROW(fill_uniform_cpu<float>(4, 0, 0, -3e38f, 3e38f, x.data()), Error);
  EXPECT_THROW(fill_normal_cpu<float>(4, 0, 0, 0.f, -1.f, x.data()), Error);
  EXPECT_THROW(fill_normal_cpu<float>(4, 0, 0, 0.f, std::nanf(""), x.data()), Error);
  EXPECT_THROW(fill_dropout_mask_cpu<float>(4, 0, 0, 1.5f, x.data()), Error);
  EXPECT_THROW(fill_dropout_mask_cpu<float>(4, 0, 0, -0.1f, x.data()), Error);
  EXPECT_THROW(fill_dropout_mask_cpu<float>(-1, 0, 0, 0.5f, x.data()), Error);
  for (float v : x) EXPECT_EQ(v, 7.f);  // nothing written
  try {
    fill_dropout_mask_cpu<double>(4, 0, 0, 2.0, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dropout probability has to be between 0 and 1"),
              std::string::npos)
        << e.what();
  }
  fill_uniform_cpu<float>(0, 0, 0, 0.f, 1.f, nullptr);  // n = 0 writes nothing
}

}  // namespace
}  // namespace loom::kernels
