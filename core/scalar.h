// loom::Scalar: a C++ number given to a tensor operation, with the kind of
// number it was written as, so that it promotes as a Python scalar does in
// PyTorch (libtorch's c10::Scalar):
//   int64 tensor * 2    -> int64        (an integer scalar keeps an integer tensor)
//   int64 tensor * 2.5  -> float32      (a floating scalar gives the default dtype)
//   float32 tensor + 1e-300 (double) -> float32 (a scalar never widens a
//                                        floating tensor)
#pragma once

#include <cstdint>
#include <type_traits>

namespace loom {

class Scalar {
 public:
  enum class Kind : std::uint8_t { Bool, Integral, Floating };

  // Implicit from any C++ arithmetic type, like c10::Scalar: bool is Bool,
  // other integers are Integral, float/double are Floating.
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  Scalar(T v) {  // NOLINT: implicit by design
    if constexpr (std::is_same_v<T, bool>) {
      kind_ = Kind::Bool;
      i_ = v ? 1 : 0;
      d_ = v ? 1.0 : 0.0;
    } else if constexpr (std::is_integral_v<T>) {
      kind_ = Kind::Integral;
      i_ = static_cast<std::int64_t>(v);
      d_ = static_cast<double>(v);
    } else {
      kind_ = Kind::Floating;
      d_ = static_cast<double>(v);
      i_ = 0;
    }
  }

  Kind kind() const { return kind_; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_integral() const { return kind_ == Kind::Integral; }
  bool is_floating_point() const { return kind_ == Kind::Floating; }
  // The value as a double (exact for Floating and Bool; rounded beyond 2^53 for Integral).
  double to_double() const { return d_; }
  // The value as an int64 (Integral and Bool only; 0 for Floating).
  std::int64_t to_int64() const { return i_; }

 private:
  Kind kind_ = Kind::Integral;
  double d_ = 0;
  std::int64_t i_ = 0;
};

}  // namespace loom
