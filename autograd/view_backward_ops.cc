#include "autograd/view_backward_ops.h"

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "core/native_index.h"

namespace loom {

namespace {

// Backward of slice_backward / select_backward: cut the same view out of the
// incoming gradient again.
struct ViewScatterBackward final : Node {
  bool is_select = false;
  std::int64_t d = 0, start = 0, end = 0, step = 1;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {is_select ? select(g[0], d, start) : slice(g[0], d, start, end, step)};
  }
  const char* name() const override { return is_select ? "SelectBackwardBackward" : "SliceBackwardBackward"; }
  bool double_backward_ok() const override { return true; }
};

// Backward of embedding_backward: gather the rows again.
struct EmbeddingBackwardBackward final : Node {
  Tensor indices;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override { return {embedding(g[0], indices)}; }
  void release_saved() override { indices = Tensor(); }
  bool double_backward_ok() const override { return true; }
  const char* name() const override { return "EmbeddingBackwardBackward"; }
};

}  // namespace

Tensor embedding_backward(const Tensor& g, const Tensor& indices, std::int64_t num_weights) {
  Tensor out = native::embedding_backward(g, indices, num_weights);
  if (auto node = make_node<EmbeddingBackwardBackward>({g})) {
    node->indices = indices;  // integer, never differentiated
    set_history(out, node);
  }
  return out;
}

Tensor slice_backward(const Tensor& g, const Shape& shape, std::int64_t d, std::int64_t start,
                      std::int64_t end, std::int64_t step) {
  Tensor full = native::zeros(shape, TensorOptions(g.dtype()).device(g.device()));
  {
    NoGradGuard no_grad;
    native::copy_(slice(full, d, start, end, step), g);
  }
  if (auto node = make_node<ViewScatterBackward>({g})) {
    node->d = d;
    node->start = start;
    node->end = end;
    node->step = step;
    set_history(full, node);
  }
  return full;
}

Tensor select_backward(const Tensor& g, const Shape& shape, std::int64_t d, std::int64_t index) {
  Tensor full = native::zeros(shape, TensorOptions(g.dtype()).device(g.device()));
  {
    NoGradGuard no_grad;
    native::copy_(select(full, d, index), g);
  }
  if (auto node = make_node<ViewScatterBackward>({g})) {
    node->is_select = true;
    node->d = d;
    node->start = index;
    set_history(full, node);
  }
  return full;
}

}  // namespace loom
