#include "optim/rmsprop.h"

#include <type_traits>

#include "kernels/optim.h"
#include "optim/param_update.h"

namespace loom::optim {

void RMSpropOptions::validate() const {
  // PyTorch's order and words; NaN fails them, as in Python.
  check_at_least_zero(lr_, "learning rate");
  check_at_least_zero(eps_, "epsilon value");
  check_at_least_zero(momentum_, "momentum value");
  check_at_least_zero(weight_decay_, "weight_decay value");
  check_at_least_zero(alpha_, "alpha value");
}

std::vector<OptionField> RMSpropOptions::fields() {
  return {{"lr", &lr_},           {"alpha", &alpha_},       {"eps", &eps_},
          {"weight_decay", &weight_decay_}, {"momentum", &momentum_}, {"centered", &centered_},
          {"maximize", &maximize_}};
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults)
    : Optimizer(single_group(std::move(params)), defaults.clone()) {}
RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone()) {}

StateNames RMSprop::state_names(const OptimizerOptions& options) const {
  const auto& o = dynamic_cast<const RMSpropOptions&>(options);
  StateNames names{{"square_avg"}, {"step"}};
  if (o.momentum() > 0) names.tensors.push_back("momentum_buffer");
  if (o.centered()) names.tensors.push_back("grad_avg");
  return names;
}

void RMSprop::step() {
  for_each_update([&](const ParamGroup& group, const Tensor& grad, const Tensor& work, ParamState& state) {
    const auto& o = group.options_as<RMSpropOptions>();
    const Tensor target = detail::update_target(state, work, o);  // work, or its fp32 master
    state.scalars["step"] += 1;
    Tensor& square_avg = detail::state_buffer(state, "square_avg", target);
    Tensor grad_avg, momentum_buffer;
    if (o.momentum() > 0) momentum_buffer = detail::state_buffer(state, "momentum_buffer", target);
    if (o.centered()) grad_avg = detail::state_buffer(state, "grad_avg", target);
    detail::dispatch_update(work.dtype(), o, [&](auto math, auto elem) {
      using T = decltype(math);
      using P = decltype(elem);
      kernels::RmspropHyper<T> h{};
      h.lr = static_cast<T>(o.lr());
      h.alpha = static_cast<T>(o.alpha());
      h.one_minus_alpha = static_cast<T>(1 - o.alpha());
      h.eps = static_cast<T>(o.eps());
      h.weight_decay = static_cast<T>(o.weight_decay());
      h.momentum = static_cast<T>(o.momentum());
      h.centered = o.centered();
      h.maximize = o.maximize();
      if constexpr (std::is_same_v<T, P>) {
        LOOM_DISPATCH_DEVICE(work.device(), rmsprop_step, h, work.numel(), detail::ptr<T>(work),
                             detail::ptr<const T>(grad), detail::ptr<T>(square_avg),
                             detail::ptr<T>(grad_avg), detail::ptr<T>(momentum_buffer));
      } else {
        LOOM_DISPATCH_DEVICE(work.device(), rmsprop_step_master, h, work.numel(),
                             detail::ptr<float>(target), detail::ptr<P>(work),
                             detail::ptr<const P>(grad), detail::ptr<float>(square_avg),
                             detail::ptr<float>(grad_avg), detail::ptr<float>(momentum_buffer));
      }
    });
  });
}

}  // namespace loom::optim
