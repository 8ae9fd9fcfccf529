// masked_fill with a tensor value and where with C++ numbers (contracts in
// autograd/functions.h), over the differentiable where.
#include "autograd/functions.h"
#include "core/native.h"
#include "core/type_promotion.h"

namespace loom {

namespace {

// A 0-D tensor holding `value` as `dtype`, on `device`.
Tensor number(Scalar value, DType dtype, Device device) {
  return native::to(native::full({}, value.to_double(), TensorOptions(kFloat64).device(device)), dtype);
}

DType two_numbers_dtype(Scalar a, Scalar b) {
  if (a.is_floating_point() || b.is_floating_point()) return kDefaultFloatDType;
  if (a.is_integral() || b.is_integral()) return kInt64;
  return kBool;
}

}  // namespace

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value) {
  LOOM_CHECK(x.defined() && mask.defined() && value.defined(), "masked_fill: undefined tensor");
  LOOM_CHECK(mask.dtype() == kBool, "masked_fill_ only supports boolean masks, but got mask with dtype {}",
             mask.dtype());
  LOOM_CHECK(value.dim() == 0,
             "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
             value.dim());
  const Shape shape = native::broadcast_shapes(x.shape(), mask.shape());
  LOOM_CHECK(shape == x.shape(), "masked_fill: mask of shape {} cannot be broadcast to {}", shape_str(mask.shape()),
             shape_str(x.shape()));
  Tensor v = value;
  if (v.device() != x.device()) v = to(v, x.device());
  if (v.dtype() != x.dtype()) v = to(v, x.dtype());
  return where(mask, v, x);
}

Tensor where(const Tensor& cond, const Tensor& a, Scalar b) {
  const DType dtype = result_type(a, b);
  return where(cond, a.dtype() == dtype ? a : to(a, dtype), number(b, dtype, a.device()));
}

Tensor where(const Tensor& cond, Scalar a, const Tensor& b) {
  const DType dtype = result_type(b, a);
  return where(cond, number(a, dtype, b.device()), b.dtype() == dtype ? b : to(b, dtype));
}

Tensor where(const Tensor& cond, Scalar a, Scalar b) {
  const DType dtype = two_numbers_dtype(a, b);
  return where(cond, number(a, dtype, cond.device()), number(b, dtype, cond.device()));
}

}  // namespace loom
