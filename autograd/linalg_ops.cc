// Differentiable matrix products: matmul, bmm, linear (lower precision under
// loom::autocast, autograd/autocast.h). Forward and backward
// run the GEMMs of core/native_linalg.h; transposed operands in backward are
// strided views that reach BLAS as transpose flags, never copies.
#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "core/native_linalg.h"

namespace loom {

namespace {

// Backward of out = a @ b for a [..., n, k], b [..., k, m] (batch dimensions
// broadcast): da = g @ b^T and db = a^T @ g, each summed back over the batch
// dimensions its operand was broadcast along.
struct MatmulBackward final : Node {
  const char* node_name = "MatmulBackward";
  Tensor a, b;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor ga, gb;
    if (next_edges[0].node)
      ga = sum_to(native::matmul_batched(g[0], native::matrix_transpose(b)), input_meta[0].shape);
    if (next_edges[1].node)
      gb = sum_to(native::matmul_batched(native::matrix_transpose(a), g[0]), input_meta[1].shape);
    return {ga, gb};
  }
  void release_saved() override { a = b = Tensor(); }
  const char* name() const override { return node_name; }
};

// The differentiable product of two operands of at least 2 dimensions.
Tensor product(const Tensor& a, const Tensor& b, const char* name) {
  Tensor out = native::matmul_batched(a, b);
  if (auto node = make_node<MatmulBackward>({a, b})) {
    node->node_name = name;
    node->a = saved(a);
    node->b = saved(b);
    set_history(out, node);
  }
  return out;
}

// Backward of linear: the three GEMM-shaped gradients of core/native_linalg.h.
struct LinearBackward final : Node {
  Tensor x, weight;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    native::LinearGrads grads =
        native::linear_backward(g[0], x, weight, next_edges[0].node != nullptr,
                                next_edges[1].node != nullptr,
                                next_edges.size() > 2 && next_edges[2].node != nullptr);
    return {grads.x, grads.weight, grads.bias};
  }
  void release_saved() override { x = weight = Tensor(); }
  const char* name() const override { return "LinearBackward"; }
};

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  // Under autocast: float32 operands run in the autocast type.
  const Tensor a = autocast_cast::to_lower(a_in), b = autocast_cast::to_lower(b_in);
  native::check_matmul(a, b);
  const std::int64_t da = a.dim(), db = b.dim();
  if (da >= 3 && db <= 2 && native::can_fold_rows(a)) {
    // As PyTorch: a's batch folds into the rows of one 2-D product, so b's
    // gradient is one GEMM too (no per-batch partial products to sum).
    Shape shape(a.shape().begin(), a.shape().end() - 1);
    const std::int64_t rows = shape_numel(shape);
    if (db == 2) shape.push_back(b.size(1));
    Tensor a2 = reshape(a, {rows, a.size(-1)});
    Tensor b2 = db == 1 ? unsqueeze(b, 1) : b;
    return reshape(product(a2, b2, "MmBackward"), shape);
  }
  Tensor a2 = da == 1 ? unsqueeze(a, 0) : a;
  Tensor b2 = db == 1 ? unsqueeze(b, 1) : b;
  Tensor out = product(a2, b2, a2.dim() == 2 && b2.dim() == 2 ? "MmBackward" : "MatmulBackward");
  if (da == 1) out = squeeze(out, -2);
  if (db == 1) out = squeeze(out, -1);
  return out;
}

Tensor bmm(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = autocast_cast::to_lower(a_in), b = autocast_cast::to_lower(b_in);
  Tensor out = native::bmm(a, b);  // checks the shapes in PyTorch's words
  if (auto node = make_node<MatmulBackward>({a, b})) {
    node->node_name = "BmmBackward";
    node->a = saved(a);
    node->b = saved(b);
    set_history(out, node);
  }
  return out;
}

Tensor linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in) {
  const Tensor x = autocast_cast::to_lower(x_in), weight = autocast_cast::to_lower(weight_in),
               bias = autocast_cast::to_lower(bias_in);
  Tensor out = native::linear(x, weight, bias);
  if (auto node = make_node<LinearBackward>({x, weight, bias})) {
    node->x = saved(x);
    node->weight = saved(weight);
    set_history(out, node);
  }
  return out;
}

}  // namespace loom
