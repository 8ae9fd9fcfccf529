// The host-side plan of an index list (contracts in autograd/index_plan.h).
#include "autograd/index_plan.h"

#include <algorithm>
#include <string>
#include <variant>

#include "core/native.h"

namespace loom::index_plan {

namespace {

using indexing::EllipsisIndex;
using indexing::NoneIndex;
using indexing::Slice;

// One dimension of a strided view over the indexed tensor's row-major positions.
struct Dim {
  std::int64_t size, stride;
};

// A tensor index recorded at dimension `dim` of the view: its shape and values.
struct Recorded {
  std::size_t dim;
  Shape shape;
  std::vector<std::int64_t> values;
};

// The row-major offsets of every element of the view dims `ds`.
std::vector<std::int64_t> enumerate(const std::vector<Dim>& ds) {
  std::vector<std::int64_t> offsets = {0};
  for (const Dim& d : ds) {
    std::vector<std::int64_t> next;
    next.reserve(offsets.size() * static_cast<std::size_t>(d.size));
    for (std::int64_t o : offsets)
      for (std::int64_t i = 0; i < d.size; ++i) next.push_back(o + i * d.stride);
    offsets = std::move(next);
  }
  return offsets;
}

std::string shapes_list(const std::vector<Recorded>& recorded) {
  std::string s;
  for (const Recorded& r : recorded) s += (s.empty() ? "" : ", ") + shape_str(r.shape);
  return s;
}

void check_index_dtype(const Tensor& t) {
  LOOM_CHECK(t.defined(), "index: undefined tensor index");
  LOOM_CHECK(t.dtype() == kInt64 || t.dtype() == kBool, "tensors used as indices must be long, byte or bool tensors");
}

// Python's slice of a dimension of size n: (start, length) with step > 0.
std::pair<std::int64_t, std::int64_t> normalize(const Slice& s, std::int64_t n) {
  const std::int64_t step = s.step.value_or(1);
  LOOM_CHECK(step > 0, "step must be greater than zero");
  auto wrap = [n](std::int64_t v) { return std::clamp<std::int64_t>(v < 0 ? v + n : v, 0, n); };
  const std::int64_t start = wrap(s.start.value_or(0));
  const std::int64_t stop = std::max(start, wrap(s.stop.value_or(n)));
  return {start, (stop - start + step - 1) / step};
}

// The plan once basic indexing has made `dims` (+ offset) and recorded the tensor indices.
Plan finish(std::vector<Dim> dims, std::int64_t offset, std::vector<Recorded> recorded) {
  Plan plan;
  if (recorded.empty()) {
    for (const Dim& d : dims) plan.shape.push_back(d.size);
    plan.positions = enumerate(dims);
    for (std::int64_t& p : plan.positions) p += offset;
    return plan;
  }
  plan.advanced = true;
  // Broadcast the index shapes together.
  Shape b;
  for (const Recorded& r : recorded) {
    Shape next;
    const std::size_t rank = std::max(b.size(), r.shape.size());
    for (std::size_t k = 0; k < rank; ++k) {
      const std::int64_t x = k + b.size() >= rank ? b[k + b.size() - rank] : 1;
      const std::int64_t y = k + r.shape.size() >= rank ? r.shape[k + r.shape.size() - rank] : 1;
      LOOM_CHECK(x == y || x == 1 || y == 1,
                 "shape mismatch: indexing tensors could not be broadcast together with shapes {}",
                 shapes_list(recorded));
      next.push_back(x == 1 ? y : x);
    }
    b = std::move(next);
  }
  // Bounds (the dimension named is the index's ordinal, as PyTorch's kernel says it).
  for (std::size_t k = 0; k < recorded.size(); ++k) {
    const std::int64_t n = dims[recorded[k].dim].size;
    for (std::int64_t& v : recorded[k].values) {
      LOOM_CHECK(v >= -n && v < n, "index {} is out of bounds for dimension {} with size {}", v, k, n);
      if (v < 0) v += n;
    }
  }
  // The offset of each element of B: the sum over indices of value * stride.
  const std::int64_t b_numel = shape_numel(b);
  const std::vector<std::int64_t> b_strides = row_major_strides(b);
  std::vector<std::int64_t> adv(static_cast<std::size_t>(b_numel), 0);
  for (const Recorded& r : recorded) {
    // r's row-major strides aligned to B, 0 where r broadcasts.
    const std::vector<std::int64_t> rs = row_major_strides(r.shape);
    std::vector<std::int64_t> aligned(b.size(), 0);
    for (std::size_t k = 0; k < r.shape.size(); ++k)
      if (r.shape[k] != 1) aligned[b.size() - r.shape.size() + k] = rs[k];
    const std::int64_t stride = dims[r.dim].stride;
    for (std::int64_t e = 0; e < b_numel; ++e) {
      std::int64_t rest = e, at = 0;
      for (std::size_t k = 0; k < b.size(); ++k) {
        at += rest / b_strides[k] * aligned[k];
        rest %= b_strides[k];
      }
      adv[static_cast<std::size_t>(e)] += r.values[static_cast<std::size_t>(at)] * stride;
    }
  }
  // Placement: in place when the indexed dims are adjacent, else first.
  bool adjacent = true;
  for (std::size_t k = 1; k < recorded.size(); ++k) adjacent = adjacent && recorded[k].dim == recorded[k - 1].dim + 1;
  std::vector<Dim> before, after;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    const bool indexed = std::any_of(recorded.begin(), recorded.end(), [d](const Recorded& r) { return r.dim == d; });
    if (indexed) continue;
    (adjacent && d < recorded.front().dim ? before : after).push_back(dims[d]);
  }
  for (const Dim& d : before) plan.shape.push_back(d.size);
  plan.shape.insert(plan.shape.end(), b.begin(), b.end());
  for (const Dim& d : after) plan.shape.push_back(d.size);
  const std::vector<std::int64_t> bo = enumerate(before), ao = enumerate(after);
  plan.positions.reserve(bo.size() * adv.size() * ao.size());
  for (std::int64_t x : bo)
    for (std::int64_t y : adv)
      for (std::int64_t z : ao) plan.positions.push_back(offset + x + y + z);
  return plan;
}

Plan make_impl(const Shape& shape, const std::vector<indexing::TensorIndex>& indices, bool zero_dim_int_selects) {
  // How many of x's dimensions the entries consume (an Ellipsis the rest).
  std::int64_t consumed = 0, ellipses = 0;
  for (const auto& entry : indices) {
    const auto& v = entry.value();
    if (std::holds_alternative<std::int64_t>(v) || std::holds_alternative<Slice>(v)) ++consumed;
    if (std::holds_alternative<EllipsisIndex>(v)) ++ellipses;
    if (const Tensor* t = std::get_if<Tensor>(&v)) {
      check_index_dtype(*t);
      consumed += t->dtype() == kBool ? t->dim() : 1;
    }
  }
  const auto rank = static_cast<std::int64_t>(shape.size());
  LOOM_CHECK(ellipses <= 1, "an index can only have a single ellipsis ('...')");
  LOOM_CHECK(consumed <= rank, "too many indices for tensor of dimension {}", rank);

  std::vector<Dim> dims;
  const std::vector<std::int64_t> strides = row_major_strides(shape);
  for (std::size_t k = 0; k < shape.size(); ++k) dims.push_back({shape[k], strides[k]});
  std::int64_t offset = 0;
  std::vector<Recorded> recorded;
  std::size_t d = 0;  // the view dimension the next entry applies to
  auto select = [&](std::int64_t i) {
    const std::int64_t n = dims[d].size;
    LOOM_CHECK(i >= -n && i < n, "index {} is out of bounds for dimension {} with size {}", i, d, n);
    offset += (i < 0 ? i + n : i) * dims[d].stride;
    dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(d));
  };
  for (const auto& entry : indices) {
    const auto& value = entry.value();
    if (const std::int64_t* i = std::get_if<std::int64_t>(&value)) {
      select(*i);
    } else if (const Slice* s = std::get_if<Slice>(&value)) {
      auto [start, length] = normalize(*s, dims[d].size);
      offset += start * dims[d].stride;
      dims[d] = {length, dims[d].stride * s->step.value_or(1)};
      ++d;
    } else if (std::holds_alternative<NoneIndex>(value)) {
      dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(d), Dim{1, 0});
      ++d;
    } else if (std::holds_alternative<EllipsisIndex>(value)) {
      d += static_cast<std::size_t>(rank - consumed);
    } else {
      const Tensor& t = std::get<Tensor>(value);
      if (t.dtype() == kBool && t.dim() == 0) {
        // x[True]: a new dimension of size 1, indexed by [0] (or by [] for False).
        dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(d), Dim{1, 0});
        const bool on = host_int64(t)[0] != 0;
        recorded.push_back({d, Shape{on ? 1 : 0}, on ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{}});
        ++d;
      } else if (t.dtype() == kBool) {
        // A mask over dims d .. d + k - 1: their nonzero coordinates, one index each.
        const auto k = static_cast<std::size_t>(t.dim());
        for (std::size_t j = 0; j < k; ++j)
          LOOM_CHECK(t.size(static_cast<std::int64_t>(j)) == dims[d + j].size,
                     "The shape of the mask {} at index {} does not match the shape of the indexed tensor {} at "
                     "index {}",
                     shape_str(t.shape()), j, shape_str(shape), d + j);
        const std::vector<std::int64_t> m = host_int64(t);
        const std::vector<std::int64_t> ms = row_major_strides(t.shape());
        std::vector<std::vector<std::int64_t>> coords(k);
        for (std::size_t p = 0; p < m.size(); ++p) {
          if (m[p] == 0) continue;
          std::int64_t rest = static_cast<std::int64_t>(p);
          for (std::size_t j = 0; j < k; ++j) {
            coords[j].push_back(rest / ms[j]);
            rest %= ms[j];
          }
        }
        for (std::size_t j = 0; j < k; ++j)
          recorded.push_back({d + j, Shape{static_cast<std::int64_t>(coords[j].size())}, std::move(coords[j])});
        d += k;
      } else if (t.dim() == 0 && zero_dim_int_selects) {
        select(host_int64(t)[0]);  // as libtorch: a 0-D integer tensor selects
      } else {
        recorded.push_back({d, t.shape(), host_int64(t)});
        ++d;
      }
    }
  }
  return finish(std::move(dims), offset, std::move(recorded));
}

}  // namespace

std::vector<std::int64_t> host_int64(const Tensor& t) {
  if (t.dtype() == kInt64) return native::contiguous(native::to(t, kCPU)).to_vector<std::int64_t>();
  std::vector<double> v = native::to(native::to(t, kCPU), kFloat64).to_vector<double>();
  return std::vector<std::int64_t>(v.begin(), v.end());
}

std::vector<std::int64_t> row_major_strides(const Shape& shape) {
  std::vector<std::int64_t> s(shape.size(), 1);
  for (std::int64_t d = static_cast<std::int64_t>(shape.size()) - 2; d >= 0; --d)
    s[static_cast<std::size_t>(d)] = s[static_cast<std::size_t>(d + 1)] * shape[static_cast<std::size_t>(d + 1)];
  return s;
}

Plan make(const Shape& shape, const std::vector<indexing::TensorIndex>& indices) {
  return make_impl(shape, indices, true);
}

Plan make(const Shape& shape, const std::vector<Tensor>& indices) {
  LOOM_CHECK(indices.size() <= shape.size(), "too many indices for tensor of dimension {} (got {})", shape.size(),
             indices.size());
  std::vector<indexing::TensorIndex> list;
  for (const Tensor& t : indices) list.emplace_back(t.defined() ? indexing::TensorIndex(t) : indexing::TensorIndex(Slice()));
  return make_impl(shape, list, false);
}

}  // namespace loom::index_plan
