#include "core/state_dict.h"

#include "core/error.h"

namespace loom {

TensorMap::TensorMap(std::initializer_list<Item> items) {
  for (const Item& item : items) insert(item.first, item.second);
}

void TensorMap::insert(const std::string& key, Tensor value) { (*this)[key] = std::move(value); }

Tensor& TensorMap::operator[](const std::string& key) {
  auto it = index_.find(key);
  if (it != index_.end()) return items_[it->second].second;
  index_.emplace(key, items_.size());
  items_.emplace_back(key, Tensor());
  return items_.back().second;
}

const Tensor& TensorMap::at(const std::string& key) const {
  const Tensor* t = find(key);
  LOOM_CHECK(t != nullptr, "state_dict has no key \"{}\"", key);
  return *t;
}

const Tensor* TensorMap::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

std::size_t TensorMap::erase(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return 0;
  items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (std::size_t i = 0; i < items_.size(); ++i) index_.emplace(items_[i].first, i);
  return 1;
}

std::vector<std::string> TensorMap::keys() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const Item& item : items_) out.push_back(item.first);
  return out;
}

}  // namespace loom
