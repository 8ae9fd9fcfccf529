// scatter and scatter_add (contracts in autograd/indexing.h): the write
// positions are computed on the host, the writes are flat::put.
#include <string>

#include "autograd/flat_ops.h"
#include "autograd/index_plan.h"
#include "autograd/indexing.h"
#include "core/native.h"

namespace loom {

namespace {

// For each element of index (row-major): its flat position in x (index's
// coordinates with coordinate `dim` replaced by the index value) and in src
// (index's coordinates). src_shape is null for the value form. Checks as
// PyTorch's scatter_gather_dtype_check / scatter_shape_check, in its words.
struct Writes {
  std::vector<std::int64_t> targets, sources;
};
Writes scatter_writes(const char* op, const Tensor& x, std::int64_t dim, const Tensor& index, const Shape* src_shape) {
  LOOM_CHECK(index.defined(), "{}: undefined index", op);
  LOOM_CHECK(index.dtype() == kInt64, "{}(): Expected dtype int64 for index", op);
  LOOM_CHECK(index.device() == x.device(), "{}: index is on {} but self is on {}", op, index.device(), x.device());
  const std::int64_t rank = std::max<std::int64_t>(x.dim(), 1);  // a 0-D tensor counts as 1-D, as PyTorch
  LOOM_CHECK(std::max<std::int64_t>(index.dim(), 1) == rank,
             "Index tensor must have the same number of dimensions as self tensor");
  LOOM_CHECK(src_shape == nullptr || std::max<std::int64_t>(static_cast<std::int64_t>(src_shape->size()), 1) == rank,
             "Index tensor must have the same number of dimensions as src tensor");
  const std::int64_t d = x.wrap_dim(dim);
  const Shape xs = x.dim() == 0 ? Shape{1} : x.shape();
  const Shape is = index.dim() == 0 ? Shape{1} : index.shape();
  const Shape ss = src_shape == nullptr ? Shape{} : (src_shape->empty() ? Shape{1} : *src_shape);
  for (std::int64_t k = 0; k < rank; ++k) {
    const auto u = static_cast<std::size_t>(k);
    const bool fits_self = k == d || is[u] <= xs[u], fits_src = src_shape == nullptr || is[u] <= ss[u];
    if (src_shape == nullptr)
      LOOM_CHECK(fits_self, "Expected index {} to be smaller than self {} apart from dimension {}", shape_str(is),
                 shape_str(xs), d);
    else
      LOOM_CHECK(fits_self && fits_src,
                 "Expected index {} to be smaller than self {} apart from dimension {} and to be smaller size than "
                 "src {}",
                 shape_str(is), shape_str(xs), d, shape_str(ss));
  }
  const std::vector<std::int64_t> ids = index_plan::host_int64(index);
  const std::vector<std::int64_t> x_strides = index_plan::row_major_strides(xs);
  const std::vector<std::int64_t> s_strides = index_plan::row_major_strides(ss);
  const std::vector<std::int64_t> i_strides = index_plan::row_major_strides(is);
  const std::int64_t n = xs[static_cast<std::size_t>(d)];
  Writes w;
  w.targets.resize(ids.size());
  w.sources.resize(ids.size());
  for (std::size_t p = 0; p < ids.size(); ++p) {
    const std::int64_t v = ids[p];
    LOOM_CHECK(v >= 0 && v < n, "index {} is out of bounds for dimension {} with size {}", v, d, n);
    std::int64_t rest = static_cast<std::int64_t>(p), target = 0, source = 0;
    for (std::size_t k = 0; k < i_strides.size(); ++k) {
      const std::int64_t coord = rest / i_strides[k];
      rest %= i_strides[k];
      target += (static_cast<std::int64_t>(k) == d ? v : coord) * x_strides[k];
      if (src_shape != nullptr) source += coord * s_strides[k];
    }
    w.targets[p] = target;
    w.sources[p] = source;
  }
  return w;
}

void check_src(const char* op, const Tensor& x, const Tensor& src) {
  LOOM_CHECK(x.defined() && src.defined(), "{}: undefined tensor", op);
  LOOM_CHECK(src.dtype() == x.dtype(), "{}(): Expected self.dtype to be equal to src.dtype", op);
  LOOM_CHECK(src.device() == x.device(), "{}: src is on {} but self is on {}", op, src.device(), x.device());
}

}  // namespace

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  check_src("scatter", x, src);
  const Shape src_shape = src.shape();
  Writes w = scatter_writes("scatter", x, dim, index, &src_shape);
  return flat::put(x, w.targets, src, w.sources, true);
}

Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  check_src("scatter", x, src);
  const Shape src_shape = src.shape();
  Writes w = scatter_writes("scatter", x, dim, index, &src_shape);
  return flat::put(x, w.targets, src, w.sources, false);
}

Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, Scalar value) {
  LOOM_CHECK(x.defined(), "scatter: undefined tensor");
  Writes w = scatter_writes("scatter", x, dim, index, nullptr);
  Tensor v = native::to(native::full({}, value.to_double(), TensorOptions(kFloat64).device(x.device())), x.dtype());
  return flat::put(x, w.targets, v, w.sources, false);
}

}  // namespace loom
