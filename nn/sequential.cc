#include "nn/sequential.h"

namespace loom::nn {

void SequentialImpl::append(const std::string& name, std::shared_ptr<Module> module,
                            std::function<Tensor(const Tensor&)> forward) {
  for (const auto& [child, m] : named_children())
    LOOM_CHECK(child != name, "Submodule '{}' already defined", name);
  register_module(name, module);
  modules_.push_back(std::move(module));
  forwards_.push_back(std::move(forward));
}

void SequentialImpl::extend(const SequentialImpl& other) {
  LOOM_CHECK(&other != this, "Sequential::extend: a Sequential cannot extend itself");
  for (std::size_t i = 0; i < other.modules_.size(); ++i)
    append(std::to_string(modules_.size()), other.modules_[i], other.forwards_[i]);
}

Tensor SequentialImpl::forward(const Tensor& input) const {
  LOOM_CHECK(!modules_.empty(), "Cannot call forward() on an empty Sequential");
  Tensor x = input;
  for (const auto& f : forwards_) x = f(x);
  return x;
}

}  // namespace loom::nn
