// nn::Dropout: zeroes elements with probability p while training, as
// torch.nn.Dropout; the kept elements are scaled by 1 / (1 - p), so in eval
// mode (or with p = 0) it is the identity. Any shape in, the same shape out.
#pragma once

#include <string>

#include "nn/module.h"

namespace loom::nn {

// Options of Dropout, with PyTorch's defaults:
//   Dropout drop(DropoutOptions().p(0.2));
struct DropoutOptions {
  DropoutOptions() = default;
  DropoutOptions(double p) : p_(p) {}  // NOLINT: implicit like libtorch

  double p_ = 0.5;  // probability of an element being zeroed, in [0, 1]

  DropoutOptions& p(double v) { p_ = v; return *this; }
};

class Dropout : public Module {
 public:
  // Throws loom::Error (PyTorch's words) when p is outside [0, 1].
  explicit Dropout(DropoutOptions options = {});

  // loom::dropout(input, p, is_training()): the mask comes from loom's default
  // generator (Philox), the same on CPU and CUDA for the same seed.
  Tensor forward(const Tensor& input) const;

  const DropoutOptions& options() const { return options_; }
  std::string type() const override { return "Dropout"; }
  // "p=0.5, inplace=False" (loom has no in-place dropout).
  std::string extra_repr() const override;

 private:
  DropoutOptions options_;
};

}  // namespace loom::nn
