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
  if (x.dtype() == kBool) {  // sum counts into int64; max is an "or" (false < true)
    Tensor wide = reduce(op, to(x, kInt64), mask, keepdim, indices);
    return op == kernels::ReduceOp::Sum ? wide : to(wide, kBool);
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

}  // namespace loom::native
