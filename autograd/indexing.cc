// index, index_select, gather, masked_select and nonzero (contracts in
// autograd/indexing.h): positions on the host, gathers through flat::take.
#include "autograd/indexing.h"

#include <string>

#include "autograd/flat_ops.h"
#include "autograd/functions.h"
#include "autograd/index_plan.h"
#include "autograd/node.h"
#include "core/native.h"
#include "core/native_index.h"

namespace loom {

namespace {

using indexing::EllipsisIndex;
using indexing::NoneIndex;
using indexing::Slice;

using index_plan::host_int64;
using index_plan::row_major_strides;

Tensor take_flat(const Tensor& x, const std::vector<std::int64_t>& positions, const Shape& shape) {
  return flat::take(x, positions, shape);
}

void check_index_tensor(const Tensor& index, const char* what) {
  LOOM_CHECK(index.defined(), "{}: undefined index", what);
  LOOM_CHECK(index.dtype() == kInt64, "{}(): Expected dtype int64 for index", what);
}

}  // namespace

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index_in) {
  // int32 indices are accepted and read as int64, as torch.index_select's.
  LOOM_CHECK(!index_in.defined() || index_in.dtype() == kInt64 || index_in.dtype() == kInt32,
             "index_select(): Expected dtype int32 or int64 for index");
  const Tensor index = index_in.defined() ? native::to(index_in, kInt64) : index_in;
  check_index_tensor(index, "index_select");
  LOOM_CHECK(index.dim() <= 1, "index_select(): Index is supposed to be a vector");
  const std::int64_t d = x.dim() == 0 ? 0 : x.wrap_dim(dim);
  const std::int64_t n = x.dim() == 0 ? 1 : x.size(d);
  const std::vector<std::int64_t> ids = host_int64(index);
  for (std::int64_t i : ids) LOOM_CHECK(i >= 0 && i < n, "index out of range in self");
  if (x.dim() == 0) return take_flat(x, ids, {static_cast<std::int64_t>(ids.size())}).reshape(index.shape());
  // Flat positions of every output element, in row-major order of the output.
  Shape out_shape = x.shape();
  out_shape[static_cast<std::size_t>(d)] = static_cast<std::int64_t>(ids.size());
  const std::vector<std::int64_t> xs = row_major_strides(x.shape());
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t k = 0; k < d; ++k) outer *= x.size(k);
  for (std::int64_t k = d + 1; k < x.dim(); ++k) inner *= x.size(k);
  std::vector<std::int64_t> positions;
  positions.reserve(static_cast<std::size_t>(outer * inner) * ids.size());
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i : ids)
      for (std::int64_t r = 0; r < inner; ++r) positions.push_back(o * n * inner + i * inner + r);
  return take_flat(x, positions, out_shape);
}

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  check_index_tensor(index, "gather");
  LOOM_CHECK(index.dim() == x.dim(), "Index tensor must have the same number of dimensions as input tensor");
  const std::int64_t d = x.dim() == 0 ? 0 : x.wrap_dim(dim);
  for (std::int64_t k = 0; k < x.dim(); ++k)
    if (k != d)
      LOOM_CHECK(index.size(k) <= x.size(k),
                 "Size does not match at dimension {} expected index {} to be smaller than self {} apart from "
                 "dimension {}",
                 k, shape_str(index.shape()), shape_str(x.shape()), d);
  const std::vector<std::int64_t> ids = host_int64(index);
  const std::vector<std::int64_t> xs = row_major_strides(x.shape());
  const std::vector<std::int64_t> is = row_major_strides(index.shape());
  const std::int64_t n = x.dim() == 0 ? 1 : x.size(d);
  std::vector<std::int64_t> positions(ids.size());
  for (std::size_t p = 0; p < ids.size(); ++p) {
    const std::int64_t v = ids[p];
    LOOM_CHECK(v >= 0 && v < n, "index {} is out of bounds for dimension {} with size {}", v, d, n);
    std::int64_t rest = static_cast<std::int64_t>(p), flat = 0;
    for (std::size_t k = 0; k < is.size(); ++k) {
      const std::int64_t coord = rest / is[k];
      rest %= is[k];
      flat += (static_cast<std::int64_t>(k) == d ? v : coord) * xs[k];
    }
    positions[p] = flat;
  }
  return take_flat(x, positions, index.shape());
}

Tensor nonzero(const Tensor& x) {
  const std::vector<double> v = native::to(native::to(x, kCPU), kFloat64).to_vector<double>();
  const std::vector<std::int64_t> xs = row_major_strides(x.shape());
  std::vector<std::int64_t> out;
  std::int64_t count = 0;
  for (std::size_t p = 0; p < v.size(); ++p) {
    if (v[p] == 0) continue;  // NaN is non-zero, as in PyTorch
    std::int64_t rest = static_cast<std::int64_t>(p);
    for (std::int64_t s : xs) {
      out.push_back(rest / s);
      rest %= s;
    }
    ++count;
  }
  return native::to(tensor_int64(out, {count, x.dim()}), x.device());
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  LOOM_CHECK(mask.dtype() == kBool, "masked_select: expected BoolTensor for mask");
  const Shape shape = native::broadcast_shapes(x.shape(), mask.shape());
  Tensor xb = expand(x, shape), mb = native::contiguous(mask.expand(shape));
  const std::vector<std::int64_t> m = host_int64(mb);
  std::vector<std::int64_t> positions;
  for (std::size_t p = 0; p < m.size(); ++p)
    if (m[p] != 0) positions.push_back(static_cast<std::int64_t>(p));
  return take_flat(xb, positions, {static_cast<std::int64_t>(positions.size())});
}

Tensor index(const Tensor& x, std::initializer_list<indexing::TensorIndex> indices) {
  return index(x, std::vector<indexing::TensorIndex>(indices));
}

Tensor index(const Tensor& x, const std::vector<Tensor>& indices) {
  LOOM_CHECK(x.defined(), "index: undefined tensor");
  index_plan::Plan plan = index_plan::make(x.shape(), indices);
  return take_flat(x, plan.positions, plan.shape);
}

Tensor index(const Tensor& x, const std::vector<indexing::TensorIndex>& indices) {
  // A 0-D Int64 tensor selects, as an integer (libtorch); any other tensor
  // index makes the result a copy, gathered through the plan.
  std::vector<indexing::TensorIndex> list;
  bool advanced = false;
  for (const auto& entry : indices) {
    const Tensor* t = std::get_if<Tensor>(&entry.value());
    if (t != nullptr && t->defined() && t->dtype() == kInt64 && t->dim() == 0) {
      list.emplace_back(host_int64(*t)[0]);
    } else {
      advanced = advanced || t != nullptr;
      list.push_back(entry);
    }
  }
  if (advanced) {
    index_plan::Plan plan = index_plan::make(x.shape(), list);
    return take_flat(x, plan.positions, plan.shape);
  }
  // Only integers, slices, None and Ellipsis: a view.
  std::int64_t consumed = 0, ellipses = 0;
  for (const auto& entry : list) {
    const auto& v = entry.value();
    if (std::holds_alternative<std::int64_t>(v) || std::holds_alternative<Slice>(v)) ++consumed;
    if (std::holds_alternative<EllipsisIndex>(v)) ++ellipses;
  }
  LOOM_CHECK(ellipses <= 1, "an index can only have a single ellipsis ('...')");
  LOOM_CHECK(consumed <= x.dim(), "too many indices for tensor of dimension {}", x.dim());

  Tensor v = x;
  std::int64_t d = 0;  // the dimension of v the next entry applies to
  for (const auto& entry : list) {
    const auto& value = entry.value();
    if (const std::int64_t* i = std::get_if<std::int64_t>(&value)) {
      const std::int64_t n = v.size(d);
      LOOM_CHECK(*i >= -n && *i < n, "index {} is out of bounds for dimension {} with size {}", *i, d, n);
      v = select(v, d, *i);  // d now names the next dimension
    } else if (const Slice* s = std::get_if<Slice>(&value)) {
      const std::int64_t step = s->step.value_or(1);
      LOOM_CHECK(step > 0, "step must be greater than zero");
      v = slice(v, d, s->start.value_or(0), s->stop.value_or(v.size(d)), step);
      ++d;
    } else if (std::holds_alternative<NoneIndex>(value)) {
      v = unsqueeze(v, d);
      ++d;
    } else if (std::holds_alternative<EllipsisIndex>(value)) {
      d += x.dim() - consumed;
    }
  }
  return v;
}

}  // namespace loom
