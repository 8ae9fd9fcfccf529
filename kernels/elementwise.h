// Elementwise kernels over strided, broadcast operands; the math of each
// operation is written once (unary_apply, binary_apply, compare_apply) and used
// by the CPU reference and the CUDA kernels alike.
//
// Every output is contiguous [n]; inputs are read through an OffsetCalc that
// maps the output's flat index to each input's element offset (a broadcast
// dimension has stride 0), so no operand is ever materialised.
#pragma once

#include <cmath>
#include <type_traits>

#include "kernels/common.h"
#include "kernels/half.h"

namespace loom::kernels {

constexpr int kMaxDims = 8;

// Maps a flat index over `sizes` (row-major) to an element offset per operand.
template <int NArgs>
struct OffsetCalc {
  int ndim = 0;
  index_t sizes[kMaxDims] = {};
  index_t strides[NArgs][kMaxDims] = {};

  LOOM_HD void offsets(index_t linear, index_t* out) const {
    for (int k = 0; k < NArgs; ++k) out[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      index_t i = linear % sizes[d];
      linear /= sizes[d];
      for (int k = 0; k < NArgs; ++k) out[k] += i * strides[k][d];
    }
  }
};

enum class UnaryOp : int {
  Neg, Exp, Log, Tanh, Sigmoid, Relu, Sqrt, Abs, Sign, Square, Reciprocal,
  Step,        // x <= 0 ? 0 : 1   (relu's derivative from its output; NaN -> 1 as PyTorch)
  AddScalar,   // x + alpha
  MulScalar,   // x * alpha
  PowScalar,   // x ^ alpha
  RSubScalar,  // alpha - x
  ClampMin,    // max(x, alpha)
  ClampMax,    // min(x, alpha)
  Erf,         // the error function
};

enum class BinaryOp : int { Add, Sub, Mul, Div, Pow, Maximum, Minimum };
enum class CompareOp : int { Eq, Ne, Lt, Le, Gt, Ge };

template <typename T>
LOOM_HD T unary_apply(UnaryOp op, T x, T alpha) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return log(x);
    case UnaryOp::Tanh: return tanh(x);
    case UnaryOp::Sigmoid: return T(1) / (T(1) + exp(-x));
    case UnaryOp::Relu: return x <= T(0) ? T(0) : x;  // NaN stays NaN, as torch.relu
    case UnaryOp::Sqrt: return sqrt(x);
    case UnaryOp::Abs: return x < T(0) ? -x : x;
    case UnaryOp::Sign: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::Square: return x * x;
    case UnaryOp::Reciprocal: return T(1) / x;
    case UnaryOp::Step: return x <= T(0) ? T(0) : T(1);  // NaN: 1, as threshold_backward
    case UnaryOp::AddScalar: return x + alpha;
    case UnaryOp::MulScalar: return x * alpha;
    case UnaryOp::PowScalar: return pow(x, alpha);
    case UnaryOp::RSubScalar: return alpha - x;
    case UnaryOp::ClampMin: return x < alpha ? alpha : x;
    case UnaryOp::ClampMax: return x > alpha ? alpha : x;
    case UnaryOp::Erf: return erf(x);
  }
  return x;
}

// Integer arithmetic as PyTorch's int64 kernels: wrapping on overflow (done in
// unsigned arithmetic, so never undefined), pow by squaring with a negative
// exponent giving 1, -1 or 0 (base 1, -1 or other), and a division guarded
// against x / 0 and INT64_MIN / -1 (loom divides integers only after
// promoting them to floating, as torch.div; the guard keeps the kernel total).
template <typename T>
LOOM_HD T integer_binary_apply(BinaryOp op, T a, T b) {
  using U = unsigned long long;
  switch (op) {
    case BinaryOp::Add: return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    case BinaryOp::Sub: return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
    case BinaryOp::Mul: return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
    case BinaryOp::Div:
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return static_cast<T>(U(0) - static_cast<U>(a));
      return static_cast<T>(a / b);
    case BinaryOp::Pow: {
      if constexpr (std::is_signed_v<T>)
        if (b < 0) return a == 1 ? T(1) : a == T(-1) ? ((b & 1) ? T(-1) : T(1)) : T(0);
      U result = 1, base = static_cast<U>(a);
      for (T e = b; e > 0; e >>= 1) {
        if (e & 1) result *= base;
        base *= base;
      }
      return static_cast<T>(result);
    }
    case BinaryOp::Maximum: return a > b ? a : b;
    case BinaryOp::Minimum: return a < b ? a : b;
  }
  return a;
}

template <typename T>
LOOM_HD T binary_apply(BinaryOp op, T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return integer_binary_apply(op, a, b);
  } else {
    switch (op) {
      case BinaryOp::Add: return a + b;
      case BinaryOp::Sub: return a - b;
      case BinaryOp::Mul: return a * b;
      case BinaryOp::Div: return a / b;
      case BinaryOp::Pow: return pow(a, b);
      case BinaryOp::Maximum: return a > b ? a : b;
      case BinaryOp::Minimum: return a < b ? a : b;
    }
    return a;
  }
}

template <typename T>
LOOM_HD bool compare_apply(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::Eq: return a == b;
    case CompareOp::Ne: return a != b;
    case CompareOp::Lt: return a < b;
    case CompareOp::Le: return a <= b;
    case CompareOp::Gt: return a > b;
    case CompareOp::Ge: return a >= b;
  }
  return false;
}

// The element functions of the kernels below, for every storage type T: a
// 16-bit T computes in float (opmath_t<T>) and rounds once when stored.
// alpha (the scalar of AddScalar, MulScalar, ...) stays in opmath_t<T>, unrounded.
template <typename T>
LOOM_HD T unary_element(UnaryOp op, T x, opmath_t<T> alpha) {
  using M = opmath_t<T>;
  return convert<T>(unary_apply<M>(op, static_cast<M>(x), alpha));
}
template <typename T>
LOOM_HD T binary_element(BinaryOp op, T a, T b) {
  using M = opmath_t<T>;
  return convert<T>(binary_apply<M>(op, static_cast<M>(a), static_cast<M>(b)));
}
template <typename T>
LOOM_HD bool compare_element(CompareOp op, T a, T b) {
  if constexpr (is_reduced_float_v<T>) return compare_apply<float>(op, a, b);
  else return compare_apply<T>(op, a, b);
}

// ---- CPU reference ---------------------------------------------------------
// T: float, double, bfloat16, float16. y: [n] contiguous; x read through `in`.
template <typename T>
void unary_cpu(UnaryOp op, opmath_t<T> alpha, index_t n, const OffsetCalc<1>& in, const T* x, T* y);
// T: float, double, bfloat16, float16, int64_t, int32_t, uint8_t (integer_binary_apply).
// out: [n]; a, b read through `in` (operand 0 = a, 1 = b).
template <typename T>
void binary_cpu(BinaryOp op, index_t n, const OffsetCalc<2>& in, const T* a, const T* b, T* out);
// T: float, double, int64_t, int32_t, uint8_t, bool, bfloat16, float16. out: [n].
template <typename T>
void compare_cpu(CompareOp op, index_t n, const OffsetCalc<2>& in, const T* a, const T* b, bool* out);
// out[i] = cond ? a : b; operands 0 = cond, 1 = a, 2 = b. T: any dtype.
template <typename T>
void where_cpu(index_t n, const OffsetCalc<3>& in, const bool* cond, const T* a, const T* b, T* out);
// dst[offset_1(i)] = convert<To>(src[offset_0(i)]): strided copy with
// conversion (kernels/half.h), From and To any of the eight element types.
template <typename From, typename To>
void copy_cpu(index_t n, const OffsetCalc<2>& in, const From* src, To* dst);
// out[i] = value, out: [n].
template <typename T>
void fill_cpu(index_t n, T value, T* out);
// out[i] = start + i * step, out: [n].
template <typename T>
void arange_cpu(index_t n, double start, double step, T* out);

#if defined(LOOM_WITH_CUDA)
// ---- CUDA: the same contracts on device pointers, on loom's stream ----------
template <typename T>
void unary_cuda(UnaryOp op, opmath_t<T> alpha, index_t n, const OffsetCalc<1>& in, const T* x, T* y);
template <typename T>
void binary_cuda(BinaryOp op, index_t n, const OffsetCalc<2>& in, const T* a, const T* b, T* out);
template <typename T>
void compare_cuda(CompareOp op, index_t n, const OffsetCalc<2>& in, const T* a, const T* b, bool* out);
template <typename T>
void where_cuda(index_t n, const OffsetCalc<3>& in, const bool* cond, const T* a, const T* b, T* out);
template <typename From, typename To>
void copy_cuda(index_t n, const OffsetCalc<2>& in, const From* src, To* dst);
template <typename T>
void fill_cuda(index_t n, T value, T* out);
template <typename T>
void arange_cuda(index_t n, double start, double step, T* out);
#endif

}  // namespace loom::kernels
