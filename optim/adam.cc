#include "optim/adam.h"

#include <cmath>
#include <type_traits>

#include "kernels/optim.h"
#include "optim/param_update.h"
#include "optim/python_float.h"

namespace loom::optim {

namespace {

// PyTorch's checks, shared by Adam and AdamW (NaN fails them, as in Python).
void validate_adam(double lr, double eps, const Betas& betas, double weight_decay) {
  check_at_least_zero(lr, "learning rate");
  check_at_least_zero(eps, "epsilon value");
  LOOM_CHECK(0.0 <= betas.first && betas.first < 1.0, "Invalid beta parameter at index 0: {}",
             python_float(betas.first));
  LOOM_CHECK(0.0 <= betas.second && betas.second < 1.0, "Invalid beta parameter at index 1: {}",
             python_float(betas.second));
  check_at_least_zero(weight_decay, "weight_decay value");
}

// The update of one parameter (see Optimizer::for_each_update) with the
// options of its group: _single_tensor_adam / _single_tensor_adamw.
template <typename Options>
void adam_update(const ParamGroup& group, bool decoupled, const Tensor& grad, const Tensor& work,
                 ParamState& state) {
  const auto& o = group.options_as<Options>();
  const Tensor target = detail::update_target(state, work, o);  // work, or its fp32 master
  double& step = state.scalars["step"];  // 0 when new
  Tensor& exp_avg = detail::state_buffer(state, "exp_avg", target);
  Tensor& exp_avg_sq = detail::state_buffer(state, "exp_avg_sq", target);
  Tensor max_exp_avg_sq;
  if (o.amsgrad()) max_exp_avg_sq = detail::state_buffer(state, "max_exp_avg_sq", target);
  step += 1;
  // Host scalars in double, exactly as Python computes them.
  const double beta1 = o.betas().first, beta2 = o.betas().second;
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  const double step_size = o.lr() / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);
  detail::dispatch_update(work.dtype(), o, [&](auto math, auto elem) {
    using T = decltype(math);
    using P = decltype(elem);
    kernels::AdamHyper<T> h{};
    h.beta1 = static_cast<T>(beta1);
    h.beta2 = static_cast<T>(beta2);
    h.one_minus_beta1 = static_cast<T>(1 - beta1);
    h.one_minus_beta2 = static_cast<T>(1 - beta2);
    h.eps = static_cast<T>(o.eps());
    h.weight_decay = static_cast<T>(o.weight_decay());
    h.decay_factor = static_cast<T>(1 - o.lr() * o.weight_decay());
    h.bias_correction2_sqrt = static_cast<T>(bias_correction2_sqrt);
    h.neg_step_size = static_cast<T>(-step_size);
    h.decoupled_weight_decay = decoupled;
    h.amsgrad = o.amsgrad();
    h.maximize = o.maximize();
    if constexpr (std::is_same_v<T, P>) {
      LOOM_DISPATCH_DEVICE(work.device(), adam_step, h, work.numel(), detail::ptr<T>(work),
                           detail::ptr<const T>(grad), detail::ptr<T>(exp_avg),
                           detail::ptr<T>(exp_avg_sq), detail::ptr<T>(max_exp_avg_sq));
    } else {
      LOOM_DISPATCH_DEVICE(work.device(), adam_step_master, h, work.numel(),
                           detail::ptr<float>(target), detail::ptr<P>(work),
                           detail::ptr<const P>(grad), detail::ptr<float>(exp_avg),
                           detail::ptr<float>(exp_avg_sq), detail::ptr<float>(max_exp_avg_sq));
    }
  });
}

}  // namespace

void AdamOptions::validate() const { validate_adam(lr_, eps_, betas_, weight_decay_); }
void AdamWOptions::validate() const { validate_adam(lr_, eps_, betas_, weight_decay_); }

std::vector<OptionField> AdamOptions::fields() {
  return {{"lr", &lr_},           {"betas.0", &betas_.first},       {"betas.1", &betas_.second},
          {"eps", &eps_},         {"weight_decay", &weight_decay_}, {"amsgrad", &amsgrad_},
          {"maximize", &maximize_}};
}

std::vector<OptionField> AdamWOptions::fields() {
  return {{"lr", &lr_},           {"betas.0", &betas_.first},       {"betas.1", &betas_.second},
          {"eps", &eps_},         {"weight_decay", &weight_decay_}, {"amsgrad", &amsgrad_},
          {"maximize", &maximize_}};
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults)
    : Optimizer(single_group(std::move(params)), defaults.clone()) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone()) {}
void Adam::step() {
  for_each_update([](const ParamGroup& group, const Tensor& grad, const Tensor& work, ParamState& state) {
    adam_update<AdamOptions>(group, /*decoupled=*/false, grad, work, state);
  });
}

namespace {
template <typename Options>
StateNames adam_state_names(const OptimizerOptions& options) {
  StateNames names{{"exp_avg", "exp_avg_sq"}, {"step"}};
  if (dynamic_cast<const Options&>(options).amsgrad()) names.tensors.push_back("max_exp_avg_sq");
  return names;
}
}  // namespace

StateNames Adam::state_names(const OptimizerOptions& options) const {
  return adam_state_names<AdamOptions>(options);
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& defaults)
    : Optimizer(single_group(std::move(params)), defaults.clone()) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone()) {}
StateNames AdamW::state_names(const OptimizerOptions& options) const {
  return adam_state_names<AdamWOptions>(options);
}

void AdamW::step() {
  for_each_update([](const ParamGroup& group, const Tensor& grad, const Tensor& work, ParamState& state) {
    adam_update<AdamWOptions>(group, /*decoupled=*/true, grad, work, state);
  });
}

}  // namespace loom::optim
