// loom::optim::Optimizer: the base of every optimizer, over parameter groups,
// as torch.optim.Optimizer.
//
//   optim::SGD sgd(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
//   optim::Adam adam({optim::ParamGroup({w1, w2}),                        // defaults
//                     optim::ParamGroup({b}, optim::AdamOptions(1e-2))},  // own options
//                    optim::AdamOptions(1e-3));
//   for (...) { adam.zero_grad(); loss.backward(); adam.step(); }
//
// A parameter group holds handles to leaf tensors and its own options (lr,
// weight_decay, ...). Per-parameter state (step counts, momentum buffers,
// moment estimates) is created lazily by step() on the parameter's device and
// dtype, and is exported by state_dict() as a flat map of named tensors and
// scalars that a checkpoint writer can store and load_state_dict() restores
// exactly. Names (i: the parameter's position over all groups, in order;
// g: the group's position):
//
//   "param_groups.{g}.params"   Int64 tensor: the flat indices i of group g
//   "param_groups.{g}.{option}" scalar: each option of group g ("lr",
//                               "momentum", "betas.0", ...; bools as 0 / 1)
//   "state.{i}.{buffer}"        tensor: "momentum_buffer", "exp_avg",
//                               "exp_avg_sq", "max_exp_avg_sq", "square_avg",
//                               "grad_avg" (PyTorch's state keys)
//   "state.{i}.step"            scalar: updates taken (Adam, AdamW, RMSprop)
//   "state.{i}.master_param"    float32 tensor: the fp32 master weights of a
//                               bfloat16 / float16 parameter whose group has
//                               master_weights(true) (PyTorch has no such key;
//                               the name is loom's)
//
// A 16-bit parameter is accepted only by a group with master_weights(true);
// its state tensors are then all float32 (the master copy and the moments),
// and the parameter itself holds the master rounded to its dtype after every
// step. master_weights is fixed at construction: it is not an entry of the
// state_dict, and load_state_dict keeps the optimizer's own setting.
// This is PyTorch's state_dict() with its nesting flattened into dotted names.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/state_dict.h"
#include "core/tensor.h"

namespace loom::optim {

// A flat snapshot of an optimizer's or a scheduler's state: tensors and
// scalars by dotted name, in loom's one StateDict (core/state_dict.h), the
// type modules use too. The tensors are copies, owned by the snapshot.
using StateDict = ::loom::StateDict;

// One option of an options struct, by name, for state_dict and generic access.
struct OptionField {
  std::string name;
  std::variant<double*, bool*> value;
};

// The options of one parameter group. Each optimizer derives its own struct
// (SGDOptions, AdamOptions, ...) with fluent setters: SGDOptions(0.1).momentum(0.9).
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  // The optimizer's name as PyTorch spells it: "SGD", "Adam", "AdamW", "RMSprop".
  virtual const char* optimizer_name() const = 0;
  // Throws loom::Error in PyTorch's words when an option is invalid
  // ("Invalid learning rate: -0.1").
  virtual void validate() const = 0;
  // True when the group updates bfloat16 / float16 parameters through fp32
  // master weights (the options' master_weights(true)); false by default.
  virtual bool keeps_master_weights() const { return false; }

  // The learning rate (every optimizer has one; schedulers change it).
  double get_lr() const;
  void set_lr(double lr);
  // Every option by name; bools as 0 / 1.
  std::map<std::string, double> to_scalars() const;
  // Sets the option `name` (bools: value != 0); throws loom::Error for a name
  // this optimizer does not have.
  void set_scalar(const std::string& name, double value);

 protected:
  // Every option, with a pointer to its storage in this object.
  virtual std::vector<OptionField> fields() = 0;
};

// Declares an option `name` of type T with a fluent setter and a getter:
//   LOOM_OPTIM_ARG(SGDOptions, double, momentum) = 0;   // the default
#define LOOM_OPTIM_ARG(Self, T, name)                   \
 public:                                                \
  Self& name(T value) {                                 \
    name##_ = value;                                    \
    return *this;                                       \
  }                                                     \
  T name() const { return name##_; }                    \
                                                        \
 private:                                               \
  T name##_

// Parameters optimized together with one set of options.
struct ParamGroup {
  // A group that takes the optimizer's default options.
  ParamGroup(std::vector<Tensor> params);  // NOLINT: implicit, like a Python list
  // A group with its own options (of the optimizer's options type).
  ParamGroup(std::vector<Tensor> params, const OptimizerOptions& options);
  ParamGroup(const ParamGroup& other);
  ParamGroup& operator=(const ParamGroup& other);
  ParamGroup(ParamGroup&&) = default;
  ParamGroup& operator=(ParamGroup&&) = default;

  // The group's options as the optimizer's own type, e.g. options_as<SGDOptions>().
  template <typename O>
  O& options_as() const {
    return dynamic_cast<O&>(*options);
  }

  std::vector<Tensor> params;
  // Never null once the group belongs to an optimizer.
  std::unique_ptr<OptimizerOptions> options;
};

// The state of one parameter, with PyTorch's keys.
struct ParamState {
  std::map<std::string, Tensor> tensors;  // "momentum_buffer", "exp_avg", ...
  std::map<std::string, double> scalars;  // "step"
};

// The names of the state entries step() keeps for a parameter.
struct StateNames {
  std::vector<std::string> tensors;  // "exp_avg", "exp_avg_sq", ...
  std::vector<std::string> scalars;  // "step"
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; parameters whose .grad
  // is undefined are skipped (their state is not touched), as in PyTorch.
  virtual void step() = 0;

  // The state entries step() keeps for every parameter it has updated, in a
  // group with `options` (the optimizer's own options type): Adam / AdamW
  // exp_avg, exp_avg_sq (and max_exp_avg_sq with amsgrad) and step; RMSprop
  // square_avg (momentum_buffer with momentum > 0, grad_avg when centered)
  // and step; SGD momentum_buffer when momentum != 0, else none.
  virtual StateNames state_names(const OptimizerOptions& options) const = 0;

  // Sets every parameter's .grad to undefined (set_to_none, PyTorch 2's
  // default; 1.13's default was false), or fills the defined ones with zeros.
  void zero_grad(bool set_to_none = true);

  // Appends a group. Its options default to the optimizer's; given options must
  // be of the optimizer's type and valid. Throws loom::Error, in PyTorch's
  // words where it has them, for an undefined or non-leaf tensor ("can't
  // optimize a non-leaf Tensor"), a non-floating one, a bfloat16 / float16 one
  // in a group without master_weights(true), a tensor repeated within
  // the group (PyTorch only warns) or already in another group ("some
  // parameters appear in more than one parameter group").
  void add_param_group(ParamGroup group);

  std::vector<ParamGroup>& param_groups() { return param_groups_; }
  const std::vector<ParamGroup>& param_groups() const { return param_groups_; }
  // The options a group gets when it gives none.
  const OptimizerOptions& defaults() const { return *defaults_; }

  // The state of `param`, or null when step() has not created it yet.
  ParamState* state(const Tensor& param);
  const ParamState* state(const Tensor& param) const;
  // The state of `param`, created empty on first use (for step()).
  ParamState& state_for(const Tensor& param);

  // A copy of the whole state, named as described at the top of this file.
  StateDict state_dict() const;
  // Restores a state_dict(): the options of every group and the state of every
  // parameter (tensors copied to the parameter's device and dtype). The groups
  // must match in number and sizes (PyTorch's messages: "loaded state dict has
  // a different number of parameter groups", "loaded state dict contains a
  // parameter group that doesn't match the size of optimizer's group"); state
  // tensors must have their parameter's shape. Every entry the optimizer
  // needs is required: each option of each group, and for each parameter with
  // any state, every entry of state_names() for its group's (loaded) options;
  // a missing one throws "optimizer state entry 'state.0.step' is missing"
  // (a tensor where a scalar belongs, or the reverse, counts as missing).
  // A 16-bit parameter of a group with master_weights(true) that has state
  // also needs "state.{i}.master_param" (a state saved without master weights
  // is refused with a message that says so); its state tensors are loaded as
  // float32, everyone else's in the parameter's dtype.
  // Entries the optimizer does not use are accepted, as in PyTorch. On error
  // nothing is changed.
  void load_state_dict(const StateDict& dict);

 protected:
  // Throws "optimizer got an empty parameter list" when groups is empty.
  Optimizer(std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults);

  // The update of one parameter, as a step() gives it to for_each_update():
  //   group  the parameter's group (its options: group.options_as<...>())
  //   grad   its gradient, contiguous, with its shape, dtype and device
  //          (16-bit for a 16-bit parameter: the master path converts it)
  //   work   the contiguous memory to update in place: the parameter itself,
  //          or a contiguous copy that is stored back into it afterwards
  //   state  its ParamState (created empty on the first update)
  using ParamUpdate = std::function<void(const ParamGroup& group, const Tensor& grad,
                                         const Tensor& work, ParamState& state)>;
  // The loop every step() shares: calls `update` for each parameter of each
  // group, in order, whose .grad is defined; parameters without one are
  // skipped and get no state. Throws loom::Error when a gradient's shape,
  // dtype or device differs from its parameter's.
  void for_each_update(const ParamUpdate& update);

 private:
  std::vector<ParamGroup> param_groups_;
  std::unique_ptr<OptimizerOptions> defaults_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

// Wraps a list of tensors as one group (helper for the optimizers' constructors).
std::vector<ParamGroup> single_group(std::vector<Tensor> params);

// PyTorch's option checks, in its words: both throw loom::Error
// "Invalid {what}: {value}" (value as Python prints a float), e.g.
// "Invalid learning rate: -0.1".
//   check_at_least_zero: unless 0 <= value; NaN fails, as Python's
//                        `if not 0.0 <= value` (Adam, AdamW, RMSprop)
//   check_not_negative:  when value < 0; NaN passes, as Python's
//                        `if value < 0.0` (SGD)
void check_at_least_zero(double value, const char* what);
void check_not_negative(double value, const char* what);

}  // namespace loom::optim
