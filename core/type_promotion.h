// PyTorch's type promotion for loom's dtypes (torch.promote_types,
// torch.result_type, torch.can_cast).
//
// Categories rank bool < integer < floating. Between two tensors of one
// category the wider type wins (float32 + float64 -> float64; bfloat16 +
// float16 -> float32; uint8 + int32 -> int32; int32 + int64 -> int64); a
// higher category wins (int64 + bfloat16 -> bfloat16; bool + uint8 -> uint8).
// In result_type, a tensor with dimensions outranks a 0-dim tensor, which
// outranks a Scalar, unless the lower-ranked operand is of a higher category:
//   float32 [3] + float64 0-dim -> float32;   int64 [3] + float64 0-dim -> float64;
//   int64 [3] * 2.5 (floating Scalar) -> float32 (the default dtype);
//   int32 [3] + 2 (integral Scalar) -> int32;  uint8 [3] + true -> uint8.
#pragma once

#include "core/dtype.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace loom {

// The dtype PyTorch gives to floating Scalars and to true division of integers.
inline constexpr DType kDefaultFloatDType = DType::Float32;

// torch.promote_types(a, b): the smallest dtype both convert to in their category order.
DType promote_types(DType a, DType b);
// torch.result_type(a, b) for two tensors (0-dim tensors count as described above).
DType result_type(const Tensor& a, const Tensor& b);
// torch.result_type(a, b) for a tensor and a Python-like Scalar.
DType result_type(const Tensor& a, const Scalar& b);
// torch.can_cast(from, to): false from floating to integer/bool and from
// integer to bool (an in-place result that cannot be stored in its output).
bool can_cast(DType from, DType to);

}  // namespace loom
