#include "autograd/indexing.h"

#include <numeric>
#include <string>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "core/native_index.h"

namespace loom {

namespace {

using indexing::EllipsisIndex;
using indexing::NoneIndex;
using indexing::Slice;

// The values of an integer or Bool tensor, on the host, as int64.
std::vector<std::int64_t> host_values(const Tensor& t) {
  if (t.dtype() == kInt64) return native::contiguous(native::to(t, kCPU)).to_vector<std::int64_t>();
  std::vector<double> v = native::to(native::to(t, kCPU), kFloat64).to_vector<double>();
  return std::vector<std::int64_t>(v.begin(), v.end());
}

// Row-major strides of `shape`.
std::vector<std::int64_t> row_major_strides(const Shape& shape) {
  std::vector<std::int64_t> s(shape.size(), 1);
  for (std::int64_t d = static_cast<std::int64_t>(shape.size()) - 2; d >= 0; --d)
    s[static_cast<std::size_t>(d)] = s[static_cast<std::size_t>(d + 1)] * shape[static_cast<std::size_t>(d + 1)];
  return s;
}

// The elements of x (in row-major order) at flat `positions`, shaped `shape`:
// one embedding lookup into x viewed as a column (deterministic backward).
Tensor take_flat(const Tensor& x, const std::vector<std::int64_t>& positions, const Shape& shape) {
  if (!is_floating(x.dtype()))  // integers and Bool: exact through float64
    return native::to(take_flat(native::to(x, kFloat64), positions, shape), x.dtype());
  Tensor column = reshape(contiguous(x), {x.numel(), 1});
  Tensor ids = native::to(tensor_int64(positions, {static_cast<std::int64_t>(positions.size())}), x.device());
  Tensor picked = embedding(column, ids);  // [n, 1]
  return reshape(picked, shape);
}

// out (shape `shape`, row-major) = the values [n] summed into flat `positions`
// [n] Int64: the embedding kernel's deterministic scatter-sum. Its gradient
// takes g at the positions.
struct ScatterSumBackward final : Node {
  Tensor positions;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor column = native::contiguous(g[0]).reshape({g[0].numel(), 1});
    return {native::embedding(column, positions).reshape({positions.numel()})};
  }
  void release_saved() override { positions = Tensor(); }
  const char* name() const override { return "ScatterAddBackward"; }
};

Tensor scatter_sum(const Tensor& values, const Tensor& positions, const Shape& shape) {
  Tensor summed = native::embedding_backward(native::contiguous(values).reshape({values.numel(), 1}), positions,
                                             shape_numel(shape));
  Tensor out = summed.reshape(shape);
  if (auto node = make_node<ScatterSumBackward>({values})) {
    node->positions = positions;
    set_history(out, node);
  }
  return out;
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
  const std::vector<std::int64_t> ids = host_values(index);
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
  const std::vector<std::int64_t> ids = host_values(index);
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

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  check_index_tensor(index, "scatter_add");
  LOOM_CHECK(is_floating(x.dtype()), "scatter_add: expected a floating tensor, got {}", x.dtype());
  LOOM_CHECK(src.dtype() == x.dtype(), "scatter(): Expected self.dtype to be equal to src.dtype");
  LOOM_CHECK(index.dim() == x.dim() && src.dim() == x.dim(),
             "Index tensor must have the same number of dimensions as self tensor");
  const std::int64_t d = x.dim() == 0 ? 0 : x.wrap_dim(dim);
  for (std::int64_t k = 0; k < x.dim(); ++k)
    LOOM_CHECK(index.size(k) <= src.size(k) && (k == d || index.size(k) <= x.size(k)),
               "Expected index {} to be smaller than self {} apart from dimension {} and to be smaller size than "
               "src {}",
               shape_str(index.shape()), shape_str(x.shape()), d, shape_str(src.shape()));
  const std::vector<std::int64_t> ids = host_values(index);
  const std::vector<std::int64_t> xs = row_major_strides(x.shape());
  const std::vector<std::int64_t> ss = row_major_strides(src.shape());
  const std::vector<std::int64_t> is = row_major_strides(index.shape());
  const std::int64_t n = x.dim() == 0 ? 1 : x.size(d);
  std::vector<std::int64_t> targets(ids.size()), sources(ids.size());
  for (std::size_t p = 0; p < ids.size(); ++p) {
    const std::int64_t v = ids[p];
    LOOM_CHECK(v >= 0 && v < n, "index {} is out of bounds for dimension {} with size {}", v, d, n);
    std::int64_t rest = static_cast<std::int64_t>(p), target = 0, source = 0;
    for (std::size_t k = 0; k < is.size(); ++k) {
      const std::int64_t coord = rest / is[k];
      rest %= is[k];
      target += (static_cast<std::int64_t>(k) == d ? v : coord) * xs[k];
      source += coord * ss[k];
    }
    targets[p] = target;
    sources[p] = source;
  }
  const auto count = static_cast<std::int64_t>(ids.size());
  Tensor values = take_flat(src, sources, {count});
  Tensor positions = native::to(tensor_int64(targets, {count}), x.device());
  return add(x, scatter_sum(values, positions, x.shape()));
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
  const std::vector<std::int64_t> m = host_values(mb);
  std::vector<std::int64_t> positions;
  for (std::size_t p = 0; p < m.size(); ++p)
    if (m[p] != 0) positions.push_back(static_cast<std::int64_t>(p));
  return take_flat(xb, positions, {static_cast<std::int64_t>(positions.size())});
}

Tensor index(const Tensor& x, std::initializer_list<indexing::TensorIndex> indices) {
  return index(x, std::vector<indexing::TensorIndex>(indices));
}

Tensor index(const Tensor& x, const std::vector<indexing::TensorIndex>& indices) {
  // How many of x's dimensions the entries consume (an Ellipsis the rest).
  std::int64_t consumed = 0, ellipses = 0, tensors = 0;
  for (const auto& entry : indices) {
    const auto& v = entry.value();
    if (std::holds_alternative<std::int64_t>(v) || std::holds_alternative<Slice>(v)) ++consumed;
    if (std::holds_alternative<EllipsisIndex>(v)) ++ellipses;
    if (const Tensor* t = std::get_if<Tensor>(&v)) {
      ++tensors;
      LOOM_CHECK(t->defined(), "index: undefined tensor index");
      LOOM_CHECK(t->dtype() == kInt64 || t->dtype() == kBool,
                 "tensors used as indices must be long, int, byte or bool tensors");
      consumed += t->dtype() == kBool ? std::max<std::int64_t>(t->dim(), 1) : 1;
    }
  }
  LOOM_CHECK(ellipses <= 1, "an index can only have a single ellipsis ('...')");
  LOOM_CHECK(tensors <= 1, "index: loom takes at most one tensor index per call (got {}); index in two steps",
             tensors);
  LOOM_CHECK(consumed <= x.dim(), "too many indices for tensor of dimension {}", x.dim());

  Tensor v = x;
  std::int64_t d = 0;  // the dimension of v the next entry applies to
  for (const auto& entry : indices) {
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
    } else {
      const Tensor& t = std::get<Tensor>(value);
      if (t.dtype() == kBool) {
        // A mask over dims d .. d + k - 1: those dims become one of size
        // count, holding the selected positions in row-major order.
        const std::int64_t k = std::max<std::int64_t>(t.dim(), 1);
        Tensor mask = t.dim() == 0 ? t.reshape({1}) : t;
        for (std::int64_t j = 0; j < k; ++j)
          LOOM_CHECK(mask.size(j) == v.size(d + j),
                     "The shape of the mask {} at index {} does not match the shape of the indexed tensor {} at "
                     "index {}",
                     shape_str(mask.shape()), j, shape_str(v.shape()), d + j);
        if (t.dim() == 0) v = unsqueeze(v, d);
        Shape merged(v.shape().begin(), v.shape().begin() + d);
        std::int64_t span = 1;
        for (std::int64_t j = 0; j < k; ++j) span *= v.size(d + j);
        merged.push_back(span);
        merged.insert(merged.end(), v.shape().begin() + d + k, v.shape().end());
        v = reshape(v, merged);
        const std::vector<std::int64_t> m = host_values(native::contiguous(mask));
        std::vector<std::int64_t> picked;
        for (std::size_t p = 0; p < m.size(); ++p)
          if (m[p] != 0) picked.push_back(static_cast<std::int64_t>(p));
        v = index_select(v, d, tensor_int64(picked, {static_cast<std::int64_t>(picked.size())}));
        ++d;
      } else {
        // Int64 of any shape: dim d becomes t's dims (negative indices wrap).
        const std::int64_t n = v.size(d);
        std::vector<std::int64_t> ids = host_values(t);
        for (std::int64_t& i : ids) {
          LOOM_CHECK(i >= -n && i < n, "index {} is out of bounds for dimension {} with size {}", i, d, n);
          if (i < 0) i += n;
        }
        Tensor picked = index_select(v, d, tensor_int64(ids, {static_cast<std::int64_t>(ids.size())}));
        Shape shape(picked.shape().begin(), picked.shape().begin() + d);
        shape.insert(shape.end(), t.shape().begin(), t.shape().end());
        shape.insert(shape.end(), picked.shape().begin() + d + 1, picked.shape().end());
        v = reshape(picked, shape);
        d += t.dim();
      }
    }
  }
  return v;
}

}  // namespace loom
