// Adam and AdamW: torch.optim.Adam and torch.optim.AdamW (PyTorch 1.13,
// single-tensor path), sharing one fused update kernel.
//
//   step += 1;  g = maximize ? -grad : grad
//   Adam:  g += weight_decay * p           AdamW: p *= 1 - lr * weight_decay
//   m = beta1 * m + (1 - beta1) * g;       v = beta2 * v + (1 - beta2) * g * g
//   amsgrad: vmax = max(vmax, v), use vmax for v below
//   p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
// State per parameter: "step" (scalar), "exp_avg", "exp_avg_sq" and, with
// amsgrad, "max_exp_avg_sq".
#pragma once

#include <utility>

#include "optim/optimizer.h"

namespace loom::optim {

// Adam's (beta1, beta2).
using Betas = std::pair<double, double>;

struct AdamOptions final : OptimizerOptions {
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}

  LOOM_OPTIM_ARG(AdamOptions, double, lr);                                 // learning rate; 1e-3
  LOOM_OPTIM_ARG(AdamOptions, Betas, betas) = {0.9, 0.999};        // moment decays
  LOOM_OPTIM_ARG(AdamOptions, double, eps) = 1e-8;                         // denominator term
  LOOM_OPTIM_ARG(AdamOptions, double, weight_decay) = 0;                   // L2 penalty
  LOOM_OPTIM_ARG(AdamOptions, bool, amsgrad) = false;                      // AMSGrad variant
  LOOM_OPTIM_ARG(AdamOptions, bool, maximize) = false;                     // maximize the objective
  // bfloat16 / float16 parameters are updated through fp32 master weights
  // (state "master_param"), with all state in fp32; without it they are
  // refused. No effect on float32 / float64 parameters. Not a hyper-parameter:
  // not in the state_dict's param_groups; load_state_dict keeps it.
  LOOM_OPTIM_ARG(AdamOptions, bool, master_weights) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<AdamOptions>(*this);
  }
  bool keeps_master_weights() const override { return master_weights_; }
  const char* optimizer_name() const override { return "Adam"; }
  // "Invalid learning rate: {}", "Invalid epsilon value: {}", "Invalid beta
  // parameter at index 0: {}" (and 1), "Invalid weight_decay value: {}".
  void validate() const override;

 protected:
  std::vector<OptionField> fields() override;  // betas as "betas.0", "betas.1"
};

struct AdamWOptions final : OptimizerOptions {
  explicit AdamWOptions(double lr = 1e-3) : lr_(lr) {}

  LOOM_OPTIM_ARG(AdamWOptions, double, lr);                                // learning rate; 1e-3
  LOOM_OPTIM_ARG(AdamWOptions, Betas, betas) = {0.9, 0.999};       // moment decays
  LOOM_OPTIM_ARG(AdamWOptions, double, eps) = 1e-8;                        // denominator term
  LOOM_OPTIM_ARG(AdamWOptions, double, weight_decay) = 1e-2;               // decoupled decay
  LOOM_OPTIM_ARG(AdamWOptions, bool, amsgrad) = false;                     // AMSGrad variant
  LOOM_OPTIM_ARG(AdamWOptions, bool, maximize) = false;                    // maximize the objective
  // bfloat16 / float16 parameters are updated through fp32 master weights
  // (state "master_param"), with all state in fp32; without it they are
  // refused. No effect on float32 / float64 parameters. Not a hyper-parameter:
  // not in the state_dict's param_groups; load_state_dict keeps it.
  LOOM_OPTIM_ARG(AdamWOptions, bool, master_weights) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<AdamWOptions>(*this);
  }
  bool keeps_master_weights() const override { return master_weights_; }
  const char* optimizer_name() const override { return "AdamW"; }
  // The same checks and messages as AdamOptions.
  void validate() const override;

 protected:
  std::vector<OptionField> fields() override;  // betas as "betas.0", "betas.1"
};

class Adam final : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions());
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = AdamOptions());
  void step() override;
  StateNames state_names(const OptimizerOptions& options) const override;
};

class AdamW final : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = AdamWOptions());
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = AdamWOptions());
  void step() override;
  StateNames state_names(const OptimizerOptions& options) const override;
};

}  // namespace loom::optim
