#include "nn/linear.h"

#include <cmath>

#include "autograd/functions.h"
#include "nn/init.h"

namespace loom::nn {

LinearImpl::LinearImpl(LinearOptions options) : options_(options) {
  LOOM_CHECK(options_.in_features_ >= 0 && options_.out_features_ >= 0,
             "Linear: in_features and out_features must be non-negative, got in_features={}, "
             "out_features={}",
             options_.in_features_, options_.out_features_);
  weight = register_parameter("weight", empty({options_.out_features_, options_.in_features_}));
  bias = register_parameter("bias", options_.bias_ ? empty({options_.out_features_}) : Tensor());
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  // kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in)
  // = 1 / sqrt(fan_in); the bias uses the same bound.
  double fan_in = static_cast<double>(options_.in_features_);
  double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
  init::uniform_(weight, -bound, bound);
  if (bias.defined()) init::uniform_(bias, -bound, bound);
}

Tensor LinearImpl::forward(const Tensor& input) const { return linear(input, weight, bias); }

std::string LinearImpl::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", options_.in_features_,
                     options_.out_features_, repr_bool(bias.defined()));
}

}  // namespace loom::nn
