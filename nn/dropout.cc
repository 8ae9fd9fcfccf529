#include "nn/dropout.h"

#include "autograd/functions.h"

namespace loom {

namespace {

void check_p(double p) {
  LOOM_CHECK(p >= 0.0 && p <= 1.0, "dropout probability has to be between 0 and 1, but got {}", p);
}

// x times an inverted-dropout mask of shape (x.size(0), x.size(1), 1, ...).
Tensor feature_dropout(const Tensor& x, double p, bool training) {
  LOOM_CHECK(x.dim() >= 2, "Feature dropout requires at least 2 dimensions in the input");
  if (!training || p == 0.0) return x;
  Shape mask_shape(static_cast<std::size_t>(x.dim()), 1);
  mask_shape[0] = x.size(0);
  mask_shape[1] = x.size(1);
  // dropout of ones: 0 or 1 / (1 - p) from the Philox generator (all 0 when p == 1).
  Tensor mask = dropout(ones(mask_shape, TensorOptions(x.dtype()).device(x.device())), p, true);
  return x * mask;
}

}  // namespace

Tensor dropout1d(const Tensor& input, double p, bool training) {
  check_p(p);
  LOOM_CHECK(input.dim() == 2 || input.dim() == 3,
             "dropout1d: Expected 2D or 3D input, but received a {}D input. Note that dropout1d "
             "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
             "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).",
             input.dim());
  if (input.dim() == 2) return squeeze(feature_dropout(unsqueeze(input, 0), p, training), 0);
  return feature_dropout(input, p, training);
}

Tensor dropout2d(const Tensor& input, double p, bool training) {
  check_p(p);
  LOOM_CHECK(input.dim() == 3 || input.dim() == 4,
             "dropout2d: Received a {}-D input to dropout2d, which is deprecated and will result in "
             "an error in a future release. To retain the behavior and silence this warning, please "
             "use dropout instead. Note that dropout2d exists to provide channel-wise dropout on "
             "inputs with 2 spatial dimensions, a channel dimension, and an optional batch dimension "
             "(i.e. 3D or 4D inputs).",
             input.dim());
  return feature_dropout(input, p, training);
}

}  // namespace loom

namespace loom::nn {

DropoutImpl::DropoutImpl(DropoutOptions options) : options_(options) {
  LOOM_CHECK(options_.p_ >= 0.0 && options_.p_ <= 1.0,
             "dropout probability has to be between 0 and 1, but got {}", options_.p_);
}

Tensor DropoutImpl::forward(const Tensor& input) const { return dropout(input, options_.p_, is_training()); }

std::string DropoutImpl::extra_repr() const { return "p=" + repr_float(options_.p_) + ", inplace=False"; }

Dropout1dImpl::Dropout1dImpl(DropoutOptions options) : options_(options) { check_p(options_.p_); }
Tensor Dropout1dImpl::forward(const Tensor& input) const { return dropout1d(input, options_.p_, is_training()); }
std::string Dropout1dImpl::extra_repr() const { return "p=" + repr_float(options_.p_) + ", inplace=False"; }

Dropout2dImpl::Dropout2dImpl(DropoutOptions options) : options_(options) { check_p(options_.p_); }
Tensor Dropout2dImpl::forward(const Tensor& input) const { return dropout2d(input, options_.p_, is_training()); }
std::string Dropout2dImpl::extra_repr() const { return "p=" + repr_float(options_.p_) + ", inplace=False"; }

}  // namespace loom::nn
