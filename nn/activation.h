// Activation modules, as torch.nn.ReLU, Tanh, Sigmoid and GELU: stateless
// modules whose forward applies the elementwise function (any shape in, the
// same shape out, floating dtypes), and the gelu function they use.
#pragma once

#include <string>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom {

// torch.nn.functional.gelu: x * Phi(x) with approximate "none" (the exact
// 0.5 x (1 + erf(x / sqrt(2)))) or "tanh" (0.5 x (1 + tanh(sqrt(2 / pi) (x +
// 0.044715 x^3)))). Differentiable (composed from erf / tanh). Throws
// loom::Error, in PyTorch's words, for any other approximate.
Tensor gelu(const Tensor& x, const std::string& approximate = "none");

}  // namespace loom

namespace loom::nn {

// max(0, x), as torch.nn.ReLU(); prints "ReLU()".
class ReLUImpl : public Module {
 public:
  Tensor forward(const Tensor& input) const;
  std::string type() const override { return "ReLU"; }
};

// tanh(x), as torch.nn.Tanh().
class TanhImpl : public Module {
 public:
  Tensor forward(const Tensor& input) const;
  std::string type() const override { return "Tanh"; }
};

// 1 / (1 + exp(-x)), as torch.nn.Sigmoid().
class SigmoidImpl : public Module {
 public:
  Tensor forward(const Tensor& input) const;
  std::string type() const override { return "Sigmoid"; }
};

// Options of GELU: approximate "none" (default) or "tanh".
struct GELUOptions {
  GELUOptions() = default;
  GELUOptions(std::string approximate) : approximate_(std::move(approximate)) {}  // NOLINT: implicit like libtorch
  GELUOptions(const char* approximate) : approximate_(approximate) {}             // NOLINT

  std::string approximate_ = "none";

  GELUOptions& approximate(std::string v) { approximate_ = std::move(v); return *this; }
};

// loom::gelu(x, approximate), as torch.nn.GELU; prints "GELU(approximate='none')".
class GELUImpl : public Module {
 public:
  // Throws loom::Error (PyTorch's words) for an approximate other than "none" / "tanh".
  explicit GELUImpl(GELUOptions options = {});
  Tensor forward(const Tensor& input) const;
  const GELUOptions& options() const { return options_; }
  std::string type() const override { return "GELU"; }
  std::string extra_repr() const override { return "approximate='" + options_.approximate_ + "'"; }

 private:
  GELUOptions options_;
};

// The holders (libtorch's TORCH_MODULE): nn::ReLU m(opts); m->forward(x).
LOOM_MODULE(ReLU);
LOOM_MODULE(Tanh);
LOOM_MODULE(Sigmoid);
LOOM_MODULE(GELU);

}  // namespace loom::nn
