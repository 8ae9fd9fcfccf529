// nn::Sequential: modules applied one after another, as torch.nn.Sequential
// and libtorch's torch::nn::Sequential (a holder of SequentialImpl):
//
//   nn::Sequential seq(nn::Linear(3, 4), nn::ReLU(), std::make_shared<nn::LinearImpl>(4, 2));
//   Tensor y = seq->forward(x);            // Linear, ReLU, Linear in order
//   seq->push_back(nn::Tanh());             // registered as child "3"
//   std::shared_ptr<nn::Module> m = seq[0]; // seq[-1] is the last
//   nn::Linear& fc = seq->at<nn::LinearImpl>(0);
//   std::cout << seq->str();                // Sequential(\n  (0): Linear(...) ...
//
// Every module must have forward(const Tensor&) returning a Tensor (checked at
// compile time); use ModuleList for other modules. The children are named
// "0", "1", ... (or the name given to push_back), so state_dict keys are
// PyTorch's ("0.weight", "2.bias").
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom::nn {

// True for a module whose forward takes a Tensor and gives a Tensor.
template <typename M>
concept TensorToTensorModule = std::derived_from<M, Module> && requires(M& m, const Tensor& x) {
  { m.forward(x) } -> std::convertible_to<Tensor>;
};

class SequentialImpl : public Module {
 public:
  SequentialImpl() = default;
  // The given modules in order (shared_ptrs, holders, or module rvalues).
  template <typename... Modules>
    requires(sizeof...(Modules) >= 1)
  explicit SequentialImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  // Appends a module named by its position ("3"), or by `name`. Throws
  // loom::Error for a name already present or one Module rejects.
  template <typename M>
  void push_back(M&& module) {
    push_back(std::to_string(modules_.size()), std::forward<M>(module));
  }
  template <typename M>
  void push_back(const std::string& name, M&& module) {
    auto shared = share_module(std::forward<M>(module));
    using Impl = typename decltype(shared)::element_type;
    static_assert(TensorToTensorModule<Impl>,
                  "nn::Sequential holds modules whose forward(const Tensor&) returns a Tensor; "
                  "put other modules in an nn::ModuleList");
    append(name, shared, [shared](const Tensor& x) -> Tensor { return shared->forward(x); });
  }
  // Appends every module of `other` (shared, not copied), named by position.
  void extend(const SequentialImpl& other);

  // Applies every module in order; throws loom::Error for an empty Sequential.
  Tensor forward(const Tensor& input) const;

  // The module at `index` (negative counts from the end); throws loom::Error
  // "index 7 is out of range" otherwise.
  std::shared_ptr<Module> operator[](std::int64_t index) const { return ptr(index); }
  std::shared_ptr<Module> ptr(std::int64_t index) const {
    return modules_[container_index(index, modules_.size())];
  }
  // The module at `index` as a T; throws loom::Error when it is another type.
  template <typename T>
  T& at(std::int64_t index) const {
    return *module_as<T>(ptr(index), "Sequential::at");
  }
  template <typename T>
  std::shared_ptr<T> ptr(std::int64_t index) const {
    return module_as<T>(ptr(index), "Sequential::ptr");
  }

  std::size_t size() const { return modules_.size(); }
  bool is_empty() const { return modules_.empty(); }
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return modules_.end(); }

  std::string type() const override { return "Sequential"; }

 private:
  void append(const std::string& name, std::shared_ptr<Module> module,
              std::function<Tensor(const Tensor&)> forward);

  std::vector<std::shared_ptr<Module>> modules_;
  std::vector<std::function<Tensor(const Tensor&)>> forwards_;
};

// libtorch's holder: seq->forward(x), seq[i], copies share the modules.
class Sequential : public ModuleHolder<SequentialImpl> {
 public:
  using ModuleHolder<SequentialImpl>::ModuleHolder;
  Sequential() = default;
};

}  // namespace loom::nn
