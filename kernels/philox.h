// Counter-based random numbers: Philox 4x32-10 and the conversions loom makes
// from its words, written once for the CPU and CUDA (LOOM_HD).
//
// Philox 4x32-R is the counter-based generator of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC'11), with the constants of
// its reference implementation, Random123: multipliers 0xD2511F53, 0xCD9E8D57,
// Weyl key increments 0x9E3779B9 (golden ratio), 0xBB67AE85 (sqrt(3) - 1).
// philox4x32<10> reproduces Random123's philox4x32_10 (tests/kernels/philox_test.cc
// checks its known-answer vectors).
//
// ---- The stream: (seed, offset, i) -> value --------------------------------------
//
//   key      = { lo32(seed), hi32(seed) }
//   c        = offset + i / 4                     (64-bit, wraps modulo 2^64)
//   counter  = { lo32(c), hi32(c), sub, 0 }
//   word(i)  = philox4x32<10>(counter, key)[i % 4]  with sub = 0
//   word2(i) = the same with sub = 1              (only 53-bit doubles read it)
//
// Element i of a stream depends on (seed, offset, i) only: never on the length n,
// on how the work is split over threads, or on the device. Every fill of n
// elements consumes counters_used(n) = ceil(n / 4) counters whatever its dtype or
// distribution; a caller that draws again advances offset by that much
// (loom::Generator::reserve does it).
//
// ---- Conversions (T = float or double) ----------------------------------------------
//
//   uniform<float>(i)  = (word(i) >> 8) * 2^-24                             [0, 1), 24 bits
//   uniform<double>(i) = (word(i) * 2^21 + (word2(i) >> 11)) * 2^-53         [0, 1), 53 bits
//       (the float uniform is the double one truncated to 24 bits)
//   normal<T>(i): Box-Muller on the lane pairs (0, 1) and (2, 3) of one counter.
//       For the pair (l, l + 1), l even:
//         radius r = sqrt(-2 ln u), u in (0, 1] from lane l,
//         angle  a = 2 pi v,         v in [0, 1) from lane l + 1,
//         lane l gets r cos a, lane l + 1 gets r sin a.
//       float:  u = (word + 1) * 2^-32, v = word * 2^-32 (32 bits each), the math in
//               double, the result rounded to float (|z| <= 6.67);
//       double: u = (53-bit integer + 1) * 2^-53 and v = 53-bit integer * 2^-53 built
//               from word and word2 as for uniform<double> (|z| <= 8.58).
//
// Bit-identical on CPU and CUDA: the conversions use only integer operations and
// IEEE-rounded +, -, *, /, sqrt and fma in a fixed order (ln, sin and cos are
// evaluated by the polynomials below, not by libm or CUDA's math library, whose
// last bits differ). A product that feeds a sum is always an explicit fma, so no
// compiler contraction (nvcc's -fmad, GCC's -ffp-contract=fast) can change a bit.
#pragma once

#include <cstdint>
#include <type_traits>

#if !defined(__CUDA_ARCH__)
#include <bit>
#include <cmath>
#endif

#include "kernels/common.h"

namespace loom::kernels {

// Random123's Philox 4x32 constants.
inline constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;  // round multipliers
inline constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;  // Weyl key increments
inline constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;
inline constexpr int kPhiloxRounds = 10;
// Elements one 128-bit counter yields.
inline constexpr int kPhiloxLanes = 4;

// Four 32-bit words: a Philox counter or its output.
struct PhiloxWords {
  std::uint32_t v[4];
};
// Two 32-bit words: a Philox key.
struct PhiloxKey {
  std::uint32_t v[2];
};

// One Philox round: two 32x32 -> 64-bit products, then the Feistel-like mix.
LOOM_HD PhiloxWords philox4x32_round(PhiloxWords ctr, PhiloxKey key) {
  const std::uint64_t p0 = std::uint64_t{kPhiloxM0} * ctr.v[0];
  const std::uint64_t p1 = std::uint64_t{kPhiloxM1} * ctr.v[2];
  const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
  const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
  return PhiloxWords{{hi1 ^ ctr.v[1] ^ key.v[0], lo1, hi0 ^ ctr.v[3] ^ key.v[1], lo0}};
}

// Philox 4x32-R: R rounds, the key bumped by the Weyl constants between rounds
// (Random123's philox4x32_R). R = 10 is the generator loom uses.
template <int R = kPhiloxRounds>
LOOM_HD PhiloxWords philox4x32(PhiloxWords ctr, PhiloxKey key) {
  static_assert(R >= 1 && R <= 16, "Philox 4x32 is defined for 1..16 rounds");
  ctr = philox4x32_round(ctr, key);
  for (int r = 1; r < R; ++r) {
    key.v[0] += kPhiloxW0;
    key.v[1] += kPhiloxW1;
    ctr = philox4x32_round(ctr, key);
  }
  return ctr;
}

// The key of a seed: its low and high 32-bit halves.
LOOM_HD PhiloxKey philox_key(std::uint64_t seed) {
  return PhiloxKey{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
}

// The four words of counter c (= offset + i / 4) and sub-block `sub` (0, or 1 for
// the low bits of 53-bit doubles) of the stream keyed by `seed`.
LOOM_HD PhiloxWords philox_words(std::uint64_t seed, std::uint64_t c, std::uint32_t sub = 0) {
  const PhiloxWords ctr{{static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32), sub, 0u}};
  return philox4x32<kPhiloxRounds>(ctr, philox_key(seed));
}

// Counters consumed by n elements: ceil(n / 4) (0 for n <= 0). The next draw
// from the same seed should use offset + counters_used(n).
LOOM_HD constexpr std::uint64_t counters_used(index_t n) {
  return n <= 0 ? 0 : static_cast<std::uint64_t>((n + kPhiloxLanes - 1) / kPhiloxLanes);
}

// ---- exact, device-independent floating point ------------------------------------------
namespace philox_detail {

LOOM_HD double fma_rn(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
LOOM_HD float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
LOOM_HD double sqrt_rn(double x) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(x);
#else
  return std::sqrt(x);
#endif
}
LOOM_HD double div_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
LOOM_HD std::uint64_t bits_of(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint64_t>(__double_as_longlong(x));
#else
  return std::bit_cast<std::uint64_t>(x);
#endif
}
LOOM_HD double double_of(std::uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(b));
#else
  return std::bit_cast<double>(b);
#endif
}

// ln 2 split so that e * kLn2Hi is exact for |e| < 2^20 (fdlibm's split).
inline constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 0x3FE62E42FEE00000
inline constexpr double kLn2Lo = 1.90821492927058770002e-10;  // 0x3DEA39EF35793C76
inline constexpr std::uint64_t kSqrt2Bits = 0x3FF6A09E667F3BCDull;  // sqrt(2) rounded
inline constexpr double kPiOver2 = 1.57079632679489661923;

}  // namespace philox_detail

// Natural logarithm of a positive normal double, from +, -, *, /, fma only (so it
// is the same on every device). x = 2^e m with m in [sqrt(1/2), sqrt(2)],
// ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s^23.
// Error: a few ulp (checked against std::log in philox_test.cc).
LOOM_HD double philox_log(double x) {
  using namespace philox_detail;
  const std::uint64_t bits = bits_of(x);
  int e = static_cast<int>((bits >> 52) & 0x7FF) - 1023;
  std::uint64_t mbits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;  // m in [1, 2)
  if (mbits > kSqrt2Bits) {
    mbits -= 0x0010000000000000ull;  // m / 2
    e += 1;
  }
  const double f = double_of(mbits) - 1.0;  // exact (Sterbenz)
  const double s = div_rn(f, 2.0 + f);
  const double z = s * s;
  double p = 1.0 / 23.0;
  p = fma_rn(p, z, 1.0 / 21.0);
  p = fma_rn(p, z, 1.0 / 19.0);
  p = fma_rn(p, z, 1.0 / 17.0);
  p = fma_rn(p, z, 1.0 / 15.0);
  p = fma_rn(p, z, 1.0 / 13.0);
  p = fma_rn(p, z, 1.0 / 11.0);
  p = fma_rn(p, z, 1.0 / 9.0);
  p = fma_rn(p, z, 1.0 / 7.0);
  p = fma_rn(p, z, 1.0 / 5.0);
  p = fma_rn(p, z, 1.0 / 3.0);
  const double t = 2.0 * s;                  // exact
  const double log_m = fma_rn(t * z, p, t);  // 2s (1 + z/3 + z^2/5 + ...)
  const double de = static_cast<double>(e);
  return fma_rn(de, kLn2Hi, fma_rn(de, kLn2Lo, log_m));
}

// sin and cos of the angle 2 pi k / 2^B, for 0 <= k < 2^B (B = 32 or 53), from
// integer quadrant reduction and Taylor polynomials on [-pi/4, pi/4] (to x^17 for
// sin, x^18 for cos). Same on every device; error about 1 ulp.
template <int B>
LOOM_HD void philox_sincos_2pi(std::uint64_t k, double* sin_out, double* cos_out) {
  static_assert(B >= 3 && B <= 53, "angle resolution out of range");
  using namespace philox_detail;
  // k / 2^B of a turn = q quarter turns + r, q = nearest integer, |r| <= 1/2 quarter.
  const std::uint64_t q = (k + (std::uint64_t{1} << (B - 3))) >> (B - 2);
  const std::int64_t rem = static_cast<std::int64_t>(k) - static_cast<std::int64_t>(q << (B - 2));
  constexpr double kQuarterUlp = 1.0 / static_cast<double>(std::uint64_t{1} << (B - 2));
  const double x = (static_cast<double>(rem) * kQuarterUlp) * kPiOver2;  // in [-pi/4, pi/4]
  const double x2 = x * x;
  // sin x = x + x^3 ps, ps = -1/3! + x^2/5! - ... + x^14/17!
  double ps = 1.0 / 355687428096000.0;
  ps = fma_rn(ps, x2, -1.0 / 1307674368000.0);
  ps = fma_rn(ps, x2, 1.0 / 6227020800.0);
  ps = fma_rn(ps, x2, -1.0 / 39916800.0);
  ps = fma_rn(ps, x2, 1.0 / 362880.0);
  ps = fma_rn(ps, x2, -1.0 / 5040.0);
  ps = fma_rn(ps, x2, 1.0 / 120.0);
  ps = fma_rn(ps, x2, -1.0 / 6.0);
  const double s = fma_rn(x * x2, ps, x);
  // cos x = 1 - x^2 pc, pc = 1/2! - x^2/4! + ... + x^16/18!
  double pc = 1.0 / 6402373705728000.0;
  pc = fma_rn(pc, x2, -1.0 / 20922789888000.0);
  pc = fma_rn(pc, x2, 1.0 / 87178291200.0);
  pc = fma_rn(pc, x2, -1.0 / 479001600.0);
  pc = fma_rn(pc, x2, 1.0 / 3628800.0);
  pc = fma_rn(pc, x2, -1.0 / 40320.0);
  pc = fma_rn(pc, x2, 1.0 / 720.0);
  pc = fma_rn(pc, x2, -1.0 / 24.0);
  pc = fma_rn(pc, x2, 0.5);
  const double c = fma_rn(-x2, pc, 1.0);  // 1 - x^2/2 + x^4/24 - ...
  switch (q & 3) {
    case 0: *sin_out = s; *cos_out = c; break;
    case 1: *sin_out = c; *cos_out = -s; break;
    case 2: *sin_out = -s; *cos_out = -c; break;
    default: *sin_out = -c; *cos_out = s; break;
  }
}

// Box-Muller on one pair: u_bits + 1 = u * 2^B in (0, 2^B], v_bits = v * 2^B in
// [0, 2^B). Writes r cos(2 pi v) to *z0 and r sin(2 pi v) to *z1, r = sqrt(-2 ln u).
template <int B>
LOOM_HD void philox_box_muller(std::uint64_t u_bits, std::uint64_t v_bits, double* z0, double* z1) {
  using namespace philox_detail;
  static_assert(B >= 3 && B <= 53, "uniform resolution out of range");
  constexpr double kUlp = 1.0 / static_cast<double>(std::uint64_t{1} << B);  // 2^-B
  const double u = static_cast<double>(u_bits + 1) * kUlp;  // exact, in (0, 1]
  const double r = sqrt_rn(-2.0 * philox_log(u));
  double s = 0, c = 0;
  philox_sincos_2pi<B>(v_bits, &s, &c);
  *z0 = r * c;
  *z1 = r * s;
}

// ---- per-counter distributions ------------------------------------------------------------

// The [0, 1) uniforms of the four elements of counter c (elements 4 (c - offset) + l,
// l = 0..3) of the stream keyed by seed. T = float (24 bits) or double (53 bits).
template <typename T>
LOOM_HD void philox_uniform4(std::uint64_t seed, std::uint64_t c, T u[4]) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "T is float or double");
  const PhiloxWords w = philox_words(seed, c, 0);
  if constexpr (std::is_same_v<T, float>) {
    for (int l = 0; l < 4; ++l) u[l] = static_cast<float>(w.v[l] >> 8) * (1.0f / 16777216.0f);
  } else {
    const PhiloxWords w2 = philox_words(seed, c, 1);
    for (int l = 0; l < 4; ++l) {
      const std::uint64_t k = (std::uint64_t{w.v[l]} << 21) | (w2.v[l] >> 11);
      u[l] = static_cast<double>(k) * (1.0 / 9007199254740992.0);  // 2^-53
    }
  }
}

// The standard normals of the four elements of counter c (pairing in the header).
template <typename T>
LOOM_HD void philox_normal4(std::uint64_t seed, std::uint64_t c, T z[4]) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "T is float or double");
  const PhiloxWords w = philox_words(seed, c, 0);
  double d[4];
  if constexpr (std::is_same_v<T, float>) {
    philox_box_muller<32>(w.v[0], w.v[1], &d[0], &d[1]);
    philox_box_muller<32>(w.v[2], w.v[3], &d[2], &d[3]);
  } else {
    const PhiloxWords w2 = philox_words(seed, c, 1);
    std::uint64_t k[4];
    for (int l = 0; l < 4; ++l) k[l] = (std::uint64_t{w.v[l]} << 21) | (w2.v[l] >> 11);
    philox_box_muller<53>(k[0], k[1], &d[0], &d[1]);
    philox_box_muller<53>(k[2], k[3], &d[2], &d[3]);
  }
  for (int l = 0; l < 4; ++l) z[l] = static_cast<T>(d[l]);
}

// Element i's [0, 1) uniform (one Philox call per element: for fused kernels that
// need a single value; a fill computes four at a time).
template <typename T>
LOOM_HD T philox_uniform_at(std::uint64_t seed, std::uint64_t offset, index_t i) {
  T u[4];
  philox_uniform4<T>(seed, offset + static_cast<std::uint64_t>(i / kPhiloxLanes), u);
  return u[i % kPhiloxLanes];
}

// Element i's standard normal.
template <typename T>
LOOM_HD T philox_normal_at(std::uint64_t seed, std::uint64_t offset, index_t i) {
  T z[4];
  philox_normal4<T>(seed, offset + static_cast<std::uint64_t>(i / kPhiloxLanes), z);
  return z[i % kPhiloxLanes];
}

// ---- the value transforms of the fills (shared so both devices round alike) ---------------

// low + range * u with range = high - low, in [low, high): a result that rounds up
// to high is mapped to low (as PyTorch's uniform_ does).
template <typename T>
LOOM_HD T philox_uniform_value(T u, T low, T range, T high) {
  const T v = philox_detail::fma_rn(range, u, low);
  return v == high ? low : v;
}

// mean + std * z.
template <typename T>
LOOM_HD T philox_normal_value(T z, T mean, T std) {
  return philox_detail::fma_rn(std, z, mean);
}

// Dropout: keep (value `scale` = 1 / (1 - p)) when u >= p, else 0. P(keep) = 1 - p
// to the uniform's resolution; p = 0 keeps all, p = 1 keeps none.
template <typename T>
LOOM_HD T philox_dropout_value(T u, T p, T scale) {
  return u >= p ? scale : T(0);
}

}  // namespace loom::kernels
