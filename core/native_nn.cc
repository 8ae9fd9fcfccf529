// Softmax and the NLL loss of loom::native (contracts in core/native_nn.h).
#include "core/native_nn.h"

#include "core/native.h"
#include "kernels/softmax.h"

namespace loom::native {

namespace {

// x as [outer, D, inner] around `dim` (already wrapped; a 0-dim x is [1, 1, 1]).
struct SoftmaxGeometry {
  std::int64_t outer = 1, D = 1, inner = 1;
};

SoftmaxGeometry softmax_geometry(const Shape& shape, std::int64_t dim) {
  SoftmaxGeometry g;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(shape.size()); ++d) {
    if (d < dim) g.outer *= shape[d];
    else if (d == dim) g.D = shape[d];
    else g.inner *= shape[d];
  }
  return g;
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim, bool log_softmax) {
  const char* name = log_softmax ? "log_softmax" : "softmax";
  if (is_reduced_float(x.dtype())) return to(softmax(to_opmath(x), dim, log_softmax), x.dtype());
  std::int64_t d = x.wrap_dim(dim);
  Tensor packed = contiguous(x);
  Tensor y = empty(x.shape(), TensorOptions(x.dtype()).device(x.device()));
  SoftmaxGeometry g = softmax_geometry(x.shape(), d);
  dispatch_floating(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if (x.numel() == 0) return;
    LOOM_DISPATCH_DEVICE(x.device(), softmax_forward, log_softmax, g.outer, g.D, g.inner,
                         static_cast<const T*>(packed.data_ptr()), static_cast<T*>(y.data_ptr()));
  });
  return y;
}

Tensor softmax_backward(const Tensor& grad, const Tensor& y, std::int64_t dim, bool log_softmax) {
  const char* name = log_softmax ? "log_softmax_backward" : "softmax_backward";
  check_same_dtype_device(name, grad, y);
  LOOM_CHECK(grad.shape() == y.shape(), "{}: expected grad of shape {}, got {}", name,
             shape_str(y.shape()), shape_str(grad.shape()));
  if (is_reduced_float(y.dtype()))
    return to(softmax_backward(to_opmath(grad), to_opmath(y), dim, log_softmax), y.dtype());
  std::int64_t d = y.wrap_dim(dim);
  Tensor g_packed = contiguous(grad), y_packed = contiguous(y);
  Tensor dx = empty(y.shape(), TensorOptions(y.dtype()).device(y.device()));
  SoftmaxGeometry g = softmax_geometry(y.shape(), d);
  dispatch_floating(y.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if (y.numel() == 0) return;
    LOOM_DISPATCH_DEVICE(y.device(), softmax_backward, log_softmax, g.outer, g.D, g.inner,
                         static_cast<const T*>(g_packed.data_ptr()),
                         static_cast<const T*>(y_packed.data_ptr()),
                         static_cast<T*>(dx.data_ptr()));
  });
  return dx;
}

std::pair<Tensor, Tensor> nll_loss(const Tensor& input, const Tensor& target,
                                   std::int64_t ignore_index, LossReduction reduction) {
  LOOM_CHECK(target.dtype() == kInt64, "expected scalar type Long but found {}",
             scalar_type_name(target.dtype()));
  LOOM_CHECK(input.dim() == 1 || input.dim() == 2, "input tensor should be 1D or 2D (got shape {})",
             shape_str(input.shape()));
  LOOM_CHECK(target.dim() <= 1, "0D or 1D target tensor expected, multi-target not supported "
             "(got target of shape {})", shape_str(target.shape()));
  bool no_batch_dim = input.dim() == 1 && target.dim() == 0;
  if (input.dim() == 2 && target.dim() == 1) {
    LOOM_CHECK(input.size(0) == target.size(0),
               "Expected input batch_size ({}) to match target batch_size ({}).", input.size(0),
               target.size(0));
  } else {
    LOOM_CHECK(no_batch_dim, "size mismatch (got input: {}, target: {})", shape_str(input.shape()),
               shape_str(target.shape()));
  }
  LOOM_CHECK(input.device() == target.device(),
             "Expected all tensors to be on the same device, but found at least two devices, {} "
             "and {}!",
             input.device(), target.device());
  if (is_reduced_float(input.dtype())) {
    auto [output, count] = nll_loss(to_opmath(input), target, ignore_index, reduction);
    return {to(output, input.dtype()), to(count, input.dtype())};
  }
  std::int64_t N = no_batch_dim ? 1 : input.size(0);
  std::int64_t C = input.size(-1);
  TensorOptions opts = TensorOptions(input.dtype()).device(input.device());
  Tensor output = empty(reduction == LossReduction::None ? target.shape() : Shape{}, opts);
  Tensor count = empty({}, opts);
  Tensor bad = empty({2}, TensorOptions(kInt64).device(input.device()));
  Tensor in = contiguous(input), tg = contiguous(target);
  dispatch_floating(input.dtype(), "nll_loss", [&](auto tag) {
    using T = decltype(tag);
    LOOM_DISPATCH_DEVICE(input.device(), nll_loss_forward, reduction, N, C,
                         static_cast<const T*>(in.data_ptr()),
                         static_cast<const kernels::index_t*>(tg.data_ptr()), ignore_index,
                         static_cast<T*>(output.data_ptr()), static_cast<T*>(count.data_ptr()),
                         static_cast<kernels::index_t*>(bad.data_ptr()));
  });
  // On CUDA this copy waits for the kernel: the one host sync of this call.
  std::vector<std::int64_t> flag = bad.to_vector<std::int64_t>();
  if (flag[0] >= 0) throw Error(fmt::format("Target {} is out of bounds.", flag[1]));
  return {output, count};
}

Tensor nll_loss_backward(const Tensor& grad, const Shape& input_shape, const Tensor& target,
                         const Tensor& count, std::int64_t ignore_index, LossReduction reduction) {
  Shape expected = reduction == LossReduction::None ? target.shape() : Shape{};
  LOOM_CHECK(grad.shape() == expected, "nll_loss_backward: expected grad of shape {}, got {}",
             shape_str(expected), shape_str(grad.shape()));
  check_same_dtype_device("nll_loss_backward", grad, count);
  if (is_reduced_float(grad.dtype()))
    return to(nll_loss_backward(to_opmath(grad), input_shape, target, to_opmath(count), ignore_index,
                                reduction),
              grad.dtype());
  std::int64_t N = input_shape.size() == 1 ? 1 : input_shape[0];
  std::int64_t C = input_shape.back();
  Tensor g = contiguous(grad), tg = contiguous(target);
  Tensor grad_input = empty(input_shape, TensorOptions(grad.dtype()).device(grad.device()));
  dispatch_floating(grad.dtype(), "nll_loss_backward", [&](auto tag) {
    using T = decltype(tag);
    LOOM_DISPATCH_DEVICE(grad.device(), nll_loss_backward, reduction, N, C,
                         static_cast<const T*>(g.data_ptr()),
                         static_cast<const kernels::index_t*>(tg.data_ptr()), ignore_index,
                         static_cast<const T*>(count.data_ptr()),
                         static_cast<T*>(grad_input.data_ptr()));
  });
  return grad_input;
}

}  // namespace loom::native
