// Stochastic gradient descent, optionally with momentum: torch.optim.SGD.
//
//   g = maximize ? -grad : grad;  g += weight_decay * p
//   momentum != 0: buf = (first step) ? g : momentum * buf + (1 - dampening) * g
//                  g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
// State per parameter: "momentum_buffer" (only when momentum != 0).
#pragma once

#include "optim/optimizer.h"

namespace loom::optim {

struct SGDOptions final : OptimizerOptions {
  // lr has no default, as in PyTorch.
  explicit SGDOptions(double lr) : lr_(lr) {}

  LOOM_OPTIM_ARG(SGDOptions, double, lr);                  // learning rate (required)
  LOOM_OPTIM_ARG(SGDOptions, double, momentum) = 0;        // momentum factor
  LOOM_OPTIM_ARG(SGDOptions, double, dampening) = 0;       // dampening for momentum
  LOOM_OPTIM_ARG(SGDOptions, double, weight_decay) = 0;    // L2 penalty
  LOOM_OPTIM_ARG(SGDOptions, bool, nesterov) = false;      // Nesterov momentum
  LOOM_OPTIM_ARG(SGDOptions, bool, maximize) = false;      // maximize the objective
  // bfloat16 / float16 parameters are updated through fp32 master weights
  // (state "master_param"), with all state in fp32; without it they are
  // refused. No effect on float32 / float64 parameters. Not a hyper-parameter:
  // not in the state_dict's param_groups; load_state_dict keeps it.
  LOOM_OPTIM_ARG(SGDOptions, bool, master_weights) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<SGDOptions>(*this);
  }
  bool keeps_master_weights() const override { return master_weights_; }
  const char* optimizer_name() const override { return "SGD"; }
  // "Invalid learning rate: {lr}" (lr < 0), "Invalid momentum value: {}",
  // "Invalid weight_decay value: {}", "Nesterov momentum requires a momentum
  // and zero dampening".
  void validate() const override;

 protected:
  std::vector<OptionField> fields() override;
};

class SGD final : public Optimizer {
 public:
  // One group of `params` (non-empty) with `defaults`.
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);
  // Several groups; a group without options takes `defaults`.
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);

  void step() override;
  StateNames state_names(const OptimizerOptions& options) const override;
};

}  // namespace loom::optim
