// nn::Dropout: zeroes elements with probability p while training, as
// torch.nn.Dropout; the kept elements are scaled by 1 / (1 - p), so in eval
// mode (or with p = 0) it is the identity. Any shape in, the same shape out.
#pragma once

#include <string>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom {

// Channel-wise ("feature") dropout, as torch.nn.functional.dropout1d /
// dropout2d: while training, each (sample, channel) pair is zeroed whole with
// probability p, and the kept ones are scaled by 1 / (1 - p). The mask
// (x.size(0), x.size(1), 1, ...) is an inverted-dropout mask from loom's
// Philox generator, so the same seed gives the same channels on CPU and CUDA.
// Identity when !training or p == 0. Differentiable in x.
//   dropout1d: input (N, C, L), or (C, L) unbatched (whole channels c).
//   dropout2d: input (N, C, H, W); a 3-D input is taken as (N, C, L), as
//              PyTorch 1.13 does (with a warning there). Other ranks, which
//              PyTorch 1.13 accepts with a deprecation warning, throw.
// Throws loom::Error (PyTorch's words) for p outside [0, 1] or another rank.
Tensor dropout1d(const Tensor& input, double p = 0.5, bool training = true);
Tensor dropout2d(const Tensor& input, double p = 0.5, bool training = true);

}  // namespace loom

namespace loom::nn {

// Options of Dropout, with PyTorch's defaults:
//   Dropout drop(DropoutOptions().p(0.2));
struct DropoutOptions {
  DropoutOptions() = default;
  DropoutOptions(double p) : p_(p) {}  // NOLINT: implicit like libtorch

  double p_ = 0.5;  // probability of an element being zeroed, in [0, 1]

  DropoutOptions& p(double v) { p_ = v; return *this; }
};

class DropoutImpl : public Module {
 public:
  // Throws loom::Error (PyTorch's words) when p is outside [0, 1].
  explicit DropoutImpl(DropoutOptions options = {});

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

// nn::Dropout1d / nn::Dropout2d: the modules of dropout1d / dropout2d with
// is_training(); print as "Dropout1d(p=0.5, inplace=False)".
class Dropout1dImpl : public Module {
 public:
  explicit Dropout1dImpl(DropoutOptions options = {});
  Tensor forward(const Tensor& input) const;
  const DropoutOptions& options() const { return options_; }
  std::string type() const override { return "Dropout1d"; }
  std::string extra_repr() const override;

 private:
  DropoutOptions options_;
};

class Dropout2dImpl : public Module {
 public:
  explicit Dropout2dImpl(DropoutOptions options = {});
  Tensor forward(const Tensor& input) const;
  const DropoutOptions& options() const { return options_; }
  std::string type() const override { return "Dropout2d"; }
  std::string extra_repr() const override;

 private:
  DropoutOptions options_;
};

// The holders (libtorch's TORCH_MODULE): nn::Dropout m(opts); m->forward(x).
LOOM_MODULE(Dropout);
LOOM_MODULE(Dropout1d);
LOOM_MODULE(Dropout2d);

}  // namespace loom::nn
