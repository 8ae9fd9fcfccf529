#include "optim/clip_grad.h"

#include <cmath>
#include <limits>

#include "core/native.h"
#include "optim/python_float.h"

namespace loom::optim {

namespace {

using kernels::BinaryOp;
using kernels::CompareOp;
using kernels::UnaryOp;

// torch.norm(x, p) of all elements of x as a 0-dim tensor of x's dtype.
Tensor vector_norm(const Tensor& x, double p) {
  const double kInf = std::numeric_limits<double>::infinity();
  Tensor flat = native::contiguous(x);
  flat = make_view(flat, {flat.numel()}, {1}, flat.storage_offset());
  if (flat.numel() == 0) return native::zeros({}, TensorOptions(x.dtype()).device(x.device()));
  Tensor a = native::unary(UnaryOp::Abs, flat);
  if (p == kInf) return native::max(a, 0).first;
  if (p == -kInf) return native::unary(UnaryOp::Neg, native::max(native::unary(UnaryOp::Neg, a), 0).first);
  if (p == 0) {
    Tensor zero = native::zeros({}, TensorOptions(x.dtype()).device(x.device()));
    return native::sum(native::to(native::compare(CompareOp::Ne, a, zero), x.dtype()), {});
  }
  if (p == 1) return native::sum(a, {});
  if (p == 2) return native::unary(UnaryOp::Sqrt, native::sum(native::unary(UnaryOp::Square, a), {}));
  Tensor powered = native::unary(UnaryOp::PowScalar, a, p);
  return native::unary(UnaryOp::PowScalar, native::sum(powered, {}), 1.0 / p);
}

}  // namespace

Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  std::vector<Tensor> grads;
  for (const Tensor& p : parameters)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return native::zeros({}, TensorOptions(kFloat32));

  const Device device = grads[0].device();
  DType dtype = kFloat32;
  for (const Tensor& g : grads)
    if (g.dtype() == kFloat64) dtype = kFloat64;

  // Per-gradient norms gathered into one vector [k] (torch.stack), in order.
  const auto k = static_cast<std::int64_t>(grads.size());
  Tensor norms = native::zeros({k}, TensorOptions(dtype).device(device));
  for (std::int64_t i = 0; i < k; ++i) {
    Tensor n = native::to(native::to(vector_norm(grads[i], norm_type), device), dtype);
    native::copy_(make_view(norms, {}, {}, i), n);
  }
  Tensor total_norm = vector_norm(norms, norm_type);

  if (error_if_nonfinite) {
    double t = total_norm.item();
    LOOM_CHECK(std::isfinite(t),
               "The total norm of order {} for gradients from `parameters` is non-finite, so it "
               "cannot be clipped. To disable this error and scale the gradients by the non-finite "
               "norm anyway, set `error_if_nonfinite=False`",
               python_float(norm_type));
  }
  // clip_coef = max_norm / (total_norm + 1e-6): Python's float / Tensor is
  // reciprocal(tensor) * float. Then clamp(max=1).
  Tensor clip_coef = native::unary(
      UnaryOp::MulScalar,
      native::unary(UnaryOp::Reciprocal, native::unary(UnaryOp::AddScalar, total_norm, 1e-6)),
      max_norm);
  Tensor clip_coef_clamped = native::unary(UnaryOp::ClampMax, clip_coef, 1.0);
  for (const Tensor& g : grads) {
    Tensor coef = native::to(native::to(clip_coef_clamped, g.device()), g.dtype());
    native::copy_(g, native::binary(BinaryOp::Mul, g, coef));
  }
  return total_norm;
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  for (const Tensor& p : parameters) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor clamped = native::unary(UnaryOp::ClampMax,
                                   native::unary(UnaryOp::ClampMin, g, -clip_value), clip_value);
    native::copy_(g, clamped);
  }
}

}  // namespace loom::optim
