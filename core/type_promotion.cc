#include "core/type_promotion.h"

#include <optional>

namespace loom {

namespace {

// 0 bool, 1 integer, 2 floating.
int category(DType t) {
  if (t == DType::Bool) return 0;
  if (is_floating(t)) return 2;
  return 1;
}

// uint8 < int32 < int64.
int integer_rank(DType t) { return t == DType::UInt8 ? 0 : t == DType::Int32 ? 1 : 2; }

// An unset slot of PyTorch's ResultTypeState is std::nullopt (ScalarType::Undefined).
using Slot = std::optional<DType>;

Slot promote_slot(Slot a, DType b) { return a ? promote_types(*a, b) : b; }

// PyTorch's combine_categories(higher, lower).
Slot combine_categories(Slot higher, Slot lower) {
  if (!higher) return lower;
  if (!lower) return higher;
  if (is_floating(*higher)) return higher;
  if (*higher == DType::Bool || is_floating(*lower)) return promote_types(*higher, *lower);
  return higher;
}

struct State {
  Slot dim, zero, wrapped;
  void add(const Tensor& t) {
    if (t.dim() > 0) dim = promote_slot(dim, t.dtype());
    else zero = promote_slot(zero, t.dtype());
  }
  void add(const Scalar& s) {
    DType t = s.is_floating_point() ? kDefaultFloatDType : s.is_bool() ? DType::Bool : DType::Int64;
    wrapped = promote_slot(wrapped, t);
  }
  DType result() const { return *combine_categories(dim, combine_categories(zero, wrapped)); }
};

}  // namespace

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  const int ca = category(a), cb = category(b);
  if (ca != cb) return ca > cb ? a : b;
  // Same category, different types. Integers: the wider wins (uint8 < int32
  // < int64; loom has no int8/int16, so no signed/unsigned mix needs a wider type).
  if (ca == 1) return integer_rank(a) > integer_rank(b) ? a : b;
  if (a == DType::Float64 || b == DType::Float64) return DType::Float64;
  return DType::Float32;  // float32 with a 16-bit type, or bfloat16 with float16
}

DType result_type(const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && b.defined(), "result_type: expected defined tensors");
  State s;
  s.add(a);
  s.add(b);
  return s.result();
}

DType result_type(const Tensor& a, const Scalar& b) {
  LOOM_CHECK(a.defined(), "result_type: expected a defined tensor");
  State s;
  s.add(a);
  s.add(b);
  return s.result();
}

bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != DType::Bool && to == DType::Bool) return false;
  return true;
}

}  // namespace loom
