// Indexing operations of loom::native (contracts in core/native_index.h).
#include "core/native_index.h"

#include "core/allocator.h"
#include "core/native.h"
#include "kernels/embedding.h"

namespace loom::native {

namespace {

void check_indices(const Tensor& indices, Device device) {
  LOOM_CHECK(indices.defined(), "embedding: expected defined indices");
  LOOM_CHECK(indices.dtype() == DType::Int64,
             "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
             "Long, Int; but got torch.{}Tensor instead (while checking arguments for embedding)",
             scalar_type_name(indices.dtype()));
  LOOM_CHECK(indices.device() == device,
             "embedding: Expected all tensors to be on the same device, but found at least two "
             "devices, {} and {}!",
             device, indices.device());
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  LOOM_CHECK(weight.defined() && weight.dim() == 2, "'weight' must be 2-D");
  check_indices(indices, weight.device());
  if (is_reduced_float(weight.dtype()))  // a gather: exact in any type
    return to(embedding(to_opmath(weight), indices), weight.dtype());
  const std::int64_t V = weight.size(0), E = weight.size(1), n = indices.numel();
  Shape shape = indices.shape();
  shape.push_back(E);
  Tensor out = empty(shape, TensorOptions(weight.dtype()).device(weight.device()));
  Tensor w = contiguous(weight), idx = contiguous(indices);
  dispatch_floating(weight.dtype(), "embedding", [&](auto tag) {
    using T = decltype(tag);
    const auto* ip = static_cast<const std::int64_t*>(idx.data_ptr());
    LOOM_DISPATCH_DEVICE(weight.device(), embedding_forward, n, V, E,
                         static_cast<const T*>(w.data_ptr()), ip, static_cast<T*>(out.data_ptr()));
  });
  return out;
}

Tensor embedding_backward(const Tensor& grad, const Tensor& indices, std::int64_t num_weights) {
  check_indices(indices, grad.device());
  LOOM_CHECK(grad.dim() == indices.dim() + 1 &&
                 Shape(grad.shape().begin(), grad.shape().end() - 1) == indices.shape(),
             "embedding_backward: expected grad of shape {} + [E], got {}",
             shape_str(indices.shape()), shape_str(grad.shape()));
  if (is_reduced_float(grad.dtype()))  // sums in float32, rounded once
    return to(embedding_backward(to_opmath(grad), indices, num_weights), grad.dtype());
  const std::int64_t V = num_weights, E = grad.shape().back(), n = indices.numel();
  Tensor grad_weight = empty({V, E}, TensorOptions(grad.dtype()).device(grad.device()));
  Tensor g = contiguous(grad), idx = contiguous(indices);
  std::size_t workspace_bytes = 0;
  Tensor workspace;  // device scratch for the CUDA sort, from loom's caching allocator
#if defined(LOOM_WITH_CUDA)
  if (grad.is_cuda()) {
    workspace_bytes = kernels::embedding_backward_workspace_bytes_cuda(n, V);
    workspace = empty({static_cast<std::int64_t>((workspace_bytes + 7) / 8)},
                      TensorOptions(DType::Int64).device(grad.device()));
  }
#endif
  void* ws = workspace.defined() && workspace.numel() > 0 ? workspace.data_ptr() : nullptr;
  dispatch_floating(grad.dtype(), "embedding_backward", [&](auto tag) {
    using T = decltype(tag);
    const auto* ip = static_cast<const std::int64_t*>(idx.data_ptr());
    LOOM_DISPATCH_DEVICE(grad.device(), embedding_backward, n, V, E,
                         static_cast<const T*>(g.data_ptr()), ip,
                         static_cast<T*>(grad_weight.data_ptr()), ws, workspace_bytes);
  });
  return grad_weight;
}

}  // namespace loom::native
