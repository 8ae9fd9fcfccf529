#include "optim/asgd.h"

#include <algorithm>
#include <cmath>

#include "core/native.h"
#include "optim/param_update.h"

namespace loom::optim {

namespace {

// PyTorch keeps eta and mu in float32 0-dim tensors (torch.tensor(python_float)).
double as_float32(double v) { return static_cast<double>(static_cast<float>(v)); }

Tensor scaled(const Tensor& x, double s) { return native::unary(native::UnaryOp::MulScalar, x, s); }

}  // namespace

void ASGDOptions::validate() const {
  check_at_least_zero(lr_, "learning rate");
  check_at_least_zero(weight_decay_, "weight_decay value");
}

std::vector<OptionField> ASGDOptions::fields() {
  return {{"lr", &lr_}, {"lambd", &lambd_}, {"alpha", &alpha_}, {"t0", &t0_},
          {"weight_decay", &weight_decay_}, {"maximize", &maximize_}};
}

ASGD::ASGD(std::vector<Tensor> params, const ASGDOptions& defaults)
    : Optimizer(single_group(std::move(params)), defaults.clone()) {}

ASGD::ASGD(std::vector<ParamGroup> groups, const ASGDOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone()) {}

StateNames ASGD::state_names(const OptimizerOptions&) const { return {{"ax"}, {"eta", "mu", "step"}}; }

void ASGD::step() {
  for_each_update([&](const ParamGroup& group, const Tensor& grad, const Tensor& work, ParamState& state) {
    const auto& o = group.options_as<ASGDOptions>();
    const Tensor target = detail::update_target(state, work, o);  // work, or its fp32 master
    const Tensor g32 = detail::uses_master(work.dtype(), o) ? native::to(grad, kFloat32) : grad;
    if (!state.scalars.count("step")) {           // PyTorch's lazy initialisation
      state.scalars["step"] = 0;
      state.scalars["eta"] = as_float32(o.lr());
      state.scalars["mu"] = 1;
    }
    Tensor& ax = detail::state_buffer(state, "ax", target);
    const double step = state.scalars["step"] += 1;
    const double eta = state.scalars["eta"];
    const double mu = state.scalars["mu"];

    Tensor g = o.maximize() ? native::unary(native::UnaryOp::Neg, g32) : g32;
    if (o.weight_decay() != 0) g = native::binary(native::BinaryOp::Add, g, scaled(target, o.weight_decay()));
    Tensor p = scaled(target, 1 - o.lambd() * eta);                     // decay
    p = native::binary(native::BinaryOp::Add, p, scaled(g, -eta));      // gradient step
    native::copy_(target, p);
    if (mu != 1) {
      Tensor diff = native::binary(native::BinaryOp::Sub, target, ax);
      native::copy_(ax, native::binary(native::BinaryOp::Add, ax, scaled(diff, mu)));
    } else {
      native::copy_(ax, target);
    }
    if (!target.is_same(work)) native::copy_(work, target);  // the parameter: the master, rounded
    state.scalars["eta"] = as_float32(o.lr() / std::pow(1 + o.lambd() * o.lr() * step, o.alpha()));
    state.scalars["mu"] = as_float32(1 / std::max(1.0, step - o.t0()));
  });
}

Tensor ASGD::averaged(const Tensor& param) const {
  bool mine = false;
  for (const ParamGroup& g : param_groups())
    for (const Tensor& p : g.params) mine = mine || p.is_same(param);
  LOOM_CHECK(mine, "ASGD::averaged: the tensor is not a parameter of this optimizer");
  const ParamState* s = state(param);
  if (!s) return Tensor();
  auto it = s->tensors.find("ax");
  return it == s->tensors.end() ? Tensor() : it->second;
}

void ASGD::swap_with_averages() {
  for (const ParamGroup& g : param_groups()) {
    for (const Tensor& p : g.params) {
      ParamState* s = state(p);
      if (!s || !s->tensors.count("ax")) continue;
      Tensor& ax = s->tensors.at("ax");
      auto master = s->tensors.find("master_param");
      const Tensor target = master == s->tensors.end() ? p : master->second;
      Tensor iterate = native::clone(target);
      native::copy_(target, ax);
      native::copy_(ax, iterate);
      if (!target.is_same(p)) native::copy_(p, target);
    }
  }
}

}  // namespace loom::optim
