// Differentiable indexing: embedding. The gradient flows to the table only
// (indices are integers); its backward is the deterministic scatter-sum of
// core/native_index.h.
#include "autograd/functions.h"
#include "autograd/node.h"
#include "autograd/view_backward_ops.h"
#include "core/native.h"
#include "core/native_index.h"

namespace loom {

namespace {

struct EmbeddingBackward final : Node {
  Tensor indices;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {embedding_backward(g[0], indices, input_meta[0].shape[0])};  // differentiable in g
  }
  bool double_backward_ok() const override { return true; }  // reads only the indices
  void release_saved() override { indices = Tensor(); }
  const char* name() const override { return "EmbeddingBackward"; }
};

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices_in) {
  // int32 indices are read as int64, as torch.nn.functional.embedding accepts them.
  const Tensor indices =
      indices_in.defined() && indices_in.dtype() == kInt32 ? native::to(indices_in, kInt64) : indices_in;
  Tensor out = native::embedding(weight, indices);
  if (auto node = make_node<EmbeddingBackward>({weight})) {
    node->indices = saved(indices);
    set_history(out, node);
  }
  return out;
}

}  // namespace loom
