// loom::StateDict: the one state-dictionary type of loom, shared by modules
// (nn::Module::state_dict), optimizers and learning-rate schedulers
// (optim::Optimizer::state_dict, optim::LRScheduler::state_dict) and
// checkpoints. nn::StateDict and optim::StateDict name this type.
//
// It holds named tensors in insertion order (PyTorch's OrderedDict; a
// module's state_dict order) and named scalars (an optimizer's options and
// step counts, flattened into dotted names):
//
//   StateDict d = module.state_dict();
//   for (const auto& [name, t] : d) ...            // the tensors, in order
//   d.insert("extra", t); d.at("0.weight");         // PyTorch-dict spellings
//   d.tensors["state.0.exp_avg"] = t;               // std::map-like spellings
//   d.scalars["param_groups.0.lr"] = 0.1;
#pragma once

#include <cstddef>
#include <initializer_list>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace loom {

// An insertion-ordered map from name to Tensor with std::map's common
// members (operator[], at, count, erase, find, size, empty, iteration).
class TensorMap {
 public:
  using Item = std::pair<std::string, Tensor>;
  using const_iterator = std::vector<Item>::const_iterator;

  TensorMap() = default;
  TensorMap(std::initializer_list<Item> items);

  // Adds `key` at the end, or replaces its value where present (its position
  // is kept).
  void insert(const std::string& key, Tensor value);
  // The value of `key`, added undefined at the end when absent (std::map's []).
  Tensor& operator[](const std::string& key);
  // The value of `key`; throws loom::Error naming the key when absent.
  const Tensor& at(const std::string& key) const;
  // The value of `key`, or nullptr when absent.
  const Tensor* find(const std::string& key) const;
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  std::size_t count(const std::string& key) const { return index_.count(key); }
  // Removes `key`; returns how many were removed (0 or 1), as std::map.
  std::size_t erase(const std::string& key);
  // The keys in order.
  std::vector<std::string> keys() const;

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, std::size_t> index_;
};

class StateDict {
 public:
  using Item = TensorMap::Item;

  StateDict() = default;
  // Tensors only: StateDict({{"weight", w}, {"bias", b}}).
  StateDict(std::initializer_list<Item> items) : tensors(items) {}

  // ---- the tensors, PyTorch-dict spellings (what modules use) -----------------
  // Adds `key` at the end, or replaces its value where present.
  void insert(const std::string& key, Tensor value) { tensors.insert(key, std::move(value)); }
  // Removes the tensor `key`; returns false where it was absent.
  bool erase(const std::string& key) { return tensors.erase(key) != 0; }
  // True when a tensor named `key` is present.
  bool contains(const std::string& key) const { return tensors.contains(key); }
  // The tensor `key`; throws loom::Error naming the key when absent.
  const Tensor& at(const std::string& key) const { return tensors.at(key); }
  // The tensor `key`, or nullptr when absent.
  const Tensor* find(const std::string& key) const { return tensors.find(key); }
  // The tensors' keys in order.
  std::vector<std::string> keys() const { return tensors.keys(); }
  // The number of tensors, and iteration over them in order.
  std::size_t size() const { return tensors.size(); }
  TensorMap::const_iterator begin() const { return tensors.begin(); }
  TensorMap::const_iterator end() const { return tensors.end(); }
  // True when there are neither tensors nor scalars.
  bool empty() const { return tensors.empty() && scalars.empty(); }

  TensorMap tensors;                      // named tensors, insertion order
  std::map<std::string, double> scalars;  // named scalars, sorted by name
};

}  // namespace loom
