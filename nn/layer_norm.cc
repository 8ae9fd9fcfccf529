#include "nn/layer_norm.h"

#include <cstdint>
#include <vector>

#include "autograd/functions.h"
#include "nn/init.h"

namespace loom {

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  LOOM_CHECK(!normalized_shape.empty(),
             "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
             "one element, but got normalized_shape = []");
  LOOM_CHECK(input.defined(), "layer_norm: the input is an undefined tensor");
  const auto D = static_cast<std::int64_t>(normalized_shape.size());
  const std::int64_t lead = input.dim() - D;
  bool fits = lead >= 0;
  for (std::int64_t i = 0; fits && i < D; ++i) fits = input.size(lead + i) == normalized_shape[i];
  LOOM_CHECK(fits, "Given normalized_shape={}, expected input with shape [*, {}], but got input of size{}",
             shape_str(normalized_shape), fmt::join(normalized_shape, ", "), shape_str(input.shape()));
  LOOM_CHECK(is_floating(input.dtype()), "layer_norm: expected a floating input, got dtype {}",
             input.dtype());
  for (const auto& [t, what] : {std::pair{weight, "weight"}, std::pair{bias, "bias"}})
    LOOM_CHECK(!t.defined() || t.shape() == normalized_shape,
               "Expected {} to be of same shape as normalized_shape, but got {} of shape {} and "
               "normalized_shape = {}",
               what, what, shape_str(t.shape()), shape_str(normalized_shape));
  // PyTorch refuses mixed dtypes here (no promotion): "expected scalar type Double but found Float".
  for (const Tensor& t : {weight, bias})
    LOOM_CHECK(!t.defined() || t.dtype() == input.dtype(), "expected scalar type {} but found {}",
               scalar_type_name(input.dtype()), scalar_type_name(t.dtype()));
  Shape dims;
  for (std::int64_t i = 0; i < D; ++i) dims.push_back(lead + i);
  Tensor centered = input - mean(input, dims, /*keepdim=*/true);
  Tensor var = mean(square(centered), dims, /*keepdim=*/true);  // biased, as PyTorch
  Tensor y = centered / sqrt(var + eps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

}  // namespace loom

namespace loom::nn {

namespace {
// Python's repr of a tuple of sizes: (4,) or (3, 4).
std::string tuple_repr(const Shape& s) {
  if (s.size() == 1) return fmt::format("({},)", s[0]);
  return fmt::format("({})", fmt::join(s, ", "));
}
}  // namespace


LayerNormImpl::LayerNormImpl(LayerNormOptions options) : options_(std::move(options)) {
  const Shape& s = options_.normalized_shape_;
  LOOM_CHECK(!s.empty(),
             "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
             "one element, but got normalized_shape = []");
  for (std::int64_t n : s)
    LOOM_CHECK(n > 0, "LayerNorm: every size of normalized_shape must be positive, got {}", shape_str(s));
  LOOM_CHECK(options_.eps_ >= 0, "LayerNorm: eps must be non-negative, got {}", options_.eps_);
  weight = register_parameter("weight", options_.elementwise_affine_ ? empty(s) : Tensor());
  bias = register_parameter("bias", options_.elementwise_affine_ ? empty(s) : Tensor());
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor LayerNormImpl::forward(const Tensor& input) const {
  return layer_norm(input, options_.normalized_shape_, weight, bias, options_.eps_);
}

std::string LayerNormImpl::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", tuple_repr(options_.normalized_shape_),
                     repr_float(options_.eps_), repr_bool(options_.elementwise_affine_));
}

}  // namespace loom::nn
