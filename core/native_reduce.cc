// Reductions of loom::native: move the reduced dimensions last, view the
// tensor as [outer, inner] and reduce rows (kernels/reduce.h).
#include <algorithm>

#include "core/native.h"

namespace loom::native {

namespace {

// Sorted, wrapped, unique dims; empty input means all.
std::vector<bool> reduced_mask(const Tensor& x, const Shape& dims) {
  std::vector<bool> mask(x.dim(), dims.empty());
  for (auto d : dims) {
    std::int64_t w = x.wrap_dim(d);
    if (x.dim() == 0) continue;  // a 0-dim tensor accepts dim 0 / -1 and reduces nothing
    LOOM_CHECK(!mask[w] || dims.empty(), "dim {} appears multiple times in the list of dims", w);
    mask[w] = true;
  }
  return mask;
}

Tensor reduce(kernels::ReduceOp op, const Tensor& x, const std::vector<bool>& mask, bool keepdim,
              Tensor* indices) {
  if (is_reduced_float(x.dtype()))  // accumulate in float32, round once
    return to(reduce(op, to_opmath(x), mask, keepdim, indices), x.dtype());
  if (x.dtype() == kBool || x.dtype() == kInt32 || x.dtype() == kUInt8) {
    // Through int64, exactly: sum gives int64, as torch.sum of bool/int32/uint8;
    // max keeps the dtype (for bool an "or", false < true).
    Tensor wide = reduce(op, to(x, kInt64), mask, keepdim, indices);
    return op == kernels::ReduceOp::Sum ? wide : to(wide, x.dtype());
  }
  Shape order, out_shape, keep_shape;
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < x.dim(); ++d)
    if (!mask[d]) order.push_back(d), outer *= x.shape()[d];
  for (std::int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) order.push_back(d), inner *= x.shape()[d];
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (!mask[d]) out_shape.push_back(x.shape()[d]);
    keep_shape.push_back(mask[d] ? 1 : x.shape()[d]);
  }
  // Permute (a metadata change), then pack.
  Shape shape, strides;
  for (auto d : order) shape.push_back(x.shape()[d]), strides.push_back(x.strides()[d]);
  Tensor packed = contiguous(make_view(x, shape, strides, x.storage_offset()));
  Tensor out = empty(keepdim ? keep_shape : out_shape, TensorOptions(x.dtype()).device(x.device()));
  Tensor idx;
  if (indices) idx = empty(out.shape(), TensorOptions(kInt64).device(x.device()));
  if (outer > 0) {
    auto run = [&](auto tag) {
      using T = decltype(tag);
      auto* ip = indices ? static_cast<kernels::index_t*>(idx.data_ptr()) : nullptr;
      LOOM_DISPATCH_DEVICE(x.device(), reduce_rows, op, outer, inner,
                           static_cast<const T*>(packed.data_ptr()), static_cast<T*>(out.data_ptr()),
                           ip);
    };
    if (x.dtype() == kInt64) run(std::int64_t{});  // exact integer accumulation
    else dispatch_floating(x.dtype(), "reduction", run);
  }
  if (indices) *indices = idx;
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  return reduce(kernels::ReduceOp::Sum, x, reduced_mask(x, dims), keepdim, nullptr);
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  LOOM_CHECK(is_floating(x.dtype()),
             "mean(): could not infer output dtype. Input dtype must be either a floating point or "
             "complex dtype. Got: {}",
             scalar_type_name(x.dtype()));
  return reduce(kernels::ReduceOp::Mean, x, reduced_mask(x, dims), keepdim, nullptr);
}

std::pair<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, bool keepdim) {
  std::vector<bool> mask(x.dim(), false);
  if (x.dim() > 0) mask[x.wrap_dim(dim)] = true;
  else x.wrap_dim(dim);
  std::int64_t n = x.dim() > 0 ? x.shape()[x.wrap_dim(dim)] : 1;
  LOOM_CHECK(n > 0, "max(): Expected reduction dim {} to have non-zero size.", dim);
  Tensor indices;
  Tensor values = reduce(kernels::ReduceOp::Max, x, mask, keepdim, &indices);
  return {values, indices};
}

std::pair<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim) {
  if (is_floating(x.dtype())) {  // -max(-x): NaN stays NaN and wins, as torch.min
    auto [values, indices] = max(unary(UnaryOp::Neg, x), dim, keepdim);
    return {unary(UnaryOp::Neg, values), indices};
  }
  // Integers and bool: through int64, where -1 - v (the bitwise complement)
  // reverses the order exactly and keeps ties, so the first minimum's index.
  Tensor minus_one = full({}, -1, TensorOptions(kInt64).device(x.device()));
  Tensor flipped = binary(BinaryOp::Sub, minus_one, to(x, kInt64));
  auto [values, indices] = max(flipped, dim, keepdim);
  return {to(binary(BinaryOp::Sub, minus_one, values), x.dtype()), indices};
}

Tensor cumsum_integral(const Tensor& x, std::int64_t dim) {
  LOOM_CHECK(!is_floating(x.dtype()), "cumsum_integral: expected an integer or bool tensor, got {}",
             x.dtype());
  Tensor y = clone(to(x, kInt64));  // contiguous, its own storage
  if (y.dim() == 0) return y;
  const std::int64_t d = y.wrap_dim(dim), n = y.size(d), stride = y.stride(d);
  // Hillis-Steele: after the step with shift s, y[j] holds the sum of the
  // 2s elements ending at j. Exact (wrapping) integer adds, on any device.
  for (std::int64_t s = 1; s < n; s *= 2) {
    Shape part = y.shape();
    part[d] = n - s;
    Tensor head = make_view(y, part, y.strides(), y.storage_offset());
    Tensor tail = make_view(y, part, y.strides(), y.storage_offset() + s * stride);
    copy_(tail, binary(BinaryOp::Add, tail, head));  // the sum is a new tensor: reads precede writes
  }
  return y;
}

}  // namespace loom::native
