// Differentiable views and movement. A view shares storage with its input;
// its backward maps the view's gradient back to the input's shape.
#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "autograd/view_backward_ops.h"
#include "autograd/view_history.h"
#include "core/native.h"

namespace loom {

namespace {

// Backward of a view whose gradient is computed by `fn(grad, input_meta)`.
struct ViewBackward final : Node {
  const char* node_name = "";
  std::function<Tensor(const Tensor&, const TensorMeta&)> fn;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {fn(g[0], input_meta[0])};
  }
  const char* name() const override { return node_name; }
  // Every view's gradient is a differentiable view or copy of g.
  bool double_backward_ok() const override { return true; }
};

Tensor record_view(Tensor out, const Tensor& x, const char* name,
                   std::function<Tensor(const Tensor&, const TensorMeta&)> fn) {
  if (auto node = make_node<ViewBackward>({x})) {
    node->node_name = name;
    node->fn = std::move(fn);
    set_history(out, node);
  }
  return out;
}

// Strides for viewing x as `shape` without copying, if possible (PyTorch's
// computeStride); empty optional when a copy is needed.
std::optional<Shape> view_strides(const Tensor& x, const Shape& shape) {
  const Shape& old_shape = x.shape();
  const Shape& old_strides = x.strides();
  if (x.numel() == 0 || old_shape.empty()) return contiguous_strides(shape);
  Shape strides(shape.size());
  std::int64_t view_d = static_cast<std::int64_t>(shape.size()) - 1;
  std::int64_t chunk_base_stride = old_strides.back();
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (std::int64_t d = static_cast<std::int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

// Resolves a single -1 and checks the element count.
Shape infer_shape(const Shape& shape, std::int64_t numel) {
  Shape out = shape;
  std::int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      LOOM_CHECK(infer < 0, "only one dimension can be inferred");
      infer = static_cast<std::int64_t>(i);
    } else {
      LOOM_CHECK(out[i] >= 0, "invalid shape dimension {}", out[i]);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    LOOM_CHECK(known != 0 && numel % known == 0, "shape '{}' is invalid for input of size {}",
               shape_str(shape), numel);
    out[infer] = numel / known;
  }
  LOOM_CHECK(shape_numel(out) == numel, "shape '{}' is invalid for input of size {}",
             shape_str(shape), numel);
  return out;
}

Tensor reshape_grad(const Tensor& g, const TensorMeta& m) { return reshape(g, m.shape); }

// A differentiable view of x: `replay` makes the same view of any tensor of
// x's geometry, so that an in-place op on the view can rewrite its base's
// history (autograd/view_history.h).
Tensor alias_view(const Tensor& x, const Shape& shape, const Shape& strides, std::int64_t offset,
                  std::function<Tensor(const Tensor&)> replay) {
  Tensor v = make_view(x, shape, strides, offset);
  v.impl().is_view = true;
  make_differentiable_view(v, x, std::move(replay));
  return v;
}

}  // namespace

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Tensor clone(const Tensor& x) {
  return record_view(native::clone(x), x, "CloneBackward",
                     [](const Tensor& g, const TensorMeta&) { return g; });
}

Tensor to(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  return record_view(native::to(x, device), x, "ToCopyBackward",
                     [](const Tensor& g, const TensorMeta& m) { return to(g, m.device); });
}

Tensor to(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = native::to(x, dtype);
  if (!is_floating(dtype)) return out;
  return record_view(out, x, "ToCopyBackward",
                     [](const Tensor& g, const TensorMeta& m) { return to(g, m.dtype); });
}

// Shares storage (and the version counter) but is no differentiable view: an
// in-place op on it is recorded on its own history, as PyTorch's.
Tensor detach(const Tensor& x) {
  Tensor v = make_view(x, x.shape(), x.strides(), x.storage_offset());
  v.impl().is_view = true;
  return v;
}

Tensor view(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape(shape, x.numel());
  auto strides = view_strides(x, s);
  LOOM_CHECK(strides.has_value(),
             "view size is not compatible with input tensor's size and stride (at least one "
             "dimension spans across two contiguous subspaces). Use .reshape(...) instead.");
  return record_view(alias_view(x, s, *strides, x.storage_offset(),
                                [s](const Tensor& b) { return view(b, s); }),
                     x, "ViewBackward", reshape_grad);
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape(shape, x.numel());
  if (view_strides(x, s)) return view(x, s);
  return view(clone(x), s);
}

Tensor flatten(const Tensor& x, std::int64_t start, std::int64_t end) {
  if (x.dim() == 0) return reshape(x, {1});
  start = x.wrap_dim(start);
  end = x.wrap_dim(end);
  LOOM_CHECK(start <= end, "flatten() has invalid args: start_dim cannot come after end_dim");
  Shape s(x.shape().begin(), x.shape().begin() + start);
  std::int64_t n = 1;
  for (auto d = start; d <= end; ++d) n *= x.shape()[d];
  s.push_back(n);
  s.insert(s.end(), x.shape().begin() + end + 1, x.shape().end());
  return reshape(x, s);
}

Tensor transpose(const Tensor& x, std::int64_t d0, std::int64_t d1) {
  d0 = x.wrap_dim(d0);
  d1 = x.wrap_dim(d1);
  if (x.dim() == 0) return x;
  Shape shape = x.shape(), strides = x.strides();
  std::swap(shape[d0], shape[d1]);
  std::swap(strides[d0], strides[d1]);
  return record_view(alias_view(x, shape, strides, x.storage_offset(),
                                [d0, d1](const Tensor& b) { return transpose(b, d0, d1); }),
                     x, "TransposeBackward",
                     [d0, d1](const Tensor& g, const TensorMeta&) { return transpose(g, d0, d1); });
}

Tensor permute(const Tensor& x, const Shape& order) {
  LOOM_CHECK(static_cast<std::int64_t>(order.size()) == x.dim(),
             "permute(sparse_coo): number of dimensions in the tensor input does not match the "
             "length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to "
             "len(dims) = {}",
             x.dim(), order.size());
  Shape shape, strides, inverse(order.size());
  std::vector<bool> seen(order.size(), false);
  for (std::size_t i = 0; i < order.size(); ++i) {
    std::int64_t d = x.wrap_dim(order[i]);
    LOOM_CHECK(!seen[d], "permute(): duplicate dims are not allowed.");
    seen[d] = true;
    shape.push_back(x.shape()[d]);
    strides.push_back(x.strides()[d]);
    inverse[d] = static_cast<std::int64_t>(i);
  }
  Shape wrapped;
  for (auto o : order) wrapped.push_back(x.wrap_dim(o));
  return record_view(alias_view(x, shape, strides, x.storage_offset(),
                                [wrapped](const Tensor& b) { return permute(b, wrapped); }),
                     x, "PermuteBackward",
                     [inverse](const Tensor& g, const TensorMeta&) { return permute(g, inverse); });
}

Tensor slice(const Tensor& x, std::int64_t d, std::int64_t start, std::int64_t end,
             std::int64_t step) {
  LOOM_CHECK(x.dim() > 0, "slice() cannot be applied to a 0-dim tensor.");
  d = x.wrap_dim(d);
  LOOM_CHECK(step > 0, "slice step must be positive, got {}", step);
  std::int64_t n = x.shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  Tensor out = alias_view(x, shape, strides, x.storage_offset() + start * x.strides()[d],
                          [d, start, end, step](const Tensor& b) { return slice(b, d, start, end, step); });
  return record_view(out, x, "SliceBackward", [d, start, end, step](const Tensor& g, const TensorMeta& m) {
    return slice_backward(g, m.shape, d, start, end, step);  // differentiable in g
  });
}

Tensor narrow(const Tensor& x, std::int64_t d, std::int64_t start, std::int64_t length) {
  LOOM_CHECK(x.dim() > 0, "narrow() cannot be applied to a 0-dim tensor.");
  std::int64_t n = x.size(d);
  LOOM_CHECK(start >= -n && start <= n, "start out of range (expected to be in range of [{}, {}], "
             "but got {})", -n, n, start);
  if (start < 0) start += n;
  LOOM_CHECK(length >= 0 && start + length <= n,
             "start ({}) + length ({}) exceeds dimension size ({}).", start, length, n);
  return slice(x, d, start, start + length);
}

Tensor select(const Tensor& x, std::int64_t d, std::int64_t index) {
  LOOM_CHECK(x.dim() > 0, "select() cannot be applied to a 0-dim tensor.");
  d = x.wrap_dim(d);
  std::int64_t n = x.shape()[d];
  LOOM_CHECK(index >= -n && index < n,
             "select(): index {} out of range for tensor of size {} at dimension {}", index,
             shape_str(x.shape()), d);
  if (index < 0) index += n;
  Shape shape = x.shape(), strides = x.strides();
  std::int64_t offset = x.storage_offset() + index * strides[d];
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return record_view(alias_view(x, shape, strides, offset,
                                [d, index](const Tensor& b) { return select(b, d, index); }),
                     x, "SelectBackward",
                     [d, index](const Tensor& g, const TensorMeta& m) {
                       return select_backward(g, m.shape, d, index);  // differentiable in g
                     });
}

Tensor unsqueeze(const Tensor& x, std::int64_t d) {
  std::int64_t n = x.dim() + 1;
  LOOM_CHECK(d >= -n && d < n,
             "Dimension out of range (expected to be in range of [{}, {}], but got {})", -n, n - 1, d);
  if (d < 0) d += n;
  Shape shape = x.shape(), strides = x.strides();
  std::int64_t stride = d < x.dim() ? shape[d] * strides[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return record_view(alias_view(x, shape, strides, x.storage_offset(),
                                [d](const Tensor& b) { return unsqueeze(b, d); }),
                     x, "UnsqueezeBackward", reshape_grad);
}

Tensor squeeze(const Tensor& x) {
  Shape shape, strides;
  for (std::int64_t d = 0; d < x.dim(); ++d)
    if (x.shape()[d] != 1) shape.push_back(x.shape()[d]), strides.push_back(x.strides()[d]);
  return record_view(alias_view(x, shape, strides, x.storage_offset(),
                                [](const Tensor& b) { return squeeze(b); }),
                     x, "SqueezeBackward", reshape_grad);
}

Tensor squeeze(const Tensor& x, std::int64_t d) {
  if (x.dim() == 0) return x;
  d = x.wrap_dim(d);
  if (x.shape()[d] != 1) return x;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return record_view(alias_view(x, shape, strides, x.storage_offset(),
                                [d](const Tensor& b) { return squeeze(b, d); }),
                     x, "SqueezeBackward", reshape_grad);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  LOOM_CHECK(static_cast<std::int64_t>(shape.size()) >= x.dim(),
             "expand: the number of sizes provided ({}) must be greater or equal to the number of "
             "dimensions in the tensor ({})",
             shape.size(), x.dim());
  std::size_t lead = shape.size() - x.shape().size();
  Shape out_shape(shape.size()), strides(shape.size(), 0);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      LOOM_CHECK(shape[i] >= 0, "expand: -1 is not allowed in a leading, non-existing dimension");
      out_shape[i] = shape[i];
      continue;
    }
    std::int64_t have = x.shape()[i - lead];
    std::int64_t want = shape[i] == -1 ? have : shape[i];
    LOOM_CHECK(have == want || have == 1,
               "The expanded size of the tensor ({}) must match the existing size ({}) at "
               "non-singleton dimension {}.  Target sizes: {}.  Tensor sizes: {}",
               want, have, i, shape_str(shape), shape_str(x.shape()));
    out_shape[i] = want;
    strides[i] = have == want ? x.strides()[i - lead] : 0;
  }
  return record_view(alias_view(x, out_shape, strides, x.storage_offset(),
                                [out_shape](const Tensor& b) { return expand(b, out_shape); }),
                     x, "ExpandBackward",
                     [](const Tensor& g, const TensorMeta& m) { return sum_to(g, m.shape); });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  std::int64_t lead = x.dim() - static_cast<std::int64_t>(shape.size());
  LOOM_CHECK(lead >= 0, "sum_to: cannot sum shape {} to {}", shape_str(x.shape()), shape_str(shape));
  Shape dims;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) dims.push_back(d);
    else if (shape[d - lead] == 1 && x.shape()[d] != 1) dims.push_back(d);
    else
      LOOM_CHECK(shape[d - lead] == x.shape()[d], "sum_to: cannot sum shape {} to {}",
                 shape_str(x.shape()), shape_str(shape));
  }
  Tensor s = dims.empty() ? x : sum(x, dims, /*keepdim=*/true);
  return reshape(s, shape);
}

// ---- cat, stack, split ----------------------------------------------------------------

namespace {
struct CatBackward final : Node {
  std::int64_t dim = 0;
  Shape sizes;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    std::vector<Tensor> out;
    std::int64_t start = 0;
    for (auto s : sizes) {
      out.push_back(narrow(g[0], dim, start, s));
      start += s;
    }
    return out;
  }
  const char* name() const override { return "CatBackward"; }
  bool double_backward_ok() const override { return true; }
};
}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  LOOM_CHECK(!tensors.empty(), "torch.cat(): expected a non-empty list of Tensors");
  const Tensor& first = tensors[0];
  LOOM_CHECK(first.dim() > 0, "zero-dimensional tensor (at position 0) cannot be concatenated");
  std::int64_t d = first.wrap_dim(dim);
  Shape shape = first.shape();
  shape[d] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    native::check_same_dtype_device("torch.cat()", first, t);
    LOOM_CHECK(t.dim() == first.dim(), "Tensors must have same number of dimensions: got {} and {}",
               first.dim(), t.dim());
    for (std::int64_t k = 0; k < t.dim(); ++k)
      LOOM_CHECK(k == d || t.shape()[k] == first.shape()[k],
                 "Sizes of tensors must match except in dimension {}. Expected size {} but got size "
                 "{} for tensor number {} in the list.",
                 d, first.shape()[k], t.shape()[k], i);
    shape[d] += t.shape()[d];
  }
  Tensor out = empty(shape, TensorOptions(first.dtype()).device(first.device()));
  std::int64_t start = 0;
  Shape sizes;
  for (const Tensor& t : tensors) {
    Shape piece_shape = out.shape();
    piece_shape[d] = t.shape()[d];
    Tensor piece = make_view(out, piece_shape, out.strides(), start * out.strides()[d]);
    native::copy_(piece, t);
    start += t.shape()[d];
    sizes.push_back(t.shape()[d]);
  }
  if (auto node = make_node<CatBackward>(tensors)) {
    node->dim = d;
    node->sizes = sizes;
    set_history(out, node);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  LOOM_CHECK(!tensors.empty(), "stack expects a non-empty TensorList");
  std::int64_t n = tensors[0].dim() + 1;
  LOOM_CHECK(dim >= -n && dim < n,
             "Dimension out of range (expected to be in range of [{}, {}], but got {})", -n, n - 1, dim);
  std::vector<Tensor> parts;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    LOOM_CHECK(tensors[i].shape() == tensors[0].shape(),
               "stack expects each tensor to be equal size, but got {} at entry 0 and {} at entry {}",
               shape_str(tensors[0].shape()), shape_str(tensors[i].shape()), i);
    parts.push_back(unsqueeze(tensors[i], dim));
  }
  return cat(parts, dim);
}

namespace {
// The pieces of x along d, as views; `name` is the op PyTorch's errors name
// (its outputs are multiple-output views, which in-place ops refuse).
std::vector<Tensor> split_views(const Tensor& x, const Shape& sizes, std::int64_t d, const char* name) {
  std::vector<Tensor> out;
  std::int64_t start = 0;
  for (auto s : sizes) {
    out.push_back(narrow(x, d, start, s));
    start += s;
  }
  mark_multi_output_views(out, name);
  return out;
}
}  // namespace

std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, std::int64_t dim) {
  std::int64_t d = x.wrap_dim(dim);
  std::int64_t total = 0;
  for (auto s : sizes) {
    LOOM_CHECK(s >= 0, "split_with_sizes expects split_sizes have only non-negative entries, but "
               "got split_sizes={}", shape_str(sizes));
    total += s;
  }
  LOOM_CHECK(total == x.shape()[d],
             "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at "
             "dimension {}), but got split_sizes={}",
             x.shape()[d], d, shape_str(sizes));
  return split_views(x, sizes, d, "SplitWithSizesBackward");
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim) {
  std::int64_t d = x.wrap_dim(dim);
  std::int64_t n = x.shape()[d];
  LOOM_CHECK(split_size > 0 || (split_size == 0 && n == 0),
             "split_size can only be 0 if dimension size is 0, but got dimension size of {}", n);
  Shape sizes;
  for (std::int64_t start = 0; start < n; start += split_size) sizes.push_back(std::min(split_size, n - start));
  if (sizes.empty()) sizes.push_back(0);
  return split_views(x, sizes, d, "SplitBackward");
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  LOOM_CHECK(chunks > 0, "chunk expects `chunks` to be greater than 0, got: {}", chunks);
  std::int64_t n = x.size(dim);
  std::int64_t size = (n + chunks - 1) / chunks;
  return split(x, std::max<std::int64_t>(size, n == 0 ? 0 : 1), dim);
}

}  // namespace loom
