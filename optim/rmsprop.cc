#include "optim/rmsprop.h"

#include "kernels/optim.h"
#include "optim/param_update.h"
#include "optim/python_float.h"

namespace loom::optim {

void RMSpropOptions::validate() const {
  // PyTorch's order and words; NaN fails them, as in Python.
  LOOM_CHECK(0.0 <= lr_, "Invalid learning rate: {}", python_float(lr_));
  LOOM_CHECK(0.0 <= eps_, "Invalid epsilon value: {}", python_float(eps_));
  LOOM_CHECK(0.0 <= momentum_, "Invalid momentum value: {}", python_float(momentum_));
  LOOM_CHECK(0.0 <= weight_decay_, "Invalid weight_decay value: {}", python_float(weight_decay_));
  LOOM_CHECK(0.0 <= alpha_, "Invalid alpha value: {}", python_float(alpha_));
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

void RMSprop::step() {
  for (ParamGroup& group : param_groups()) {
    const auto& o = group.options_as<RMSpropOptions>();
    for (const Tensor& p : group.params) {
      Tensor grad_raw = p.grad();
      if (!grad_raw.defined()) continue;
      Tensor grad = detail::contiguous_grad(p, grad_raw);
      detail::ContiguousParam work(p);
      ParamState& state = state_for(p);
      state.scalars["step"] += 1;
      Tensor& square_avg = detail::state_buffer(state, "square_avg", p);
      Tensor grad_avg, momentum_buffer;
      if (o.momentum() > 0) momentum_buffer = detail::state_buffer(state, "momentum_buffer", p);
      if (o.centered()) grad_avg = detail::state_buffer(state, "grad_avg", p);
      dispatch_floating(p.dtype(), "RMSprop", [&](auto tag) {
        using T = decltype(tag);
        kernels::RmspropHyper<T> h{};
        h.lr = static_cast<T>(o.lr());
        h.alpha = static_cast<T>(o.alpha());
        h.one_minus_alpha = static_cast<T>(1 - o.alpha());
        h.eps = static_cast<T>(o.eps());
        h.weight_decay = static_cast<T>(o.weight_decay());
        h.momentum = static_cast<T>(o.momentum());
        h.centered = o.centered();
        h.maximize = o.maximize();
        LOOM_DISPATCH_DEVICE(p.device(), rmsprop_step, h, p.numel(), detail::ptr<T>(work.work()),
                             detail::ptr<const T>(grad), detail::ptr<T>(square_avg),
                             detail::ptr<T>(grad_avg), detail::ptr<T>(momentum_buffer));
      });
      work.write_back();
    }
  }
}

}  // namespace loom::optim
