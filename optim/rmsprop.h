// RMSprop: torch.optim.RMSprop (PyTorch 1.13, single-tensor path).
//
//   step += 1;  g = maximize ? -grad : grad;  g += weight_decay * p
//   sq = alpha * sq + (1 - alpha) * g * g
//   centered: ga = alpha * ga + (1 - alpha) * g;  avg = sqrt(sq - ga * ga) + eps
//   else:     avg = sqrt(sq) + eps
//   momentum > 0: buf = momentum * buf + g / avg;  p -= lr * buf
//   else:         p -= lr * g / avg
// State per parameter: "step" (scalar), "square_avg", "momentum_buffer"
// (momentum > 0) and "grad_avg" (centered).
#pragma once

#include "optim/optimizer.h"

namespace loom::optim {

struct RMSpropOptions final : OptimizerOptions {
  explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}

  LOOM_OPTIM_ARG(RMSpropOptions, double, lr);                // learning rate; 1e-2
  LOOM_OPTIM_ARG(RMSpropOptions, double, alpha) = 0.99;      // smoothing constant
  LOOM_OPTIM_ARG(RMSpropOptions, double, eps) = 1e-8;        // denominator term
  LOOM_OPTIM_ARG(RMSpropOptions, double, weight_decay) = 0;  // L2 penalty
  LOOM_OPTIM_ARG(RMSpropOptions, double, momentum) = 0;      // momentum factor
  LOOM_OPTIM_ARG(RMSpropOptions, bool, centered) = false;    // normalise by the variance
  LOOM_OPTIM_ARG(RMSpropOptions, bool, maximize) = false;    // maximize the objective
  // bfloat16 / float16 parameters are updated through fp32 master weights
  // (state "master_param"), with all state in fp32; without it they are
  // refused. No effect on float32 / float64 parameters. Not a hyper-parameter:
  // not in the state_dict's param_groups; load_state_dict keeps it.
  LOOM_OPTIM_ARG(RMSpropOptions, bool, master_weights) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<RMSpropOptions>(*this);
  }
  bool keeps_master_weights() const override { return master_weights_; }
  const char* optimizer_name() const override { return "RMSprop"; }
  // "Invalid learning rate: {}", "Invalid epsilon value: {}", "Invalid
  // momentum value: {}", "Invalid weight_decay value: {}", "Invalid alpha value: {}".
  void validate() const override;

 protected:
  std::vector<OptionField> fields() override;
};

class RMSprop final : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults = RMSpropOptions());
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults = RMSpropOptions());
  void step() override;
  StateNames state_names(const OptimizerOptions& options) const override;
};

}  // namespace loom::optim
