// Averaged stochastic gradient descent: torch.optim.ASGD (PyTorch 1.13,
// single-tensor path), as AWD-LSTM switches to after SGD stalls.
//
//   step += 1;  g = maximize ? -grad : grad;  g += weight_decay * p
//   p *= 1 - lambd * eta;  p -= eta * g
//   ax = (mu == 1) ? p : ax + mu * (p - ax)
//   eta = lr / (1 + lambd * lr * step)^alpha;  mu = 1 / max(1, step - t0)
// State per parameter: "step", "eta", "mu" (scalars) and "ax" (the averaged
// parameter, a tensor like p). eta starts at the group's lr, mu at 1, ax at
// zeros. As in PyTorch, eta and mu are held as float32 values (PyTorch keeps
// them in float32 0-dim tensors), whatever the parameter's dtype; the update
// math itself runs in the parameter's dtype.
//
// The averages are what a trained model is evaluated with:
//   asgd.swap_with_averages();   // parameters <-> ax
//   evaluate(model);
//   asgd.swap_with_averages();   // back to the iterates; training continues
#pragma once

#include "optim/optimizer.h"

namespace loom::optim {

struct ASGDOptions final : OptimizerOptions {
  explicit ASGDOptions(double lr = 1e-2) : lr_(lr) {}

  LOOM_OPTIM_ARG(ASGDOptions, double, lr);                   // learning rate; 1e-2
  LOOM_OPTIM_ARG(ASGDOptions, double, lambd) = 1e-4;         // decay term
  LOOM_OPTIM_ARG(ASGDOptions, double, alpha) = 0.75;         // power of the eta schedule
  LOOM_OPTIM_ARG(ASGDOptions, double, t0) = 1e6;             // step after which averaging starts
  LOOM_OPTIM_ARG(ASGDOptions, double, weight_decay) = 0;     // L2 penalty
  LOOM_OPTIM_ARG(ASGDOptions, bool, maximize) = false;       // maximize the objective
  // bfloat16 / float16 parameters are updated through fp32 master weights
  // (state "master_param"), with "ax" in fp32; without it they are refused.
  // No effect on float32 / float64 parameters. Not a hyper-parameter: not in
  // the state_dict's param_groups; load_state_dict keeps it.
  LOOM_OPTIM_ARG(ASGDOptions, bool, master_weights) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<ASGDOptions>(*this);
  }
  bool keeps_master_weights() const override { return master_weights_; }
  const char* optimizer_name() const override { return "ASGD"; }
  // PyTorch's two checks, order and words: "Invalid learning rate: {}",
  // "Invalid weight_decay value: {}" (NaN fails them, as in Python).
  void validate() const override;

 protected:
  std::vector<OptionField> fields() override;
};

// ASGD over float32 / float64 parameters on any device (bfloat16 / float16
// ones through fp32 master weights, as the other optimizers). state_dict() holds
// "state.{i}.ax" and the scalars "state.{i}.step", "state.{i}.eta",
// "state.{i}.mu"; load_state_dict() requires all four for a parameter with state.
class ASGD final : public Optimizer {
 public:
  // One group of `params` (non-empty) with `defaults`.
  ASGD(std::vector<Tensor> params, const ASGDOptions& defaults = ASGDOptions());
  // Several groups; a group without options takes `defaults`.
  ASGD(std::vector<ParamGroup> groups, const ASGDOptions& defaults = ASGDOptions());

  void step() override;
  StateNames state_names(const OptimizerOptions& options) const override;

  // The averaged value of `param` (its state "ax", shared, not a copy; fp32
  // for a 16-bit parameter with master weights), or an
  // undefined tensor before the first step that updated it. Throws
  // loom::Error when `param` belongs to no group of this optimizer.
  Tensor averaged(const Tensor& param) const;

  // Exchanges the values of every parameter that has state with its average
  // "ax" (in place, without autograd; each parameter's storage is kept; with
  // master weights the fp32 master is exchanged and the parameter set to it).
  // Calling it twice restores the iterates exactly. Parameters without state
  // are left alone. Do not call step() between the two calls unless the
  // averages are meant to become the iterates.
  void swap_with_averages();
};

}  // namespace loom::optim
