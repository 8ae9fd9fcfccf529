#include "nn/dropout.h"

#include "autograd/functions.h"

namespace loom::nn {

Dropout::Dropout(DropoutOptions options) : options_(options) {
  LOOM_CHECK(options_.p_ >= 0.0 && options_.p_ <= 1.0,
             "dropout probability has to be between 0 and 1, but got {}", options_.p_);
}

Tensor Dropout::forward(const Tensor& input) const { return dropout(input, options_.p_, is_training()); }

std::string Dropout::extra_repr() const { return "p=" + repr_float(options_.p_) + ", inplace=False"; }

}  // namespace loom::nn
