// Element types. Floating types carry gradients; Int64 holds indices (targets,
// embedding ids, lengths, argmax) and Bool holds masks, as in PyTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace loom {

enum class DType : std::uint8_t { Float32, Float64, Int64, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

// Bytes per element.
constexpr std::size_t element_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

// PyTorch's spelling: "float32", "float64", "int64", "bool".
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

// PyTorch's ScalarType name, as its error messages print it: "Float",
// "Double", "Long", "Bool" (e.g. "expected scalar type Long but found Float";
// CPU tensor types are "torch.<name>Tensor").
constexpr std::string_view scalar_type_name(DType t) {
  switch (t) {
    case DType::Float32: return "Float";
    case DType::Float64: return "Double";
    case DType::Int64: return "Long";
    case DType::Bool: return "Bool";
  }
  return "?";
}

// True for the types autograd differentiates.
constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

// The DType of a C++ element type.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// Calls fn(T{}) with T = float or double for a floating dtype; throws for others.
// `what` names the operation in the error message.
template <typename Fn>
decltype(auto) dispatch_floating(DType t, const char* what, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    default: break;
  }
  fail("{}: expected a floating dtype (float32 or float64), got {}", what, dtype_name(t));
}

}  // namespace loom

template <>
struct fmt::formatter<loom::DType> : fmt::formatter<std::string_view> {
  auto format(loom::DType t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(loom::dtype_name(t), ctx);
  }
};
