#include "nn/activation.h"

#include "autograd/functions.h"

namespace loom {

namespace {
void check_approximate(const std::string& approximate) {
  LOOM_CHECK(approximate == "none" || approximate == "tanh", "approximate argument must be either none or tanh.");
}
}  // namespace

Tensor gelu(const Tensor& x, const std::string& approximate) {
  check_approximate(approximate);
  LOOM_CHECK(x.defined(), "gelu: the input is an undefined tensor");
  LOOM_CHECK(is_floating(x.dtype()), "\"GeluKernelImpl\" not implemented for '{}'", scalar_type_name(x.dtype()));
  if (approximate == "tanh") {
    constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
    Tensor inner = (x + x * x * x * 0.044715) * kSqrt2OverPi;
    return x * 0.5 * (tanh(inner) + 1.0);
  }
  constexpr double kInvSqrt2 = 0.7071067811865476;  // 1 / sqrt(2)
  return x * 0.5 * (erf(x * kInvSqrt2) + 1.0);
}

}  // namespace loom

namespace loom::nn {

Tensor ReLUImpl::forward(const Tensor& input) const { return relu(input); }
Tensor TanhImpl::forward(const Tensor& input) const { return tanh(input); }
Tensor SigmoidImpl::forward(const Tensor& input) const { return sigmoid(input); }

GELUImpl::GELUImpl(GELUOptions options) : options_(std::move(options)) { check_approximate(options_.approximate_); }

Tensor GELUImpl::forward(const Tensor& input) const { return gelu(input, options_.approximate_); }

}  // namespace loom::nn
