// Element types. Floating types carry gradients; Int64 holds indices (targets,
// embedding ids, lengths, argmax) and Bool holds masks, as in PyTorch; Int32
// and UInt8 are PyTorch's torch.int32 ("Int") and torch.uint8 ("Byte").
// BFloat16 and Float16 are stored in 2 bytes (loom::bfloat16 / loom::float16,
// kernels/half.h) and computed in float32: every op converts to float, does
// the math and rounds once when it stores, as PyTorch does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "kernels/half.h"

namespace loom {

// New types are appended: the numeric values are never reused.
enum class DType : std::uint8_t { Float32, Float64, Int64, Bool, BFloat16, Float16, Int32, UInt8 };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;
inline constexpr DType kBFloat16 = DType::BFloat16;  // torch.bfloat16
inline constexpr DType kFloat16 = DType::Float16;    // torch.float16 (torch.half)
inline constexpr DType kInt32 = DType::Int32;        // torch.int32 (torch.int)
inline constexpr DType kUInt8 = DType::UInt8;        // torch.uint8

// Bytes per element.
constexpr std::size_t element_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
    case DType::BFloat16: return 2;
    case DType::Float16: return 2;
    case DType::Int32: return 4;
    case DType::UInt8: return 1;
  }
  return 0;
}

// PyTorch's spelling: "float32", "float64", "int64", "bool", "bfloat16",
// "float16", "int32", "uint8".
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
    case DType::BFloat16: return "bfloat16";
    case DType::Float16: return "float16";
    case DType::Int32: return "int32";
    case DType::UInt8: return "uint8";
  }
  return "?";
}

// PyTorch's ScalarType name, as its error messages print it: "Float",
// "Double", "Long", "Bool", "BFloat16", "Half", "Int", "Byte" (e.g. "expected scalar type Long but found Float";
// CPU tensor types are "torch.<name>Tensor").
constexpr std::string_view scalar_type_name(DType t) {
  switch (t) {
    case DType::Float32: return "Float";
    case DType::Float64: return "Double";
    case DType::Int64: return "Long";
    case DType::Bool: return "Bool";
    case DType::BFloat16: return "BFloat16";
    case DType::Float16: return "Half";
    case DType::Int32: return "Int";
    case DType::UInt8: return "Byte";
  }
  return "?";
}

// True for the types autograd differentiates.
constexpr bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::BFloat16 || t == DType::Float16;
}

// True for the integer types (int64, int32, uint8; not bool), as PyTorch's
// isIntegralType(t, /*includeBool=*/false).
constexpr bool is_integral(DType t) {
  return t == DType::Int64 || t == DType::Int32 || t == DType::UInt8;
}

// True for the 16-bit floating types, which compute in float32.
constexpr bool is_reduced_float(DType t) { return t == DType::BFloat16 || t == DType::Float16; }

// The DType of a C++ element type.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::BFloat16; }
template <> constexpr DType dtype_of<float16>() { return DType::Float16; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::UInt8; }

// Calls fn(T{}) with T = float or double for float32/float64; throws for
// others (the 16-bit types included: an op that supports them converts to
// float32 before it dispatches, or uses dispatch_floating_and_half).
// `what` names the operation in the error message.
template <typename Fn>
decltype(auto) dispatch_floating(DType t, const char* what, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    default: break;
  }
  if (is_reduced_float(t)) fail("{}: dtype {} is not supported (expected float32 or float64)", what, t);
  fail("{}: expected a floating dtype (float32, float64, bfloat16 or float16), got {}", what,
       dtype_name(t));
}

// Calls fn(T{}) with T = float, double, bfloat16 or float16; throws for others.
template <typename Fn>
decltype(auto) dispatch_floating_and_half(DType t, const char* what, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::BFloat16: return fn(bfloat16{});
    case DType::Float16: return fn(float16{});
    default: break;
  }
  fail("{}: expected a floating dtype (float32, float64, bfloat16 or float16), got {}", what, dtype_name(t));
}

}  // namespace loom

template <>
struct fmt::formatter<loom::DType> : fmt::formatter<std::string_view> {
  auto format(loom::DType t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(loom::dtype_name(t), ctx);
  }
};
