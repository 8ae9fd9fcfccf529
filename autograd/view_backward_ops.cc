#include "autograd/view_backward_ops.h"

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"

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

}  // namespace

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
