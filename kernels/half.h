// loom's two 16-bit floating types, usable on the host and in CUDA kernels:
//
//   loom::bfloat16  1 sign, 8 exponent, 7 mantissa bits (torch.bfloat16)
//   loom::float16   1 sign, 5 exponent, 10 mantissa bits, IEEE binary16 (torch.float16)
//
// Each is a 2-byte struct holding the raw bits, with the same size, alignment
// and bit layout as CUDA's __nv_bfloat16 / __half (checked by static_asserts in
// kernels/cuda/half_compat.cu), so a kernel may reinterpret a pointer to one as
// a pointer to the other.
//
// Conversions (the only math these types have; the CPU and CUDA share it):
//   from float: round to nearest, ties to even; overflow gives +-inf; float16
//     has subnormals (down to 2^-24), bfloat16 keeps float's exponent range;
//     a NaN stays a NaN of the same sign (quiet bit set, top payload bits kept);
//   to float: exact.
// Every other arithmetic goes through float: `a + b` of two bfloat16 is a float
// (implicit conversion), and kernels compute in opmath_t<T> (float for both) and
// round once when they store, as PyTorch does.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/common.h"

namespace loom {

namespace half_bits {

// The bits of a float and back (memcpy on the host, intrinsics on the device).
LOOM_HD std::uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

LOOM_HD float bits_to_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// float -> bfloat16 bits, round to nearest even; NaN keeps its sign and top
// payload bits and gets the quiet bit (so it never rounds into inf).
LOOM_HD std::uint16_t bf16_from_float(float f) {
  std::uint32_t x = float_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
  std::uint32_t bias = 0x7fffu + ((x >> 16) & 1u);  // ties go to the even neighbour
  return static_cast<std::uint16_t>((x + bias) >> 16);
}

// bfloat16 bits -> float (exact: bfloat16 is float's top half).
LOOM_HD float bf16_to_float(std::uint16_t h) { return bits_to_float(static_cast<std::uint32_t>(h) << 16); }

// float -> IEEE binary16 bits, round to nearest even, with subnormals, overflow
// to +-inf; NaN keeps its sign and top payload bits and gets the quiet bit.
LOOM_HD std::uint16_t f16_from_float(float f) {
  std::uint32_t x = float_to_bits(f);
  std::uint32_t sign = (x >> 16) & 0x8000u;
  std::uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  // 0x477ff000 = 65520, the midpoint between the largest half 65504 and 2^16:
  // a tie that goes to the even neighbour 2^16, which is out of range (inf).
  if (ax >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (ax >= 0x38800000u) {  // >= 2^-14: a normal half
    std::uint32_t r = ax - 0x38000000u;  // rebias the exponent 127 -> 15 (112 << 23)
    r += 0x0fffu + ((r >> 13) & 1u);     // round the 13 dropped bits to nearest even
    return static_cast<std::uint16_t>(sign | (r >> 13));
  }
  // A half subnormal (or zero): the value in units of 2^-24, rounded to even.
  std::uint32_t e = ax >> 23;
  if (e < 102) return static_cast<std::uint16_t>(sign);  // < 2^-25: rounds to zero
  std::uint32_t mant = (ax & 0x7fffffu) | 0x800000u;     // value = mant * 2^(e - 150)
  std::uint32_t shift = 126u - e;                         // 14 .. 24
  std::uint32_t q = mant >> shift;
  std::uint32_t rem = mant & ((1u << shift) - 1u);
  std::uint32_t halfway = 1u << (shift - 1u);
  if (rem > halfway || (rem == halfway && (q & 1u))) ++q;  // may carry into the smallest normal
  return static_cast<std::uint16_t>(sign | q);
}

// IEEE binary16 bits -> float (exact; NaN payload kept).
LOOM_HD float f16_to_float(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t e = (h >> 10) & 0x1fu;
  std::uint32_t m = h & 0x3ffu;
  if (e == 0x1f) return bits_to_float(sign | 0x7f800000u | (m << 13));
  if (e != 0) return bits_to_float(sign | ((e + 112u) << 23) | (m << 13));
  if (m == 0) return bits_to_float(sign);
  std::uint32_t exp = 113;  // normalise the subnormal: value = m * 2^-24
  while ((m & 0x400u) == 0) {
    m <<= 1;
    --exp;
  }
  return bits_to_float(sign | (exp << 23) | ((m & 0x3ffu) << 13));
}

}  // namespace half_bits

// torch.bfloat16. Construct from a float (rounds) or from raw bits.
struct alignas(2) bfloat16 {
  std::uint16_t bits = 0;

  bfloat16() = default;
  LOOM_HD explicit bfloat16(float f) : bits(half_bits::bf16_from_float(f)) {}
  // The value with exactly these bits.
  LOOM_HD static bfloat16 from_bits(std::uint16_t b) {
    bfloat16 h;
    h.bits = b;
    return h;
  }
  LOOM_HD operator float() const { return half_bits::bf16_to_float(bits); }  // NOLINT: exact
};

// torch.float16 (IEEE binary16). Construct from a float (rounds) or from raw bits.
struct alignas(2) float16 {
  std::uint16_t bits = 0;

  float16() = default;
  LOOM_HD explicit float16(float f) : bits(half_bits::f16_from_float(f)) {}
  LOOM_HD static float16 from_bits(std::uint16_t b) {
    float16 h;
    h.bits = b;
    return h;
  }
  LOOM_HD operator float() const { return half_bits::f16_to_float(bits); }  // NOLINT: exact
};

static_assert(sizeof(bfloat16) == 2 && alignof(bfloat16) == 2);
static_assert(sizeof(float16) == 2 && alignof(float16) == 2);
static_assert(std::is_trivially_copyable_v<bfloat16> && std::is_trivially_copyable_v<float16>);

// True for bfloat16 and float16.
template <typename T>
inline constexpr bool is_reduced_float_v = std::is_same_v<T, bfloat16> || std::is_same_v<T, float16>;

// The type a kernel computes in for elements of type T: float for the 16-bit
// types (rounded once on store), T itself otherwise (PyTorch's opmath_type).
template <typename T>
struct opmath {
  using type = T;
};
template <> struct opmath<bfloat16> { using type = float; };
template <> struct opmath<float16> { using type = float; };
template <typename T>
using opmath_t = typename opmath<T>::type;

// A floating value truncated toward zero to the signed integer type I, as
// x86's cvttss2si/cvttsd2si (what PyTorch's CPU casts compile to): NaN and
// values outside I's range give I's minimum. Defined for every input (a plain
// static_cast is undefined behaviour out of range).
template <typename I, typename F>
LOOM_HD I truncate_to_signed(F x) {
  constexpr F lo = -static_cast<F>(static_cast<unsigned long long>(1) << (sizeof(I) * 8 - 1));
  // lo is -2^(bits-1) exactly; the range is [lo, -lo).
  if (!(x >= lo && x < -lo)) return static_cast<I>(static_cast<unsigned long long>(1) << (sizeof(I) * 8 - 1));
  return static_cast<I>(x);
}

// Converts between any two element types of loom (float, double, int64_t,
// int32_t, uint8_t, bool, bfloat16, float16) as PyTorch 1.13's CPU casts do:
//   - to a 16-bit type through float (a double is rounded to float first, as
//     torch does), from one through its exact float value;
//   - floating to integer truncates toward zero; NaN and out-of-range values
//     give the minimum of int64 (to int64) or of int32 (to int32, and to uint8
//     through int32: -1.5 -> 255, 300.7 -> 44, NaN -> 0);
//   - integer to a narrower integer wraps (two's complement): 300 -> uint8 44;
//   - to bool: x != 0 (NaN is true).
template <typename To, typename From>
LOOM_HD To convert(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (is_reduced_float_v<To>) {
    if constexpr (std::is_same_v<From, bool>) return To(x ? 1.0f : 0.0f);
    else return To(static_cast<float>(x));
  } else if constexpr (is_reduced_float_v<From>) {
    return convert<To>(static_cast<float>(x));
  } else if constexpr (std::is_same_v<To, bool>) {
    return x != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    if constexpr (sizeof(To) == 8) return static_cast<To>(truncate_to_signed<long long>(x));
    else return static_cast<To>(truncate_to_signed<int>(x));  // int32; uint8 wraps from int32
  } else if constexpr (std::is_integral_v<To> && std::is_integral_v<From> && !std::is_same_v<From, bool>) {
    // Wrap modulo 2^bits (well defined through the unsigned type since C++20).
    return static_cast<To>(static_cast<std::make_unsigned_t<To>>(static_cast<unsigned long long>(x)));
  } else {
    return static_cast<To>(x);
  }
}

#if defined(LOOM_WITH_CUDA)
namespace kernels {
// For tests: for each x[i] (device pointers, [n]), out[i] = (loom's bfloat16
// bits XOR __float2bfloat16_rn's) << 16 | (loom's float16 bits XOR
// __float2half_rn's): zero where loom and CUDA round alike.
void compare_half_rounding_with_cuda(std::int64_t n, const float* x, std::uint32_t* out);
}  // namespace kernels
#endif

}  // namespace loom
