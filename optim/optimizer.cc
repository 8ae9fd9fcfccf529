#include "optim/optimizer.h"

#include <charconv>
#include <unordered_set>

#include "core/native.h"
#include "optim/param_update.h"
#include "optim/python_float.h"

namespace loom::optim {

// ---- OptimizerOptions ------------------------------------------------------------

double OptimizerOptions::get_lr() const { return to_scalars().at("lr"); }

void OptimizerOptions::set_lr(double lr) { set_scalar("lr", lr); }

std::map<std::string, double> OptimizerOptions::to_scalars() const {
  std::map<std::string, double> out;
  // fields() hands out pointers for writing too; here they are only read.
  for (const OptionField& f : const_cast<OptimizerOptions*>(this)->fields()) {
    if (auto* d = std::get_if<double*>(&f.value)) out[f.name] = **d;
    else out[f.name] = *std::get<bool*>(f.value) ? 1.0 : 0.0;
  }
  return out;
}

void OptimizerOptions::set_scalar(const std::string& name, double value) {
  for (const OptionField& f : fields()) {
    if (f.name != name) continue;
    if (auto* d = std::get_if<double*>(&f.value)) **d = value;
    else *std::get<bool*>(f.value) = value != 0;
    return;
  }
  fail("{} has no option '{}'", optimizer_name(), name);
}

// ---- ParamGroup ----------------------------------------------------------------------

ParamGroup::ParamGroup(std::vector<Tensor> p) : params(std::move(p)) {}

ParamGroup::ParamGroup(std::vector<Tensor> p, const OptimizerOptions& o)
    : params(std::move(p)), options(o.clone()) {}

ParamGroup::ParamGroup(const ParamGroup& other)
    : params(other.params), options(other.options ? other.options->clone() : nullptr) {}

ParamGroup& ParamGroup::operator=(const ParamGroup& other) {
  if (this != &other) {
    params = other.params;
    options = other.options ? other.options->clone() : nullptr;
  }
  return *this;
}

std::vector<ParamGroup> single_group(std::vector<Tensor> params) {
  // PyTorch checks the list before wrapping it in a group.
  LOOM_CHECK(!params.empty(), "optimizer got an empty parameter list");
  std::vector<ParamGroup> groups;
  groups.emplace_back(std::move(params));
  return groups;
}

// ---- Optimizer -------------------------------------------------------------------------

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults)
    : defaults_(std::move(defaults)) {
  defaults_->validate();
  LOOM_CHECK(!groups.empty(), "optimizer got an empty parameter list");
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  std::unordered_set<const TensorImpl*> mine;
  for (const Tensor& p : group.params) {
    LOOM_CHECK(p.defined(), "optimizer can only optimize Tensors, but one of the params is undefined");
    LOOM_CHECK(is_floating(p.dtype()),
               "optimizer can only optimize floating-point Tensors, but one of the params has dtype {}",
               p.dtype());
    LOOM_CHECK(p.is_leaf() || p.impl().retains_grad, "can't optimize a non-leaf Tensor");
    LOOM_CHECK(mine.insert(p.impl_ptr().get()).second,
               "optimizer contains a parameter group with duplicate parameters");
  }
  for (const ParamGroup& g : param_groups_)
    for (const Tensor& p : g.params)
      LOOM_CHECK(!mine.count(p.impl_ptr().get()),
                 "some parameters appear in more than one parameter group");
  if (group.options) {
    LOOM_CHECK(typeid(*group.options) == typeid(*defaults_),
               "{}: a parameter group was given the options of {}", defaults_->optimizer_name(),
               group.options->optimizer_name());
    group.options->validate();
  } else {
    group.options = defaults_->clone();
  }
  for (const Tensor& p : group.params) detail::check_param_dtype(p.dtype(), *group.options);
  param_groups_.push_back(std::move(group));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const ParamGroup& g : param_groups_) {
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) p.set_grad(Tensor());
      else native::fill_(grad, 0.0);
    }
  }
}

ParamState* Optimizer::state(const Tensor& param) {
  auto it = state_.find(param.impl_ptr().get());
  return it == state_.end() ? nullptr : &it->second;
}

const ParamState* Optimizer::state(const Tensor& param) const {
  auto it = state_.find(param.impl_ptr().get());
  return it == state_.end() ? nullptr : &it->second;
}

ParamState& Optimizer::state_for(const Tensor& param) { return state_[param.impl_ptr().get()]; }

void Optimizer::for_each_update(const ParamUpdate& update) {
  for (ParamGroup& group : param_groups_) {
    for (const Tensor& p : group.params) {
      Tensor grad_raw = p.grad();
      if (!grad_raw.defined()) continue;
      Tensor grad = detail::contiguous_grad(p, grad_raw);
      detail::ContiguousParam work(p);
      update(group, grad, work.work(), state_for(p));
      work.write_back();
    }
  }
}

void check_at_least_zero(double value, const char* what) {
  LOOM_CHECK(0.0 <= value, "Invalid {}: {}", what, python_float(value));
}

void check_not_negative(double value, const char* what) {
  LOOM_CHECK(!(value < 0.0), "Invalid {}: {}", what, python_float(value));
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  std::map<std::string, Tensor> tensors;  // sorted by name, as documented
  std::int64_t index = 0;
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const ParamGroup& group = param_groups_[g];
    for (const auto& [name, value] : group.options->to_scalars())
      out.scalars[fmt::format("param_groups.{}.{}", g, name)] = value;
    std::vector<std::int64_t> indices;
    for (const Tensor& p : group.params) {
      if (const ParamState* s = state(p)) {
        for (const auto& [name, t] : s->tensors)
          tensors[fmt::format("state.{}.{}", index, name)] = native::clone(t);
        for (const auto& [name, v] : s->scalars)
          out.scalars[fmt::format("state.{}.{}", index, name)] = v;
      }
      indices.push_back(index++);
    }
    tensors[fmt::format("param_groups.{}.params", g)] =
        tensor_int64(indices, {static_cast<std::int64_t>(indices.size())});
  }
  for (auto& [key, t] : tensors) out.tensors.insert(key, std::move(t));
  return out;
}

namespace {

// Splits "state.12.exp_avg" into (12, "exp_avg"); false when it does not parse.
bool split_indexed(const std::string& key, const std::string& prefix, std::int64_t* index,
                   std::string* rest) {
  if (key.rfind(prefix, 0) != 0) return false;
  const char* begin = key.data() + prefix.size();
  const char* end = key.data() + key.size();
  auto [ptr, ec] = std::from_chars(begin, end, *index);
  if (ec != std::errc() || ptr == begin || ptr == end || *ptr != '.' || ptr + 1 == end) return false;
  *rest = std::string(ptr + 1, end);
  return true;
}

}  // namespace

void Optimizer::load_state_dict(const StateDict& dict) {
  // Groups: count and sizes first, with PyTorch's messages.
  std::size_t saved_groups = 0;
  while (dict.tensors.count(fmt::format("param_groups.{}.params", saved_groups))) ++saved_groups;
  LOOM_CHECK(saved_groups == param_groups_.size(),
             "loaded state dict has a different number of parameter groups");
  // Saved flat index -> our parameter, pairing the groups' lists in order.
  std::map<std::int64_t, Tensor> id_map;
  std::vector<std::vector<std::int64_t>> saved_ids(saved_groups);
  std::unordered_map<const TensorImpl*, std::size_t> group_of;  // our parameter -> its group
  for (std::size_t g = 0; g < param_groups_.size(); ++g)
    for (const Tensor& p : param_groups_[g].params) group_of[p.impl_ptr().get()] = g;
  for (std::size_t g = 0; g < saved_groups; ++g) {
    const Tensor& saved = dict.tensors.at(fmt::format("param_groups.{}.params", g));
    LOOM_CHECK(saved.dtype() == kInt64 && saved.dim() == 1,
               "load_state_dict: param_groups.{}.params must be a 1-D int64 tensor, got {} {}", g,
               saved.dtype(), shape_str(saved.shape()));
    LOOM_CHECK(saved.numel() == static_cast<std::int64_t>(param_groups_[g].params.size()),
               "loaded state dict contains a parameter group that doesn't match the size of "
               "optimizer's group");
    std::vector<std::int64_t>& ids = saved_ids[g];
    ids = saved.to_vector<std::int64_t>();
    for (std::size_t k = 0; k < ids.size(); ++k) id_map[ids[k]] = param_groups_[g].params[k];
  }

  // Build everything new first; commit only when all of it is valid.
  std::vector<std::unique_ptr<OptimizerOptions>> options;
  for (const ParamGroup& g : param_groups_) options.push_back(g.options->clone());
  std::unordered_map<const TensorImpl*, ParamState> state;
  auto param_at = [&](std::int64_t i, const std::string& key) -> const Tensor& {
    auto it = id_map.find(i);
    LOOM_CHECK(it != id_map.end(), "load_state_dict: '{}' belongs to parameter {}, which no "
               "parameter group holds", key, i);
    return it->second;
  };

  for (const auto& [key, value] : dict.scalars) {
    std::int64_t i;
    std::string name;
    if (split_indexed(key, "param_groups.", &i, &name)) {
      LOOM_CHECK(i >= 0 && i < static_cast<std::int64_t>(options.size()),
                 "load_state_dict: unexpected key '{}'", key);
      options[i]->set_scalar(name, value);
    } else if (split_indexed(key, "state.", &i, &name)) {
      const Tensor& p = param_at(i, key);
      state[p.impl_ptr().get()].scalars[name] = value;
    } else {
      fail("load_state_dict: unexpected key '{}'", key);
    }
  }
  for (const auto& [key, value] : dict.tensors) {
    std::int64_t i;
    std::string name;
    if (split_indexed(key, "param_groups.", &i, &name) && name == "params") continue;
    LOOM_CHECK(split_indexed(key, "state.", &i, &name), "load_state_dict: unexpected key '{}'", key);
    const Tensor& p = param_at(i, key);
    LOOM_CHECK(value.defined() && value.shape() == p.shape(),
               "load_state_dict: '{}' has shape {}, but its parameter has shape {}", key,
               value.defined() ? shape_str(value.shape()) : "undefined", shape_str(p.shape()));
    LOOM_CHECK(is_floating(value.dtype()), "load_state_dict: '{}' has dtype {}, expected a floating dtype",
               key, value.dtype());
    // A copy on the parameter's device in its state dtype (float32 for a
    // 16-bit parameter with master weights), never aliasing the dict.
    const DType dtype = detail::state_dtype(p, *options[group_of.at(p.impl_ptr().get())]);
    Tensor copy = empty(p.shape(), TensorOptions(dtype).device(p.device()));
    native::copy_(copy, value);
    state[p.impl_ptr().get()].tensors[name] = copy;
  }
  // Every entry the optimizer needs: each option of each group, and the full
  // state of each parameter that has any.
  for (std::size_t g = 0; g < options.size(); ++g)
    for (const auto& [name, value] : options[g]->to_scalars()) {
      std::string key = fmt::format("param_groups.{}.{}", g, name);
      LOOM_CHECK(dict.scalars.count(key), "optimizer state entry '{}' is missing", key);
    }
  for (std::size_t g = 0; g < options.size(); ++g) {
    const StateNames needed = state_names(*options[g]);
    for (std::size_t k = 0; k < param_groups_[g].params.size(); ++k) {
      const std::int64_t i = saved_ids[g][k];  // the saved index of the group's k-th parameter
      auto it = state.find(param_groups_[g].params[k].impl_ptr().get());
      if (it == state.end()) continue;  // never updated: no state, as after construction
      for (const std::string& name : needed.tensors)
        LOOM_CHECK(it->second.tensors.count(name), "optimizer state entry 'state.{}.{}' is missing",
                   i, name);
      for (const std::string& name : needed.scalars)
        LOOM_CHECK(it->second.scalars.count(name), "optimizer state entry 'state.{}.{}' is missing",
                   i, name);
      const Tensor& p = param_groups_[g].params[k];
      if (detail::uses_master(p.dtype(), *options[g]))
        LOOM_CHECK(it->second.tensors.count("master_param"),
                   "optimizer state entry 'state.{}.master_param' is missing: parameter {} is {} "
                   "and this {} keeps fp32 master weights (master_weights(true)), but the loaded "
                   "state has none (was it saved by an optimizer without master weights?)",
                   i, i, p.dtype(), options[g]->optimizer_name());
    }
  }
  for (const auto& o : options) o->validate();

  for (std::size_t g = 0; g < options.size(); ++g) param_groups_[g].options = std::move(options[g]);
  state_ = std::move(state);
}

}  // namespace loom::optim
