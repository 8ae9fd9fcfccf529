// nn::Module: the base of every layer, as torch.nn.Module.
//
// A module owns named parameters (leaf tensors that require grad), named
// buffers (state that is saved but not trained) and named child modules, all
// kept in registration order. Names are dotted through children exactly as
// PyTorch spells them ("encoder.weight", "layers.0.bias"), so a PyTorch
// state_dict maps one to one.
//
//   class Net : public nn::Module {
//    public:
//     Net() {
//       fc = register_module("fc", std::make_shared<nn::LinearImpl>(3, 4));
//       scale = register_parameter("scale", ones({4}));
//     }
//     std::shared_ptr<nn::LinearImpl> fc;
//     Tensor scale;
//   };
//
// It prints as PyTorch prints it, under its own class name ("Net(\n  (fc):
// Linear(...)\n)", nn/print.h: std::cout << net, fmt::print("{}", net)).
//
// Handles. A registered parameter is stored as a Tensor handle to the same
// TensorImpl the caller holds (e.g. `Linear::weight`) and that an optimizer
// holds. Operations that change a parameter (to(), load_state_dict(), the
// init:: functions) therefore work IN PLACE on that TensorImpl: every handle
// keeps seeing the current value.
#pragma once

#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/state_dict.h"
#include "core/tensor.h"

namespace loom::nn {

// What state_dict() returns and load_state_dict() takes: loom's one
// StateDict (core/state_dict.h), an insertion-ordered map from name to
// Tensor (PyTorch's OrderedDict), shared with the optimizers.
using StateDict = ::loom::StateDict;

// What load_state_dict() found (PyTorch's _IncompatibleKeys); both lists are
// empty after a strict load, which throws instead.
struct LoadStateDictResult {
  std::vector<std::string> missing_keys;     // in the module, absent from the map
  std::vector<std::string> unexpected_keys;  // in the map, absent from the module
};

// The (dotted name, tensor) pairs that named_parameters() / named_buffers()
// return, in order: a std::vector of std::pair, also indexable by name as
// libtorch's OrderedDict (`net->named_parameters()["fc.weight"]`).
class NamedTensors : public std::vector<std::pair<std::string, Tensor>> {
 public:
  using std::vector<std::pair<std::string, Tensor>>::vector;
  using std::vector<std::pair<std::string, Tensor>>::operator[];
  // The tensor named `key`; throws loom::Error "Key 'fc.wieght' is not
  // defined" (libtorch's words) when there is none.
  const Tensor& operator[](const std::string& key) const;
  const Tensor& operator[](const char* key) const { return (*this)[std::string(key)]; }
  // The tensor named `key`, or nullptr.
  const Tensor* find(const std::string& key) const;
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  // The names, and the tensors, in order.
  std::vector<std::string> keys() const;
  std::vector<Tensor> values() const;
};

class Module {
 public:
  Module() = default;
  // A module that prints as `name` instead of its C++ class name (libtorch's
  // Module(std::string name)).
  explicit Module(std::string name) : name_(std::move(name)) {}
  virtual ~Module() = default;
  // Modules are not copied (a copy would share its children); they may be moved.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // ---- registration --------------------------------------------------------------
  // Registers `value` under `name` and returns the same handle. A defined value
  // must be a leaf of floating dtype; it is marked requires_grad(requires_grad).
  // An undefined value registers an absent parameter (PyTorch's None, e.g. the
  // bias of Linear(bias=false)): it is skipped by every listing. Re-registering a
  // parameter's name replaces it (as PyTorch). Throws loom::Error (PyTorch's
  // words) for an empty name, a name with '.', a name used by a buffer or child,
  // or a non-leaf tensor.
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  // Registers a buffer (any dtype, no gradient); `persistent` buffers are part of
  // state_dict(). An undefined value is an absent buffer. Same name rules.
  Tensor register_buffer(const std::string& name, Tensor value, bool persistent = true);
  // Registers a child module and returns it. Same name rules; re-registering a
  // child's name replaces it.
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    register_child(name, module);
    return module;
  }
  // Registers the module that a holder (nn::Sequential, nn::ModuleList, ...)
  // holds and returns the holder, as libtorch's register_module.
  template <typename Holder>
    requires requires(const Holder& h) {
      { h.ptr() } -> std::convertible_to<std::shared_ptr<Module>>;
    }
  Holder register_module(const std::string& name, Holder holder) {
    register_child(name, holder.ptr());
    return holder;
  }

  // Removes the child registered as `name`, as libtorch's unregister_module;
  // throws loom::Error when there is none.
  void unregister_module(const std::string& name);

  // ---- listing (registration order; children after the module's own entries) -----
  // (dotted name, parameter) over this module and, when recurse, every
  // descendant in pre-order, as torch's named_parameters(): a parameter shared
  // by several modules appears once, under its first name.
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  // (dotted name, buffer), same order and rules.
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  // The direct children, in registration order.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  std::vector<std::shared_ptr<Module>> children() const;
  // Every descendant in pre-order with its dotted name (this module itself is not
  // included: it is not owned by a shared_ptr).
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;

  // The parameter registered under the dotted `name` ("fc.weight"), or an
  // undefined tensor when there is none (or it is absent, like a None bias).
  Tensor named_parameter(const std::string& name) const;
  // The buffer under the dotted `name`, or an undefined tensor.
  Tensor named_buffer(const std::string& name) const;

  // ---- modes -------------------------------------------------------------------
  // Sets training mode on this module and every descendant (Dropout and the
  // recurrent layers' inter-layer dropout act only in training). Modules start
  // in training mode, as in PyTorch.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- moving --------------------------------------------------------------------
  // Moves every parameter, buffer and existing .grad to `device`, in place: each
  // TensorImpl gets the new storage, so every handle to a parameter (module
  // members, an optimizer's list) stays valid and sees the moved values;
  // parameters stay leaves that require grad. A graph recorded before the move
  // still refers to the old storage.
  void to(Device device);
  // Converts every floating parameter, buffer and .grad to `dtype` in place (same
  // handle rules); integer and bool buffers are kept, as in PyTorch. Throws for
  // a non-floating dtype, in PyTorch's words.
  void to(DType dtype);

  // Sets every parameter's .grad to undefined (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  // ---- checkpoints ---------------------------------------------------------------
  // The parameters and persistent buffers under their dotted names: each module's
  // own parameters, then its own buffers, then its children's (pre-order), as
  // PyTorch orders them. Values are handles to the live tensors, detached from
  // the graph (they share storage: clone() to snapshot).
  StateDict state_dict() const;
  // Copies every value of `state` into the module's tensor of the same name,
  // converting dtype and device, without recording gradients. Throws loom::Error
  // listing, in PyTorch's words, "Missing key(s) in state_dict", "Unexpected
  // key(s) in state_dict" (both only when strict) and every "size mismatch for
  // {name}: ...". The check comes first: on error nothing is copied (PyTorch
  // copies what matches before it throws). Returns the keys a non-strict load
  // skipped. Scalars in `state` (the StateDict type is shared with the
  // optimizers) are unexpected keys.
  LoadStateDictResult load_state_dict(const StateDict& state, bool strict = true);

  // ---- printing ------------------------------------------------------------------
  // The class name PyTorch prints ("Linear"): the name given to Module(name), or
  // else the C++ class name without namespaces or enclosing scopes ("Net" for a
  // class app::Net; nn/print.cc). Built-in modules override it.
  virtual std::string type() const;
  // The same name, as libtorch spells it.
  std::string name() const { return type(); }
  // The text inside the parentheses, e.g. "in_features=3, out_features=4, bias=True".
  virtual std::string extra_repr() const { return ""; }
  // PyTorch's repr: "Linear(in_features=3, out_features=4, bias=True)", children
  // on their own lines as "(name): ...", indented by two spaces per level.
  std::string str() const;

 protected:
  bool training_ = true;

 private:
  std::string name_;  // Module(name); empty: the C++ class name
  struct Entry {
    std::string name;
    Tensor value;          // undefined: registered as absent (None)
    bool persistent = true;  // buffers only
  };

  void register_child(const std::string& name, std::shared_ptr<Module> module);
  // Throws unless `name` may be registered as a `kind` ("parameter", "buffer",
  // "module"): non-empty, without '.', and not used by another kind.
  void check_name(const std::string& name, const char* kind) const;
  // Calls fn(prefix + name, entry) for every parameter (params) or buffer in pre-order.
  template <typename Fn>
  void visit(bool params, bool recurse, const std::string& prefix, Fn&& fn) const;
  // Converts every tensor in place with `convert` (returns the same handle to skip).
  template <typename Convert>
  void apply_in_place(Convert&& convert);

  std::vector<Entry> parameters_;
  std::vector<Entry> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Python's repr of a float, for extra_repr(): 0.5 -> "0.5", 1.0 -> "1.0", 1e-05 -> "1e-05".
std::string repr_float(double value);
// Python's repr of a bool: "True" / "False".
inline const char* repr_bool(bool value) { return value ? "True" : "False"; }

}  // namespace loom::nn

// operator<< and fmt formatters for modules and module pointers.
#include "nn/print.h"  // IWYU pragma: export
