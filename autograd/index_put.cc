// index_put (contracts in autograd/indexing.h): the indexed positions come
// from index_plan, the writes are flat::put.
#include "autograd/flat_ops.h"
#include "autograd/index_plan.h"
#include "autograd/indexing.h"
#include "core/native.h"

namespace loom {

namespace {

// x with `values` (broadcast to the plan's shape) written at the plan's positions.
Tensor put_planned(const Tensor& x, const index_plan::Plan& plan, const Tensor& values, bool accumulate,
                   bool strip_leading_ones) {
  LOOM_CHECK(values.defined(), "index_put_: undefined values");
  LOOM_CHECK(values.dtype() == x.dtype(),
             "Index put requires the source and destination dtypes match, got {} for the destination and {} for the "
             "source.",
             scalar_type_name(x.dtype()), scalar_type_name(values.dtype()));
  LOOM_CHECK(values.device() == x.device(),
             "indices should be either on cpu or on the same device as the indexed tensor ({}); values are on {}",
             x.device(), values.device());
  Shape vshape = values.shape();
  if (strip_leading_ones)  // x[...] = v accepts extra leading 1s, as PyTorch's set_item
    while (vshape.size() > plan.shape.size() && vshape.front() == 1) vshape.erase(vshape.begin());
  // values' row-major strides aligned to the result, 0 where values broadcast.
  const std::size_t rank = plan.shape.size();
  bool fits = vshape.size() <= rank;
  std::vector<std::int64_t> aligned(rank, 0);
  const std::vector<std::int64_t> vs = index_plan::row_major_strides(vshape);
  for (std::size_t k = 0; fits && k < vshape.size(); ++k) {
    const std::int64_t v = vshape[k], r = plan.shape[rank - vshape.size() + k];
    fits = v == r || v == 1;
    if (v != 1) aligned[rank - vshape.size() + k] = vs[k];
  }
  LOOM_CHECK(fits, "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of shape {}",
             shape_str(values.shape()), shape_str(plan.shape));
  const std::vector<std::int64_t> rs = index_plan::row_major_strides(plan.shape);
  std::vector<std::int64_t> sources(plan.positions.size());
  for (std::size_t p = 0; p < sources.size(); ++p) {
    std::int64_t rest = static_cast<std::int64_t>(p), at = 0;
    for (std::size_t k = 0; k < rank; ++k) {
      at += rest / rs[k] * aligned[k];
      rest %= rs[k];
    }
    sources[p] = at;
  }
  return flat::put(x, plan.positions, values, sources, accumulate);
}

Tensor value_tensor(const Tensor& x, Scalar value) {
  LOOM_CHECK(x.defined(), "index_put_: undefined tensor");
  return native::to(native::full({}, value.to_double(), TensorOptions(kFloat64).device(x.device())), x.dtype());
}

}  // namespace

Tensor index_put(const Tensor& x, const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                 bool accumulate) {
  LOOM_CHECK(x.defined(), "index_put_: undefined tensor");
  return put_planned(x, index_plan::make(x.shape(), indices), values, accumulate, true);
}

Tensor index_put(const Tensor& x, std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                 bool accumulate) {
  return index_put(x, std::vector<indexing::TensorIndex>(indices), values, accumulate);
}

Tensor index_put(const Tensor& x, std::initializer_list<indexing::TensorIndex> indices, Scalar value) {
  return index_put(x, std::vector<indexing::TensorIndex>(indices), value_tensor(x, value), false);
}

Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  LOOM_CHECK(x.defined(), "index_put_: undefined tensor");
  return put_planned(x, index_plan::make(x.shape(), indices), values, accumulate, false);
}

}  // namespace loom
