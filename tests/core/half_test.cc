// loom::bfloat16 / loom::float16 (kernels/half.h): conversions against
// independent oracles: the IEEE definition of each bit pattern (all 65,536 of
// them), round-to-nearest-even by distance in double (every tie between
// neighbours and the floats either side, and random floats), and PyTorch
// 1.13's own roundings of tricky values (tests/data/half/float_to_half.txt,
// written by tests/fixtures/make_half_cases.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "core/dtype.h"
#include "testing.h"

namespace loom {
namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The value of a binary16 pattern from its fields, by the IEEE 754 definition.
double f16_value(std::uint16_t h) {
  int sign = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v;
  if (e == 0x1f) v = m == 0 ? INFINITY : NAN;
  else if (e == 0) v = std::ldexp(m, -24);
  else v = std::ldexp(1024 + m, e - 25);
  return sign ? -v : v;
}

// The value of a bfloat16 pattern from its fields (8-bit exponent, bias 127).
double bf16_value(std::uint16_t h) {
  int sign = h >> 15, e = (h >> 7) & 0xff, m = h & 0x7f;
  double v;
  if (e == 0xff) v = m == 0 ? INFINITY : NAN;
  else if (e == 0) v = std::ldexp(m, -133);
  else v = std::ldexp(128 + m, e - 134);
  return sign ? -v : v;
}

template <typename H>
double value_of(std::uint16_t h) {
  return std::is_same_v<H, bfloat16> ? bf16_value(h) : f16_value(h);
}

template <typename H>
std::uint16_t round_bits(float f) {
  return H(f).bits;
}

// The correctly rounded pattern of a finite float by distance (ties to the even
// pattern), found by binary search over the positive patterns; overflow past
// the midpoint between the largest finite value and the next power of two
// (which, being a tie with an odd maximum, goes up) is inf.
template <typename H>
std::uint16_t oracle_round(float f) {
  const std::uint16_t inf = std::is_same_v<H, bfloat16> ? 0x7f80 : 0x7c00;
  double x = std::fabs(static_cast<double>(f));
  std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  double max_finite = value_of<H>(inf - 1);
  double ulp_at_max = max_finite - value_of<H>(inf - 2);
  if (x >= max_finite + ulp_at_max / 2) return sign | inf;
  std::uint16_t lo = 0, hi = inf - 1;  // largest pattern with value <= x
  while (lo < hi) {
    std::uint16_t mid = static_cast<std::uint16_t>((lo + hi + 1) / 2);
    if (value_of<H>(mid) <= x) lo = mid;
    else hi = mid - 1;
  }
  if (value_of<H>(lo) == x || lo == inf - 1) return sign | lo;
  double dlo = x - value_of<H>(lo), dhi = value_of<H>(lo + 1) - x;
  std::uint16_t r = dlo < dhi ? lo : dhi < dlo ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1);
  return sign | r;
}

template <typename H>
void check_all_patterns() {
  const bool bf = std::is_same_v<H, bfloat16>;
  const std::uint16_t quiet = bf ? 0x0040 : 0x0200;
  for (std::uint32_t i = 0; i < 65536; ++i) {
    auto h = static_cast<std::uint16_t>(i);
    float f = H::from_bits(h);
    double expected = value_of<H>(h);
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << i;
      // Back: a NaN of the same sign, quietened, payload kept.
      EXPECT_EQ(round_bits<H>(f), h | quiet) << std::hex << i;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), expected) << std::hex << i;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << i;  // -0 stays -0
    ASSERT_EQ(round_bits<H>(f), h) << std::hex << i;                 // exact round trip
  }
}

TEST(Half, EveryBFloat16PatternToFloatAndBack) { check_all_patterns<bfloat16>(); }
TEST(Half, EveryFloat16PatternToFloatAndBack) { check_all_patterns<float16>(); }

// Every midpoint between neighbouring finite values (a tie: to the even one)
// and the floats one ulp either side of it (to the nearer one), both signs.
template <typename H>
void check_ties() {
  const std::uint16_t inf = std::is_same_v<H, bfloat16> ? 0x7f80 : 0x7c00;
  int checked = 0;
  for (std::uint16_t h = 0; h < inf; ++h) {
    double lo = value_of<H>(h);
    double hi = h + 1 == inf ? 2 * value_of<H>(h) - value_of<H>(h - 1) : value_of<H>(h + 1);
    double mid = (lo + hi) / 2;
    auto m = static_cast<float>(mid);
    ASSERT_EQ(static_cast<double>(m), mid);  // every midpoint is a float
    std::uint16_t even = h % 2 == 0 ? h : static_cast<std::uint16_t>(h + 1);
    std::uint16_t below = h, above = static_cast<std::uint16_t>(h + 1);  // h + 1 == inf: overflow
    for (float s : {1.0f, -1.0f}) {
      std::uint16_t sign = s < 0 ? 0x8000 : 0;
      ASSERT_EQ(round_bits<H>(s * m), sign | even) << std::hex << h;
      ASSERT_EQ(round_bits<H>(s * std::nextafter(m, 0.0f)), sign | below) << std::hex << h;
      ASSERT_EQ(round_bits<H>(s * std::nextafter(m, INFINITY)), sign | above) << std::hex << h;
      ASSERT_EQ(round_bits<H>(s * m), oracle_round<H>(s * m));
    }
    ++checked;
  }
  EXPECT_EQ(checked, inf);
}

TEST(Half, BFloat16TiesGoToEvenAndNeighboursToNearest) { check_ties<bfloat16>(); }
TEST(Half, Float16TiesGoToEvenAndNeighboursToNearest) { check_ties<float16>(); }

// Random floats of every magnitude against the distance oracle.
template <typename H>
void check_random_floats() {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<std::uint32_t> any;
  int n = 0;
  for (int i = 0; i < 300000; ++i) {
    std::uint32_t u = any(rng);
    if (i % 2) u = (u & 0x807fffffu) | ((100u + u % 60u) << 23);  // half of them near float16's range
    float f = float_of(u);
    if (std::isnan(f)) continue;
    ASSERT_EQ(round_bits<H>(f), oracle_round<H>(f)) << std::hex << u;
    ++n;
  }
  EXPECT_GT(n, 299000);
}

TEST(Half, BFloat16RoundsRandomFloatsToNearestEven) { check_random_floats<bfloat16>(); }
TEST(Half, Float16RoundsRandomFloatsToNearestEven) { check_random_floats<float16>(); }

TEST(Half, LandmarksOfBothTypes) {
  EXPECT_EQ(float16(65504.0f).bits, 0x7bff);
  EXPECT_EQ(float16(65519.996f).bits, 0x7bff);
  EXPECT_EQ(float16(65520.0f).bits, 0x7c00);  // overflow at the tie
  EXPECT_EQ(float16(-1e10f).bits, 0xfc00);
  EXPECT_EQ(float16(std::ldexp(1.0f, -24)).bits, 0x0001);  // smallest subnormal
  EXPECT_EQ(float16(std::ldexp(1.0f, -25)).bits, 0x0000);  // a tie with zero
  EXPECT_EQ(float16(std::ldexp(3.0f, -26)).bits, 0x0001);
  EXPECT_EQ(float16(std::ldexp(1.0f, -14)).bits, 0x0400);  // smallest normal
  EXPECT_EQ(bfloat16(float_of(0x7f7f8000u)).bits, 0x7f80);  // bfloat16 overflow at the tie
  EXPECT_EQ(bfloat16(float_of(0x7f7f7fffu)).bits, 0x7f7f);
  EXPECT_EQ(bfloat16(float_of(0x00018000u)).bits, 0x0002);  // float subnormals round too
  EXPECT_EQ(bfloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(float16(1.0f).bits, 0x3c00);
  EXPECT_TRUE(std::isnan(static_cast<float>(bfloat16(float_of(0x7f800001u)))));  // not inf
  EXPECT_TRUE(std::isnan(static_cast<float>(float16(float_of(0x7f800001u)))));
  EXPECT_TRUE(std::isnan(static_cast<float>(bfloat16(float_of(0xffffffffu)))));  // no carry into the sign
}

// PyTorch's roundings (torch.tensor(x, dtype=...)) of the committed values.
TEST(Half, FloatToHalfMatchesPyTorch) {
  std::ifstream in(testing::source_path("tests/data/half/float_to_half.txt"));
  ASSERT_TRUE(in) << "missing tests/data/half/float_to_half.txt";
  std::string line;
  int n = 0, nans = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::uint32_t f32 = 0, bf = 0, hf = 0;
    s >> std::hex >> f32 >> bf >> hf;
    ASSERT_TRUE(s) << line;
    float f = float_of(f32);
    if (std::isnan(f)) {  // PyTorch's NaN payloads differ by path: compare NaN-ness and sign
      EXPECT_TRUE(std::isnan(static_cast<float>(bfloat16(f))) && std::isnan(static_cast<float>(float16(f))));
      EXPECT_EQ(bfloat16(f).bits >> 15, f32 >> 31);
      EXPECT_EQ(float16(f).bits >> 15, f32 >> 31);
      ++nans;
      continue;
    }
    EXPECT_EQ(bfloat16(f).bits, bf) << line;
    EXPECT_EQ(float16(f).bits, hf) << line;
    ++n;
  }
  EXPECT_GT(n, 2000);
  EXPECT_GE(nans, 4);
}

TEST(Half, DTypeMetadataUsesPyTorchNames) {
  EXPECT_EQ(element_size(kBFloat16), 2u);
  EXPECT_EQ(element_size(kFloat16), 2u);
  EXPECT_EQ(dtype_name(kBFloat16), "bfloat16");
  EXPECT_EQ(dtype_name(kFloat16), "float16");
  EXPECT_EQ(scalar_type_name(kBFloat16), "BFloat16");
  EXPECT_EQ(scalar_type_name(kFloat16), "Half");
  EXPECT_TRUE(is_floating(kBFloat16) && is_floating(kFloat16));
  EXPECT_TRUE(is_reduced_float(kBFloat16) && is_reduced_float(kFloat16) && !is_reduced_float(kFloat32));
  EXPECT_EQ(dtype_of<bfloat16>(), kBFloat16);
  EXPECT_EQ(dtype_of<float16>(), kFloat16);
}

TEST(Half, ConvertFollowsPyTorchCasts) {
  EXPECT_EQ(convert<std::int64_t>(bfloat16(-2.75f)), -2);  // truncation through float
  EXPECT_EQ(convert<bool>(float16(0.0f)), false);
  EXPECT_EQ(convert<bool>(float16(-0.0f)), false);
  EXPECT_EQ(convert<bool>(bfloat16(1e-30f)), true);
  EXPECT_EQ(convert<bfloat16>(true).bits, 0x3f80);
  EXPECT_EQ(convert<float16>(std::int64_t{2049}).bits, float16(2048.0f).bits);  // a tie, to even
  // A double is rounded to float first, as torch does (double rounding included):
  double d = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30);  // just above a bfloat16 tie
  EXPECT_EQ(convert<bfloat16>(d).bits, bfloat16(static_cast<float>(d)).bits);
  EXPECT_EQ(convert<float16>(bfloat16(3.0f)).bits, 0x4200);
  EXPECT_EQ(static_cast<double>(convert<double>(float16::from_bits(0x0001))), std::ldexp(1.0, -24));
}

}  // namespace
}  // namespace loom
