// nn::Linear: y = x W^T + b, as torch.nn.Linear.
//
// Shapes: input (*, in_features) -> output (*, out_features).
// Parameters: weight (out_features, in_features), bias (out_features) when
// options.bias; both start U(-1/sqrt(in_features), 1/sqrt(in_features)) --
// PyTorch's kaiming_uniform_(a=sqrt(5)) for the weight and its bias rule.
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom::nn {

// Options of Linear, with PyTorch's defaults. Builder style:
//   Linear fc(LinearOptions(3, 4).bias(false));
struct LinearOptions {
  LinearOptions(std::int64_t in_features, std::int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}

  std::int64_t in_features_;   // size of each input sample (required, >= 0)
  std::int64_t out_features_;  // size of each output sample (required, >= 0)
  bool bias_ = true;           // learn an additive bias

  LinearOptions& bias(bool v) { bias_ = v; return *this; }
};

class LinearImpl : public Module {
 public:
  // Registers weight (and bias) and initialises them; throws loom::Error for a
  // negative size.
  explicit LinearImpl(LinearOptions options);
  LinearImpl(std::int64_t in_features, std::int64_t out_features)
      : LinearImpl(LinearOptions(in_features, out_features)) {}

  // Re-draws weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features))
  // (bound 0 when in_features is 0).
  void reset_parameters();
  // input (*, in_features) -> (*, out_features); throws loom::Error (from
  // loom::linear) when the last dimension is not in_features.
  Tensor forward(const Tensor& input) const;

  const LinearOptions& options() const { return options_; }
  std::string type() const override { return "Linear"; }
  // "in_features=3, out_features=4, bias=True"
  std::string extra_repr() const override;

  Tensor weight;  // (out_features, in_features)
  Tensor bias;    // (out_features), undefined when !options.bias

 private:
  LinearOptions options_;
};

// The holders (libtorch's TORCH_MODULE): nn::Linear m(opts); m->forward(x).
LOOM_MODULE(Linear);

}  // namespace loom::nn
