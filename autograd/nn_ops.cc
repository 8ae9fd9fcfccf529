// Differentiable neural-network functions: softmax, log_softmax, nll_loss,
// cross_entropy, mse_loss. Forward and backward run the kernels of
// core/native_nn.h (mse_loss is composed of native elementwise operations).
#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "core/native_nn.h"

namespace loom {

namespace {

native::LossReduction to_kernel(Reduction r) {
  switch (r) {
    case Reduction::None: return native::LossReduction::None;
    case Reduction::Mean: return native::LossReduction::Mean;
    case Reduction::Sum: return native::LossReduction::Sum;
  }
  fail("unknown reduction");
}

struct SoftmaxBackward final : Node {
  Tensor y;  // the forward output
  std::int64_t dim = 0;
  bool log_softmax = false;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {native::softmax_backward(g[0], y, dim, log_softmax)};
  }
  void release_saved() override { y = Tensor(); }
  const char* name() const override { return log_softmax ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
};

Tensor softmax_impl(const Tensor& x, std::int64_t dim, bool log_softmax) {
  Tensor y = native::softmax(x, dim, log_softmax);
  if (auto node = make_node<SoftmaxBackward>({x})) {
    node->y = saved(y);
    node->dim = x.wrap_dim(dim);
    node->log_softmax = log_softmax;
    set_history(y, node);
  }
  return y;
}

struct NllLossBackward final : Node {
  Tensor target, count;  // Int64 targets; the forward's number of samples not ignored
  std::int64_t ignore_index = -100;
  native::LossReduction reduction = native::LossReduction::Mean;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {native::nll_loss_backward(g[0], input_meta[0].shape, target, count, ignore_index,
                                      reduction)};
  }
  void release_saved() override { target = count = Tensor(); }
  const char* name() const override { return "NllLossBackward"; }
};

struct MseLossBackward final : Node {
  Tensor diff;  // input - target, broadcast
  Reduction reduction = Reduction::Mean;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    // As PyTorch: norm * (input - target) * grad, norm = 2 / numel for Mean, else 2.
    double norm = reduction == Reduction::Mean ? 2.0 / static_cast<double>(diff.numel()) : 2.0;
    Tensor grad = diff * norm * g[0];
    Tensor gi = next_edges[0].node ? sum_to(grad, input_meta[0].shape) : Tensor();
    Tensor gt = next_edges[1].node ? sum_to(neg(grad), input_meta[1].shape) : Tensor();
    return {gi, gt};
  }
  void release_saved() override { diff = Tensor(); }
  const char* name() const override { return "MseLossBackward"; }
};

}  // namespace

// Under autocast, every function here runs in float32 (autograd/autocast.h).

Tensor softmax(const Tensor& x, std::int64_t dim) {
  return softmax_impl(autocast_cast::to_float(x), dim, false);
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  return softmax_impl(autocast_cast::to_float(x), dim, true);
}

Tensor nll_loss(const Tensor& input_in, const Tensor& target, std::int64_t ignore_index,
                Reduction reduction) {
  const Tensor input = autocast_cast::to_float(input_in);
  auto [output, count] = native::nll_loss(input, target, ignore_index, to_kernel(reduction));
  if (auto node = make_node<NllLossBackward>({input})) {
    node->target = saved(target);
    node->count = count;
    node->ignore_index = ignore_index;
    node->reduction = to_kernel(reduction);
    set_history(output, node);
  }
  return output;
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, std::int64_t ignore_index,
                     Reduction reduction) {
  // The class dimension is 1, or 0 for an unbatched [C] input (as PyTorch).
  std::int64_t class_dim = input.dim() == 1 ? 0 : 1;
  LOOM_CHECK(input.dim() == 1 || input.dim() == 2,
             "cross_entropy: input tensor should be 1D or 2D (got shape {})",
             shape_str(input.shape()));
  return nll_loss(log_softmax(input, class_dim), target, ignore_index, reduction);
}

Tensor mse_loss(const Tensor& input_in, const Tensor& target_in, Reduction reduction) {
  const Tensor input = autocast_cast::to_float(input_in), target = autocast_cast::to_float(target_in);
  Tensor diff = native::binary(native::BinaryOp::Sub, input, target);
  Tensor squared = native::unary(native::UnaryOp::Square, diff);
  Tensor out = reduction == Reduction::None ? squared
               : reduction == Reduction::Sum ? native::sum(squared, {})
                                             : native::mean(squared, {});
  if (auto node = make_node<MseLossBackward>({input, target})) {
    node->diff = diff;
    node->reduction = reduction;
    set_history(out, node);
  }
  return out;
}

}  // namespace loom
