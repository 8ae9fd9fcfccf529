// nn::ModuleHolder<Impl>: a shared handle to a module, as libtorch's
// torch::nn::ModuleHolder. The containers (Sequential, ModuleList, ModuleDict)
// are used through one, so that libtorch's spellings work:
//
//   nn::Sequential seq(nn::Linear(3, 4), nn::ReLU());   // a SequentialImpl
//   Tensor y = seq->forward(x);                          // -> reaches the module
//   seq->push_back(nn::Tanh());
//   std::shared_ptr<nn::Module> first = seq[0];
//
// Copies share the module (as copies of a shared_ptr do).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "core/error.h"
#include "nn/module.h"

namespace loom::nn {

template <typename Impl>
class ModuleHolder {
 public:
  using ContainedType = Impl;

  // A new module from Impl's default constructor.
  ModuleHolder() : impl_(std::make_shared<Impl>()) {}
  // An empty holder, to be assigned later (libtorch's `nn::Linear fc{nullptr};`).
  // Reaching the module of an empty holder throws loom::Error.
  ModuleHolder(std::nullptr_t) {}  // NOLINT: implicit like libtorch
  // Holds `impl` (which must not be null; throws loom::Error otherwise).
  ModuleHolder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {  // NOLINT: implicit like libtorch
    LOOM_CHECK(impl_ != nullptr, "ModuleHolder: the module is null");
  }
  // A new module from Impl's constructor with these arguments (one or more;
  // never a holder of the same type, which is copied instead).
  template <typename First, typename... Rest,
            typename = std::enable_if_t<!(sizeof...(Rest) == 0 &&
                                          (std::is_base_of_v<ModuleHolder, std::decay_t<First>> ||
                                           std::is_same_v<std::decay_t<First>, std::shared_ptr<Impl>>))>>
  explicit ModuleHolder(First&& first, Rest&&... rest)
      : impl_(std::make_shared<Impl>(std::forward<First>(first), std::forward<Rest>(rest)...)) {}

  // The module; throws loom::Error for an empty holder.
  Impl* operator->() const { return &checked(); }
  Impl& operator*() const { return checked(); }
  Impl* get() const { return impl_.get(); }
  // The shared module (null for an empty holder).
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  // True for a holder made from nullptr and not yet assigned.
  bool is_empty() const { return impl_ == nullptr; }
  explicit operator bool() const { return impl_ != nullptr; }
  operator std::shared_ptr<Impl>() const { return impl_; }  // NOLINT: implicit, as a shared_ptr
  // The module, where a Module& (or Impl&) is taken: nn::restore(ck, lstm),
  // print(lstm). Throws loom::Error for an empty holder.
  operator Impl&() const { return checked(); }  // NOLINT: implicit, as libtorch's overloads for holders

  // impl->forward(args...).
  template <typename... Args>
  decltype(auto) operator()(Args&&... args) const {
    return checked().forward(std::forward<Args>(args)...);
  }
  // (*impl)[arg]: seq[0], dict["name"].
  template <typename Arg>
  decltype(auto) operator[](Arg&& arg) const {
    return checked()[std::forward<Arg>(arg)];
  }

 private:
  Impl& checked() const {
    LOOM_CHECK(impl_ != nullptr, "Accessing an empty ModuleHolder (one made from nullptr and never assigned a module)");
    return *impl_;
  }
  std::shared_ptr<Impl> impl_;
};

// Declares `Name` as the holder of `NameImpl`, as libtorch's TORCH_MODULE:
// `nn::LSTM lstm(opts); lstm->forward(x); lstm(x);`, `nn::Linear fc{nullptr};`.
#define LOOM_MODULE(Name)                                           \
  class Name : public ::loom::nn::ModuleHolder<Name##Impl> {        \
   public:                                                          \
    using ::loom::nn::ModuleHolder<Name##Impl>::ModuleHolder;       \
  }

// The shared module of a container's argument: a shared_ptr as it is, the
// module a holder holds, or a module value (an rvalue: modules are not copied)
// moved into a new shared_ptr. A null shared_ptr throws loom::Error.
template <typename M>
  requires std::derived_from<M, Module>
std::shared_ptr<M> share_module(std::shared_ptr<M> module) {
  LOOM_CHECK(module != nullptr, "a container was given a null module");
  return module;
}
template <typename Impl>
std::shared_ptr<Impl> share_module(const ModuleHolder<Impl>& holder) {
  return holder.ptr();
}
template <typename M>
  requires(std::derived_from<M, Module> && !std::is_reference_v<M>)
std::shared_ptr<M> share_module(M&& module) {
  return std::make_shared<M>(std::move(module));
}

// Python's index into a container of `size` items: -size <= index < size,
// negative counting from the end. Throws loom::Error "index 5 is out of
// range" (PyTorch's words) otherwise.
inline std::size_t container_index(std::int64_t index, std::size_t size) {
  const auto n = static_cast<std::int64_t>(size);
  LOOM_CHECK(-n <= index && index < n, "index {} is out of range", index);
  return static_cast<std::size_t>(index < 0 ? index + n : index);
}

// The module `module` as a T (dynamic_cast); throws loom::Error naming `what`
// and the module's type when it is not one.
template <typename T>
std::shared_ptr<T> module_as(const std::shared_ptr<Module>& module, const std::string& what) {
  auto cast = std::dynamic_pointer_cast<T>(module);
  LOOM_CHECK(cast != nullptr, "{}: the module is a {}, not the type asked for", what, module->type());
  return cast;
}

}  // namespace loom::nn
