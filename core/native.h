// loom::native: plain tensor operations without autograd. Each checks its
// arguments, allocates the result and dispatches to kernels/ by device
// (kernels::*_cpu or kernels::*_cuda). The differentiable functions in
// autograd/ are built from these.
#pragma once

#include "core/tensor.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace loom::native {

using kernels::BinaryOp;
using kernels::CompareOp;
using kernels::UnaryOp;

// ---- movement ------------------------------------------------------------------
// Copies src into dst elementwise, broadcasting src to dst's shape, converting the
// dtype and crossing devices as needed. dst may be any strided view.
void copy_(const Tensor& dst, const Tensor& src);
// x itself when already contiguous, else a contiguous copy.
Tensor contiguous(const Tensor& x);
// A contiguous copy (always new storage).
Tensor clone(const Tensor& x);
// x itself when already on `device`/of `dtype`, else a converted contiguous copy.
Tensor to(const Tensor& x, Device device);
Tensor to(const Tensor& x, DType dtype);

// ---- factories -------------------------------------------------------------------
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
// Sets every element of x (any view) to value.
void fill_(const Tensor& x, double value);
// [start, end) with `step`, as torch.arange (for integer dtypes start and
// step are truncated first: arange(0, 5, 1.5, kInt32) is [0, 1, 2, 3]).
Tensor arange(double start, double end, double step = 1, TensorOptions options = {});

// ---- elementwise -------------------------------------------------------------------
// The broadcast shape of a and b (PyTorch's rules); throws loom::Error naming both.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// op(x, alpha) for every element; floating dtypes.
Tensor unary(UnaryOp op, const Tensor& x, double alpha = 0);
// op(a, b) with broadcasting; same dtype and device required; floating dtypes
// and int64/int32/uint8 (wrapping integer math; callers promote before Div).
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// Bool tensor of op(a, b) with broadcasting.
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);
// cond ? a : b with broadcasting over all three; cond is Bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- reductions (fixed order: deterministic) -------------------------------------
// Sum over `dims` (empty: every dimension); keepdim keeps them with size 1.
// Bool and integer (int64, int32, uint8) inputs sum exactly into Int64, as torch.sum.
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
// Floating dtypes only (PyTorch's "mean(): could not infer output dtype" otherwise).
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
// Maximum along dim: values (x's dtype) and Int64 indices of the first
// maximum. Any dtype compares by value; Bool as false < true.
std::pair<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, bool keepdim = false);

// Minimum along dim: values (x's dtype) and Int64 indices of the first
// minimum, any dtype (NaN counts as the minimum, as torch.min).
std::pair<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim = false);
// Running sums along dim of an integer or bool tensor, exactly into Int64
// (wrapping on overflow), as torch.cumsum of integer/bool tensors.
Tensor cumsum_integral(const Tensor& x, std::int64_t dim);

// x converted to float32 when it is bfloat16/float16, else x itself. Ops
// without a 16-bit kernel compute on this and round their result once
// (to(result, x.dtype())), as PyTorch computes in float for these types.
Tensor to_opmath(const Tensor& x);

// Checks that tensors agree on dtype and device; `op` names the operation.
void check_same_dtype_device(const char* op, const Tensor& a, const Tensor& b);

// Throws "<op>: loom was built without CUDA support".
[[noreturn]] void fail_no_cuda(const char* op);

// Calls fn(T{}) with T = float, double, int64_t, bool, bfloat16, float16,
// int32_t or uint8_t for t.
template <typename Fn>
decltype(auto) dispatch_all(DType t, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int64: return fn(std::int64_t{});
    case DType::Bool: return fn(bool{});
    case DType::BFloat16: return fn(bfloat16{});
    case DType::Float16: return fn(float16{});
    case DType::Int32: return fn(std::int32_t{});
    case DType::UInt8: return fn(std::uint8_t{});
  }
  fail("unknown dtype");
}

}  // namespace loom::native

// LOOM_DISPATCH_DEVICE(device, name, args...) calls kernels::name_cuda(args...)
// for a CUDA device and kernels::name_cpu(args...) otherwise (template
// arguments are deduced from the pointer arguments).
#if defined(LOOM_WITH_CUDA)
#define LOOM_DISPATCH_DEVICE(device, name, ...)                           \
  do {                                                                    \
    if ((device).is_cuda()) ::loom::kernels::name##_cuda(__VA_ARGS__);    \
    else ::loom::kernels::name##_cpu(__VA_ARGS__);                        \
  } while (0)
#else
#define LOOM_DISPATCH_DEVICE(device, name, ...)                           \
  do {                                                                    \
    if ((device).is_cuda()) ::loom::native::fail_no_cuda(#name);          \
    else ::loom::kernels::name##_cpu(__VA_ARGS__);                        \
  } while (0)
#endif

namespace loom::native {

}  // namespace loom::native
