// Flat take and put (contracts in autograd/flat_ops.h).
#include "autograd/flat_ops.h"

#include <numeric>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "core/native_index.h"

namespace loom::flat {

namespace {

Tensor int64_on(const std::vector<std::int64_t>& v, Device device) {
  return native::to(tensor_int64(v, {static_cast<std::int64_t>(v.size())}), device);
}

// out (shape `shape`, row-major) = the values [n] summed, in order, into flat
// `positions` [n] Int64 (the embedding kernel's scatter-sum). Its gradient
// takes g at the positions.
struct ScatterSumBackward final : Node {
  Tensor positions;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor column = native::contiguous(g[0]).reshape({g[0].numel(), 1});
    return {native::embedding(column, positions).reshape({positions.numel()})};
  }
  void release_saved() override { positions = Tensor(); }
  const char* name() const override { return "IndexPutBackward"; }
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

// The gradient of an overwriting put: x's where nothing was written, values'
// summed from every write (PyTorch's grad.index(indices) / grad.gather).
struct PutBackward final : Node {
  Tensor written;           // Bool, x's shape
  Tensor targets, sources;  // Int64 [m]
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor gx, gv;
    const TensorOptions options = TensorOptions(g[0].dtype()).device(g[0].device());
    if (next_edges[0].node) gx = native::where(written, native::zeros({}, options), g[0]);
    if (next_edges[1].node) {
      const Shape& shape = input_meta[1].shape;
      if (targets.numel() == 0) {
        gv = native::zeros(shape, options);
      } else {
        Tensor at = native::embedding(native::contiguous(g[0]).reshape({g[0].numel(), 1}), targets);
        gv = native::embedding_backward(at, sources, shape_numel(shape)).reshape(shape);
      }
    }
    return {gx, gv};
  }
  void release_saved() override { written = targets = sources = Tensor(); }
  const char* name() const override { return "IndexPutBackward"; }
};

}  // namespace

Tensor take(const Tensor& x, const std::vector<std::int64_t>& positions, const Shape& shape) {
  if (!is_floating(x.dtype()))  // integers and Bool: exact through float64
    return native::to(take(native::to(x, kFloat64), positions, shape), x.dtype());
  Tensor column = reshape(contiguous(x), {x.numel(), 1});
  Tensor picked = embedding(column, int64_on(positions, x.device()));  // [n, 1]
  return reshape(picked, shape);
}

Tensor put(const Tensor& x, const std::vector<std::int64_t>& targets, const Tensor& values,
           const std::vector<std::int64_t>& sources, bool accumulate) {
  LOOM_CHECK(targets.size() == sources.size(), "put: {} targets for {} sources", targets.size(), sources.size());
  LOOM_CHECK(values.dtype() == x.dtype() && values.device() == x.device(),
             "put: values ({}, {}) must have x's dtype and device ({}, {})", values.dtype(), values.device(),
             x.dtype(), x.device());
  if (!is_floating(x.dtype()))  // integers and Bool: through float64 (no gradient)
    return native::to(put(native::to(x, kFloat64), targets, native::to(values, kFloat64), sources, accumulate),
                      x.dtype());
  const std::int64_t n = x.numel();
  const auto m = static_cast<std::int64_t>(targets.size());
  std::vector<std::int64_t> written(static_cast<std::size_t>(n), 0);
  for (std::int64_t t : targets) written[static_cast<std::size_t>(t)] = 1;
  Tensor written_mask = native::to(native::to(tensor_int64(written, x.shape()), kBool), x.device());
  if (accumulate) {
    // x's own value first at every position, then the writes in order.
    std::vector<std::int64_t> positions(static_cast<std::size_t>(n));
    std::iota(positions.begin(), positions.end(), 0);
    positions.insert(positions.end(), targets.begin(), targets.end());
    Tensor all = cat({reshape(x, {n}), take(values, sources, {m})}, 0);
    Tensor summed = scatter_sum(all, int64_on(positions, x.device()), x.shape());
    return where(written_mask, summed, x);  // untouched positions keep x's bits (-0.0 too)
  }
  // Gather from [x; values]: position p reads x[p], or values at its last write.
  std::vector<std::int64_t> selector(static_cast<std::size_t>(n));
  std::iota(selector.begin(), selector.end(), 0);
  for (std::size_t k = 0; k < targets.size(); ++k) selector[static_cast<std::size_t>(targets[k])] = n + sources[k];
  Tensor out;
  {
    NoGradGuard no_grad;
    out = take(cat({reshape(x, {n}), reshape(values, {values.numel()})}, 0), selector, x.shape());
  }
  if (auto node = make_node<PutBackward>({x, values})) {
    node->written = written_mask;
    node->targets = int64_on(targets, x.device());
    node->sources = int64_on(sources, x.device());
    set_history(out, node);
  }
  return out;
}

}  // namespace loom::flat
