#include "optim/sgd.h"

#include "kernels/optim.h"
#include "optim/param_update.h"
#include "optim/python_float.h"

namespace loom::optim {

void SGDOptions::validate() const {
  LOOM_CHECK(!(lr_ < 0.0), "Invalid learning rate: {}", python_float(lr_));
  LOOM_CHECK(!(momentum_ < 0.0), "Invalid momentum value: {}", python_float(momentum_));
  LOOM_CHECK(!(weight_decay_ < 0.0), "Invalid weight_decay value: {}", python_float(weight_decay_));
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

void SGD::step() {
  for (ParamGroup& group : param_groups()) {
    const auto& o = group.options_as<SGDOptions>();
    for (const Tensor& p : group.params) {
      Tensor grad_raw = p.grad();
      if (!grad_raw.defined()) continue;
      Tensor grad = detail::contiguous_grad(p, grad_raw);
      detail::ContiguousParam work(p);
      ParamState& state = state_for(p);
      Tensor buf;
      bool init = false;
      if (o.momentum() != 0) buf = detail::state_buffer(state, "momentum_buffer", p, &init);
      dispatch_floating(p.dtype(), "SGD", [&](auto tag) {
        using T = decltype(tag);
        kernels::SgdHyper<T> h{};
        h.lr = static_cast<T>(o.lr());
        h.momentum = static_cast<T>(o.momentum());
        h.one_minus_dampening = static_cast<T>(1 - o.dampening());
        h.weight_decay = static_cast<T>(o.weight_decay());
        h.nesterov = o.nesterov();
        h.maximize = o.maximize();
        h.init_buffer = init;
        LOOM_DISPATCH_DEVICE(p.device(), sgd_step, h, p.numel(), detail::ptr<T>(work.work()),
                             detail::ptr<const T>(grad), detail::ptr<T>(buf));
      });
      work.write_back();
    }
  }
}

}  // namespace loom::optim
