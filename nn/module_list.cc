#include "nn/module_list.h"

namespace loom::nn {

void ModuleListImpl::append(std::shared_ptr<Module> module) {
  LOOM_CHECK(module != nullptr, "ModuleList: a module is null");
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

void ModuleListImpl::extend(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) LOOM_CHECK(m != nullptr, "ModuleList::extend: a module is null");
  for (const auto& m : modules) append(m);
}

void ModuleDictImpl::insert(const std::string& key, std::shared_ptr<Module> module) {
  LOOM_CHECK(module != nullptr, "ModuleDict: the module under key '{}' is null", key);
  register_module(key, module);  // checks the key; replaces a present one in place
  for (Item& item : items_) {
    if (item.first == key) {
      item.second = std::move(module);
      return;
    }
  }
  items_.emplace_back(key, std::move(module));
}

void ModuleDictImpl::update(const std::vector<Item>& items) {
  for (const Item& item : items) insert(item.first, item.second);
}

std::shared_ptr<Module> ModuleDictImpl::operator[](const std::string& key) const {
  for (const Item& item : items_)
    if (item.first == key) return item.second;
  fail("KeyError: '{}' (ModuleDict has no such key)", key);
}

bool ModuleDictImpl::contains(const std::string& key) const {
  for (const Item& item : items_)
    if (item.first == key) return true;
  return false;
}

std::shared_ptr<Module> ModuleDictImpl::pop(const std::string& key) {
  for (auto it = items_.begin(); it != items_.end(); ++it) {
    if (it->first == key) {
      std::shared_ptr<Module> m = it->second;
      unregister_module(key);
      items_.erase(it);
      return m;
    }
  }
  fail("KeyError: '{}' (ModuleDict has no such key)", key);
}

std::vector<std::string> ModuleDictImpl::keys() const {
  std::vector<std::string> out;
  for (const Item& item : items_) out.push_back(item.first);
  return out;
}

std::vector<std::shared_ptr<Module>> ModuleDictImpl::values() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const Item& item : items_) out.push_back(item.second);
  return out;
}

}  // namespace loom::nn
