// Random factories (rand, randn) and dropout, drawn from the default Philox
// generator (core/generator.h). Every draw of n elements reserves
// counters_used(n) counters, so successive draws never overlap, and the same
// seed gives the same numbers (and dropout masks) on the CPU and on CUDA.
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "core/native.h"
#include "kernels/random.h"

namespace loom {

namespace {

enum class Fill { Uniform, Normal, DropoutMask };

// Fills the contiguous floating tensor t from the default generator: U[0, 1),
// N(0, 1), or an inverted-dropout mask with drop probability p.
void fill_random(const Tensor& t, Fill kind, double p = 0) {
  const std::int64_t n = t.numel();
  if (n == 0) return;
  if (is_reduced_float(t.dtype())) {
    // Draw in float32 (the same counters and values as a float32 tensor of
    // this size) and round once, as PyTorch does.
    Tensor wide = empty(t.shape(), TensorOptions(kFloat32).device(t.device()));
    fill_random(wide, kind, p);
    native::copy_(t, wide);
    return;
  }
  const GeneratorState state = default_generator().reserve_state(kernels::counters_used(n));
  const char* what = kind == Fill::Uniform ? "rand" : kind == Fill::Normal ? "randn" : "dropout";
  dispatch_floating(t.dtype(), what, [&](auto tag) {
    using T = decltype(tag);
    T* out = static_cast<T*>(t.data_ptr());
    switch (kind) {
      case Fill::Uniform:
        LOOM_DISPATCH_DEVICE(t.device(), fill_uniform, n, state.seed, state.offset, T(0), T(1), out);
        break;
      case Fill::Normal:
        LOOM_DISPATCH_DEVICE(t.device(), fill_normal, n, state.seed, state.offset, T(0), T(1), out);
        break;
      case Fill::DropoutMask:
        LOOM_DISPATCH_DEVICE(t.device(), fill_dropout_mask, n, state.seed, state.offset,
                             static_cast<T>(p), out);
        break;
    }
  });
}

Tensor random_tensor(const Shape& shape, TensorOptions options, Fill kind) {
  const char* what = kind == Fill::Uniform ? "rand" : "randn";
  dispatch_floating_and_half(options.dtype_, what, [](auto) {});  // floating dtypes only
  Tensor t = empty(shape, options.requires_grad(false));
  fill_random(t, kind);
  if (options.requires_grad_) t.requires_grad_(true);
  return t;
}

// out = x * mask: the gradient is g * mask.
struct DropoutBackward final : Node {
  Tensor mask;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {mul(g[0], mask)};  // differentiable in g (double backward)
  }
  void release_saved() override { mask = Tensor(); }
  const char* name() const override { return "DropoutBackward"; }
  bool double_backward_ok() const override { return true; }
};

}  // namespace

Tensor rand(const Shape& shape, TensorOptions options) {
  return random_tensor(shape, options, Fill::Uniform);
}

Tensor randn(const Shape& shape, TensorOptions options) {
  return random_tensor(shape, options, Fill::Normal);
}

Tensor dropout(const Tensor& x, double p, bool training) {
  LOOM_CHECK(p >= 0 && p <= 1, "dropout probability has to be between 0 and 1, but got {}", p);
  LOOM_CHECK(x.defined(), "dropout: expected a defined tensor");
  if (p == 0 || !training) return x;
  dispatch_floating_and_half(x.dtype(), "dropout", [](auto) {});
  // p == 1 drops everything without drawing (as PyTorch: x * 0, so NaN stays NaN).
  Tensor mask = p == 1 ? native::zeros_like(x)
                       : empty(x.shape(), TensorOptions(x.dtype()).device(x.device()));
  if (p < 1) fill_random(mask, Fill::DropoutMask, p);
  Tensor out = native::binary(native::BinaryOp::Mul, x, mask);
  if (auto node = make_node<DropoutBackward>({x})) {
    node->mask = mask;
    set_history(out, node);
  }
  return out;
}

}  // namespace loom
