// nn::ModuleList and nn::ModuleDict: containers that register their modules
// as children (so parameters(), state_dict(), to(), train() and printing see
// them) without a forward of their own, as torch.nn.ModuleList / ModuleDict
// and libtorch's holders of ModuleListImpl / ModuleDictImpl:
//
//   nn::ModuleList layers(nn::Linear(3, 4), std::make_shared<nn::LSTMImpl>(4, 8));
//   layers->push_back(nn::ReLU());                  // child "2"
//   auto& fc = layers->at<nn::LinearImpl>(0);
//
//   nn::ModuleDict heads({{"cls", std::make_shared<nn::LinearImpl>(8, 2)}});
//   heads->insert("reg", std::make_shared<nn::LinearImpl>(8, 1));
//   std::shared_ptr<nn::Module> m = heads["cls"];
//
// ModuleList names its children "0", "1", ...; ModuleDict by their keys, in
// insertion order (state_dict keys "cls.weight", ...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom::nn {

class ModuleListImpl : public Module {
 public:
  ModuleListImpl() = default;
  // The given modules in order (shared_ptrs, holders, or module rvalues).
  template <typename... Modules>
    requires(sizeof...(Modules) >= 1)
  explicit ModuleListImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  // Appends a module, registered as child str(size()).
  template <typename M>
  void push_back(M&& module) {
    append(share_module(std::forward<M>(module)));
  }
  // Appends every module of `modules` (shared, not copied).
  void extend(const std::vector<std::shared_ptr<Module>>& modules);

  // The module at `index` (negative counts from the end); throws loom::Error
  // "index 7 is out of range" otherwise.
  std::shared_ptr<Module> operator[](std::int64_t index) const { return ptr(index); }
  std::shared_ptr<Module> ptr(std::int64_t index) const {
    return modules_[container_index(index, modules_.size())];
  }
  // The module at `index` as a T; throws loom::Error when it is another type.
  template <typename T>
  T& at(std::int64_t index) const {
    return *module_as<T>(ptr(index), "ModuleList::at");
  }
  template <typename T>
  std::shared_ptr<T> ptr(std::int64_t index) const {
    return module_as<T>(ptr(index), "ModuleList::ptr");
  }

  std::size_t size() const { return modules_.size(); }
  bool is_empty() const { return modules_.empty(); }
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return modules_.end(); }

  std::string type() const override { return "ModuleList"; }

 private:
  void append(std::shared_ptr<Module> module);
  std::vector<std::shared_ptr<Module>> modules_;
};

class ModuleList : public ModuleHolder<ModuleListImpl> {
 public:
  using ModuleHolder<ModuleListImpl>::ModuleHolder;
  ModuleList() = default;
};

class ModuleDictImpl : public Module {
 public:
  using Item = std::pair<std::string, std::shared_ptr<Module>>;

  ModuleDictImpl() = default;
  // The given (key, module) pairs in order; a repeated key replaces the module
  // in its first position (as Python's update).
  explicit ModuleDictImpl(const std::vector<Item>& items) { update(items); }
  ModuleDictImpl(std::initializer_list<Item> items) { update(std::vector<Item>(items)); }

  // Adds `module` under `key`, or replaces the module of a present key (its
  // position is kept). Throws loom::Error (PyTorch's words) for an empty key
  // or one containing '.', or a null module.
  void insert(const std::string& key, std::shared_ptr<Module> module);
  template <typename M>
  void insert(const std::string& key, M&& module) {
    insert(key, std::shared_ptr<Module>(share_module(std::forward<M>(module))));
  }
  // insert() for each pair in order.
  void update(const std::vector<Item>& items);

  // The module under `key`; throws loom::Error naming the key when absent.
  std::shared_ptr<Module> operator[](const std::string& key) const;
  // The module under `key` as a T; throws loom::Error when absent or another type.
  template <typename T>
  T& at(const std::string& key) const {
    return *module_as<T>((*this)[key], "ModuleDict::at(\"" + key + "\")");
  }
  bool contains(const std::string& key) const;
  // Removes `key` and returns its module; throws loom::Error when absent.
  std::shared_ptr<Module> pop(const std::string& key);

  std::vector<std::string> keys() const;
  std::vector<std::shared_ptr<Module>> values() const;
  const std::vector<Item>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }
  bool is_empty() const { return items_.empty(); }
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }

  std::string type() const override { return "ModuleDict"; }

 private:
  std::vector<Item> items_;
};

class ModuleDict : public ModuleHolder<ModuleDictImpl> {
 public:
  using ModuleHolder<ModuleDictImpl>::ModuleHolder;
  ModuleDict() = default;
  // libtorch's ModuleDict({{"a", m1}, {"b", m2}}).
  ModuleDict(std::initializer_list<ModuleDictImpl::Item> items)
      : ModuleHolder<ModuleDictImpl>(std::make_shared<ModuleDictImpl>(items)) {}
};

}  // namespace loom::nn
