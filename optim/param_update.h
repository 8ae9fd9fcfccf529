// Helpers the optimizers' step() share (internal to optim/).
#pragma once

#include <string>

#include "core/native.h"
#include "optim/optimizer.h"

namespace loom::optim::detail {

// The memory an update kernel writes: the parameter itself when it is
// contiguous, else a contiguous copy that write_back() stores into it.
class ContiguousParam {
 public:
  explicit ContiguousParam(const Tensor& param)
      : param_(param), work_(param.is_contiguous() ? param : native::clone(param)) {}
  const Tensor& work() const { return work_; }
  void write_back() const {
    if (!work_.is_same(param_)) native::copy_(param_, work_);
  }

 private:
  Tensor param_, work_;
};

// The gradient of `param` as a contiguous tensor, checked against the parameter.
inline Tensor contiguous_grad(const Tensor& param, const Tensor& grad) {
  LOOM_CHECK(grad.shape() == param.shape() && grad.dtype() == param.dtype() &&
                 grad.device() == param.device(),
             "optimizer: a gradient has shape {}, dtype {}, device {}; its parameter has shape {}, "
             "dtype {}, device {}",
             shape_str(grad.shape()), grad.dtype(), grad.device(), shape_str(param.shape()),
             param.dtype(), param.device());
  return native::contiguous(grad);
}

// state.tensors[name], created as zeros like `param` when absent; *created
// tells which happened (may be null).
inline Tensor& state_buffer(ParamState& state, const std::string& name, const Tensor& param,
                            bool* created = nullptr) {
  auto it = state.tensors.find(name);
  if (created) *created = it == state.tensors.end();
  if (it != state.tensors.end()) return it->second;
  return state.tensors[name] = native::zeros(param.shape(), TensorOptions(param.dtype()).device(param.device()));
}

// Typed pointer to a contiguous tensor's data (null for an undefined tensor).
template <typename T>
T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

}  // namespace loom::optim::detail
