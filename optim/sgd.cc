#include "optim/sgd.h"

#include <type_traits>

#include "kernels/optim.h"
#include "optim/param_update.h"

namespace loom::optim {

void SGDOptions::validate() const {
  // PyTorch's order and words; NaN passes `value < 0.0`, as in Python.
  check_not_negative(lr_, "learning rate");
  check_not_negative(momentum_, "momentum value");
  check_not_negative(weight_decay_, "weight_decay value");
  LOOM_CHECK(!(nesterov_ && (momentum_ <= 0 || dampening_ != 0)),
             "Nesterov momentum requires a momentum and zero dampening");
}

std::vector<OptionField> SGDOptions::fields() {
  return {{"lr", &lr_},           {"momentum", &momentum_}, {"dampening", &dampening_},
          {"weight_decay", &weight_decay_}, {"nesterov", &nesterov_}, {"maximize", &maximize_}};
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults)
    : Optimizer(single_group(std::move(params)), defaults.clone()) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone()) {}

StateNames SGD::state_names(const OptimizerOptions& options) const {
  StateNames names;
  if (dynamic_cast<const SGDOptions&>(options).momentum() != 0) names.tensors.push_back("momentum_buffer");
  return names;
}

void SGD::step() {
  for_each_update([&](const ParamGroup& group, const Tensor& grad, const Tensor& work, ParamState& state) {
    const auto& o = group.options_as<SGDOptions>();
    const Tensor target = detail::update_target(state, work, o);  // work, or its fp32 master
    Tensor buf;
    bool init = false;
    if (o.momentum() != 0) buf = detail::state_buffer(state, "momentum_buffer", target, &init);
    detail::dispatch_update(work.dtype(), o, [&](auto math, auto elem) {
      using T = decltype(math);
      using P = decltype(elem);
      kernels::SgdHyper<T> h{};
      h.lr = static_cast<T>(o.lr());
      h.momentum = static_cast<T>(o.momentum());
      h.one_minus_dampening = static_cast<T>(1 - o.dampening());
      h.weight_decay = static_cast<T>(o.weight_decay());
      h.nesterov = o.nesterov();
      h.maximize = o.maximize();
      h.init_buffer = init;
      if constexpr (std::is_same_v<T, P>) {
        LOOM_DISPATCH_DEVICE(work.device(), sgd_step, h, work.numel(), detail::ptr<T>(work),
                             detail::ptr<const T>(grad), detail::ptr<T>(buf));
      } else {
        LOOM_DISPATCH_DEVICE(work.device(), sgd_step_master, h, work.numel(), detail::ptr<float>(target),
                             detail::ptr<P>(work), detail::ptr<const P>(grad), detail::ptr<float>(buf));
      }
    });
  });
}

}  // namespace loom::optim
