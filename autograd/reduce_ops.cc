// Differentiable reductions.
#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"

namespace loom {

namespace {

// Re-inserts reduced dims (size 1) so the gradient broadcasts over the input.
Tensor unsqueeze_reduced(const Tensor& g, const Shape& input_shape, const Shape& dims, bool keepdim) {
  if (keepdim || input_shape.empty()) return g;
  std::vector<bool> mask(input_shape.size(), dims.empty());
  for (auto d : dims) mask[d < 0 ? d + static_cast<std::int64_t>(input_shape.size()) : d] = true;
  Shape shape;
  for (std::size_t d = 0; d < input_shape.size(); ++d) shape.push_back(mask[d] ? 1 : input_shape[d]);
  return reshape(g, shape);
}

struct SumBackward final : Node {
  Shape dims;
  bool keepdim = false;
  double scale = 1;  // 1/count for mean
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor gi = expand(unsqueeze_reduced(g[0], input_meta[0].shape, dims, keepdim),
                       input_meta[0].shape);
    if (scale != 1) gi = gi * scale;
    return {contiguous(gi)};
  }
  const char* name() const override { return scale == 1 ? "SumBackward" : "MeanBackward"; }
  bool double_backward_ok() const override { return true; }
};

struct MaxBackward final : Node {
  std::int64_t dim = 0;  // -1 with `all`
  bool keepdim = false, all = false;
  Tensor indices;  // Int64, output shape
  Tensor input, value;  // with `all`: the input and its maximum
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    const TensorMeta& m = input_meta[0];
    // One-hot of the winning position along dim, scaled by the gradient.
    Shape pos_shape(m.shape.size(), 1);
    if (all) {
      // As PyTorch (evenly_distribute_backward): the gradient is split evenly
      // among all elements equal to the maximum (NaN matching NaN).
      using native::CompareOp;
      Tensor is_max = native::compare(CompareOp::Eq, input, value);
      Tensor mask = native::where(native::compare(CompareOp::Ne, value, value),
                                      native::compare(CompareOp::Ne, input, input), is_max);
      Tensor count = native::sum(native::to(mask, m.dtype), {});
      Tensor share = native::binary(native::BinaryOp::Div, g[0], count);
      return {native::where(mask, share, native::zeros(m.shape, TensorOptions(m.dtype).device(m.device)))};
    }
    if (m.shape.empty()) return {reshape(g[0], m.shape)};  // max of a 0-dim tensor: itself
    pos_shape[dim] = m.shape[dim];
    Tensor positions = native::arange(0, static_cast<double>(m.shape[dim]), 1,
                                      TensorOptions(kInt64).device(m.device));
    Tensor idx = keepdim ? indices : unsqueeze(indices, dim);
    Tensor hit = native::compare(native::CompareOp::Eq, reshape(positions, pos_shape), idx);
    Tensor gg = keepdim ? g[0] : unsqueeze(g[0], dim);
    return {native::where(hit, expand(gg, m.shape), native::zeros(m.shape, TensorOptions(m.dtype).device(m.device)))};
  }
  void release_saved() override { indices = input = value = Tensor(); }
  const char* name() const override { return "MaxBackward"; }
};

Tensor record_sum(Tensor out, const Tensor& x, const Shape& dims, bool keepdim, double scale) {
  if (auto node = make_node<SumBackward>({x})) {
    node->dims = dims;
    node->keepdim = keepdim;
    node->scale = scale;
    set_history(out, node);
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

// sum and mean run in float32 under autocast (autograd/autocast.h).
Tensor sum(const Tensor& x_in, Dims dims, bool keepdim) {
  const Tensor x = autocast_cast::to_float(x_in);
  return record_sum(native::sum(x, dims, keepdim), x, dims, keepdim, 1);
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

Tensor mean(const Tensor& x_in, Dims dims, bool keepdim) {
  const Tensor x = autocast_cast::to_float(x_in);
  Tensor out = native::mean(x, dims, keepdim);
  std::int64_t count = x.numel() / std::max<std::int64_t>(out.numel(), 1);
  if (dims.empty()) count = x.numel();
  return record_sum(out, x, dims, keepdim, count == 0 ? 1.0 : 1.0 / static_cast<double>(count));
}

std::pair<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, bool keepdim) {
  auto [values, indices] = native::max(x, dim, keepdim);
  if (auto node = make_node<MaxBackward>({x})) {
    node->dim = x.dim() == 0 ? 0 : x.wrap_dim(dim);
    node->keepdim = keepdim || x.dim() == 0;
    node->indices = indices;
    set_history(values, node);
  }
  return {values, indices};
}

Tensor max(const Tensor& x) {
  LOOM_CHECK(x.numel() > 0, "max(): Expected reduction dim to be specified for input.numel() == 0. "
             "Specify the reduction dim with the 'dim' argument.");
  Tensor flat = native::contiguous(x);
  auto [values, indices] = native::max(make_view(flat, {x.numel()}, {1}, flat.storage_offset()), 0, false);
  if (auto node = make_node<MaxBackward>({x})) {
    node->all = true;
    node->input = saved(x);
    node->value = saved(values);
    set_history(values, node);
  }
  return values;
}

Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  return native::max(x, dim, keepdim).second;
}

Tensor argmax(const Tensor& x) {
  Tensor flat = native::contiguous(x);
  return native::max(make_view(flat, {x.numel()}, {1}, flat.storage_offset()), 0, false).second;
}

}  // namespace loom
