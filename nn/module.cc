#include "nn/module.h"

#include <unordered_set>

#include "autograd/node.h"
#include "core/native.h"

namespace loom::nn {

// ---- registration ----------------------------------------------------------------------

namespace {

template <typename List>
bool has_name(const List& list, const std::string& name) {
  for (const auto& e : list)
    if (e.name == name) return true;
  return false;
}

bool has_child(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children,
               const std::string& name) {
  for (const auto& c : children)
    if (c.first == name) return true;
  return false;
}

// PyTorch prints a shape in load errors as torch.Size([3, 3]).
std::string torch_size(const Shape& shape) { return "torch.Size(" + shape_str(shape) + ")"; }

// A handle to t's data without its autograd history (state_dict's values).
Tensor detached(const Tensor& t) { return make_view(t, t.shape(), t.strides(), t.storage_offset()); }

// Puts `moved`'s storage and geometry into t's TensorImpl, keeping the handle.
void adopt(const Tensor& t, const Tensor& moved) {
  if (moved.is_same(t)) return;
  TensorImpl& impl = t.impl();
  const TensorImpl& src = moved.impl();
  impl.storage = src.storage;
  impl.shape = src.shape;
  impl.strides = src.strides;
  impl.offset = src.offset;
  impl.dtype = src.dtype;
  // A leaf's AccumulateGrad remembers its dtype and device: make a new one on demand.
  impl.grad_accumulator.reset();
}

}  // namespace

void Module::check_name(const std::string& name, const char* kind) const {
  std::string k = kind;
  if (name.find('.') != std::string::npos) {
    if (k == "module") fail("module name can't contain \".\", got: {}", name);
    fail("{} name can't contain \".\"", k);
  }
  LOOM_CHECK(!name.empty(), "{} name can't be empty string \"\"", k);
  bool taken = (k != "parameter" && has_name(parameters_, name)) ||
               (k != "buffer" && has_name(buffers_, name)) ||
               (k != "module" && has_child(children_, name));
  LOOM_CHECK(!taken, "attribute '{}' already exists", name);
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_name(name, "parameter");
  if (value.defined()) {
    LOOM_CHECK(value.is_leaf(),
               "Cannot assign non-leaf Tensor to parameter '{0}'. Model parameters must be created "
               "explicitly. To express '{0}' as a function of another Tensor, compute the value in "
               "the forward() method.",
               name);
    value.requires_grad_(requires_grad);
  }
  for (Entry& e : parameters_) {
    if (e.name == name) {
      e.value = value;
      return value;
    }
  }
  parameters_.push_back({name, value, true});
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
  check_name(name, "buffer");
  for (Entry& e : buffers_) {
    if (e.name == name) {
      e.value = value;
      e.persistent = persistent;
      return value;
    }
  }
  buffers_.push_back({name, value, persistent});
  return value;
}

void Module::register_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, "module");
  LOOM_CHECK(module != nullptr, "register_module: module '{}' is null", name);
  for (auto& c : children_) {
    if (c.first == name) {
      c.second = std::move(module);
      return;
    }
  }
  children_.emplace_back(name, std::move(module));
}

void Module::unregister_module(const std::string& name) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first == name) {
      children_.erase(it);
      return;
    }
  }
  fail("No Module with name `{}` is registered", name);
}

// ---- listing ------------------------------------------------------------------------------

template <typename Fn>
void Module::visit(bool params, bool recurse, const std::string& prefix, Fn&& fn) const {
  for (const Entry& e : params ? parameters_ : buffers_) fn(prefix + e.name, e);
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->visit(params, true, prefix + name + ".", fn);
}

const Tensor* NamedTensors::find(const std::string& key) const {
  for (const auto& [name, t] : *this)
    if (name == key) return &t;
  return nullptr;
}

const Tensor& NamedTensors::operator[](const std::string& key) const {
  const Tensor* t = find(key);
  LOOM_CHECK(t != nullptr, "Key '{}' is not defined", key);
  return *t;
}

std::vector<std::string> NamedTensors::keys() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : *this) out.push_back(name);
  return out;
}

std::vector<Tensor> NamedTensors::values() const {
  std::vector<Tensor> out;
  for (const auto& [name, t] : *this) out.push_back(t);
  return out;
}

namespace {
// Keeps the first occurrence of every tensor (PyTorch's remove_duplicate=True).
template <typename Visit>
NamedTensors unique_named(Visit&& visit) {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  visit([&](const std::string& name, const auto& entry) {
    if (entry.value.defined() && seen.insert(&entry.value.impl()).second) out.emplace_back(name, entry.value);
  });
  return out;
}
}  // namespace

NamedTensors Module::named_parameters(bool recurse) const {
  return unique_named([&](auto&& fn) { visit(true, recurse, "", fn); });
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  return unique_named([&](auto&& fn) { visit(false, recurse, "", fn); });
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& c : children_) out.push_back(c.second);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::unordered_set<const Module*> seen{this};
  auto walk = [&](auto& self, const Module& m, const std::string& prefix) -> void {
    for (const auto& [name, child] : m.children_) {
      if (!seen.insert(child.get()).second) continue;
      out.emplace_back(prefix + name, child);
      self(self, *child, prefix + name + ".");
    }
  };
  walk(walk, *this, "");
  return out;
}

namespace {
// Splits "a.b.c" into the owner module of "c" (following children a, b) and "c".
const Module* owner_of(const Module* m, const std::string& dotted, std::string* leaf) {
  std::size_t start = 0;
  for (std::size_t dot; (dot = dotted.find('.', start)) != std::string::npos; start = dot + 1) {
    std::string part = dotted.substr(start, dot - start);
    const Module* next = nullptr;
    for (const auto& [name, child] : m->named_children())
      if (name == part) next = child.get();
    if (next == nullptr) return nullptr;
    m = next;
  }
  *leaf = dotted.substr(start);
  return m;
}
}  // namespace

Tensor Module::named_parameter(const std::string& name) const {
  std::string leaf;
  const Module* m = owner_of(this, name, &leaf);
  if (m == nullptr) return Tensor();
  for (const Entry& e : m->parameters_)
    if (e.name == leaf) return e.value;
  return Tensor();
}

Tensor Module::named_buffer(const std::string& name) const {
  std::string leaf;
  const Module* m = owner_of(this, name, &leaf);
  if (m == nullptr) return Tensor();
  for (const Entry& e : m->buffers_)
    if (e.name == leaf) return e.value;
  return Tensor();
}

// ---- modes, moving, gradients ---------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

template <typename Convert>
void Module::apply_in_place(Convert&& convert) {
  auto apply = [&](const std::string&, const Entry& e) {
    if (!e.value.defined()) return;
    adopt(e.value, convert(e.value));
    Tensor g = e.value.grad();
    if (g.defined()) adopt(g, convert(g));
  };
  visit(true, true, "", apply);
  visit(false, true, "", apply);
}

void Module::to(Device device) {
  apply_in_place([&](const Tensor& t) { return native::to(t, device); });
}

void Module::to(DType dtype) {
  LOOM_CHECK(is_floating(dtype),
             "nn.Module.to only accepts floating point or complex dtypes, but got desired "
             "dtype=torch.{}",
             dtype_name(dtype));
  apply_in_place([&](const Tensor& t) { return is_floating(t.dtype()) ? native::to(t, dtype) : t; });
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) p.set_grad(Tensor());
}

// ---- checkpoints -------------------------------------------------------------------------------

StateDict Module::state_dict() const {
  StateDict out;
  auto walk = [&](auto& self, const Module& m, const std::string& prefix) -> void {
    for (const Entry& e : m.parameters_)
      if (e.value.defined()) out.insert(prefix + e.name, detached(e.value));
    for (const Entry& e : m.buffers_)
      if (e.value.defined() && e.persistent) out.insert(prefix + e.name, detached(e.value));
    for (const auto& [name, child] : m.children_) self(self, *child, prefix + name + ".");
  };
  walk(walk, *this, "");
  return out;
}

LoadStateDictResult Module::load_state_dict(const StateDict& state, bool strict) {
  StateDict own = state_dict();
  LoadStateDictResult result;
  std::vector<std::string> mismatches;
  for (const auto& [name, target] : own) {
    const Tensor* src = state.find(name);
    if (src == nullptr) {
      result.missing_keys.push_back(name);
      continue;
    }
    LOOM_CHECK(src->defined(),
               "While copying the parameter named \"{}\", expected torch.Tensor or Tensor-like object "
               "from checkpoint but received an undefined tensor",
               name);
    if (src->shape() != target.shape())
      mismatches.push_back(fmt::format(
          "size mismatch for {}: copying a param with shape {} from checkpoint, the shape in current "
          "model is {}.",
          name, torch_size(src->shape()), torch_size(target.shape())));
  }
  // Unexpected keys in PyTorch's order: module by module (pre-order), a key
  // counting for the module whose prefix it extends by an unknown name; then
  // any other key the module lacks (PyTorch silently ignores those).
  std::unordered_set<std::string> flagged;
  auto walk = [&](auto& self, const Module& m, const std::string& prefix) -> void {
    for (const auto& [key, value] : state) {
      if (key.compare(0, prefix.size(), prefix) != 0 || own.contains(key)) continue;
      std::string first = key.substr(prefix.size(), key.find('.', prefix.size()) - prefix.size());
      bool known = has_child(m.children_, first);
      for (const Entry& e : m.parameters_) known = known || (e.value.defined() && e.name == first);
      for (const Entry& e : m.buffers_) known = known || (e.value.defined() && e.persistent && e.name == first);
      if (!known && flagged.insert(key).second) result.unexpected_keys.push_back(key);
    }
    for (const auto& [name, child] : m.children_) self(self, *child, prefix + name + ".");
  };
  walk(walk, *this, "");
  for (const auto& [key, value] : state)
    if (!own.contains(key) && flagged.insert(key).second) result.unexpected_keys.push_back(key);
  // A module's state is tensors only: any scalar of the shared StateDict type is unexpected.
  for (const auto& [key, value] : state.scalars)
    if (flagged.insert(key).second) result.unexpected_keys.push_back(key);

  std::vector<std::string> errors;
  auto quoted = [](const std::vector<std::string>& keys) {
    std::vector<std::string> q;
    for (const auto& k : keys) q.push_back("\"" + k + "\"");
    return fmt::format("{}", fmt::join(q, ", "));
  };
  if (strict && !result.missing_keys.empty())
    errors.push_back(fmt::format("Missing key(s) in state_dict: {}. ", quoted(result.missing_keys)));
  if (strict && !result.unexpected_keys.empty())
    errors.push_back(fmt::format("Unexpected key(s) in state_dict: {}. ", quoted(result.unexpected_keys)));
  errors.insert(errors.end(), mismatches.begin(), mismatches.end());
  LOOM_CHECK(errors.empty(), "Error(s) in loading state_dict for {}:\n\t{}", type(),
             fmt::join(errors, "\n\t"));

  NoGradGuard no_grad;
  for (const auto& [name, target] : own) {
    const Tensor* src = state.find(name);
    if (src != nullptr) native::copy_(target, *src);
  }
  return result;
}

// ---- printing ------------------------------------------------------------------------------------

namespace {
// PyTorch's _addindent: indents every line but the first by `spaces`.
std::string add_indent(const std::string& s, int spaces) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out.append(static_cast<std::size_t>(spaces), ' ');
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(s.substr(start, nl - start));
  lines.push_back(s.substr(start));
  return lines;
}
}  // namespace

std::string repr_float(double value) {
  std::string s = fmt::format("{}", value);
  if (s.find_first_of(".eEna") == std::string::npos) s += ".0";  // "1" -> "1.0"; keep inf, nan, 1e+20
  return s;
}

std::string Module::str() const {
  std::vector<std::string> extra_lines;
  std::string extra = extra_repr();
  if (!extra.empty()) extra_lines = split_lines(extra);
  std::vector<std::string> child_lines;
  for (const auto& [name, child] : children_)
    child_lines.push_back("(" + name + "): " + add_indent(child->str(), 2));
  std::vector<std::string> lines = extra_lines;
  lines.insert(lines.end(), child_lines.begin(), child_lines.end());
  std::string out = type() + "(";
  if (!lines.empty()) {
    if (extra_lines.size() == 1 && child_lines.empty())
      out += extra_lines[0];
    else
      out += fmt::format("\n  {}\n", fmt::join(lines, "\n  "));
  }
  return out + ")";
}

}  // namespace loom::nn
