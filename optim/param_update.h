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

// True when a `dtype` parameter of a group with `options` is updated through
// fp32 master weights: a bfloat16 / float16 parameter with master_weights(true).
inline bool uses_master(DType dtype, const OptimizerOptions& options) {
  return is_reduced_float(dtype) && options.keeps_master_weights();
}

// The dtype of `param`'s state tensors in a group with `options`: float32 for
// a 16-bit parameter with master weights, else the parameter's own.
inline DType state_dtype(const Tensor& param, const OptimizerOptions& options) {
  return uses_master(param.dtype(), options) ? kFloat32 : param.dtype();
}

// Throws loom::Error, naming the option, for a bfloat16 / float16 parameter
// in a group without master_weights(true).
inline void check_param_dtype(DType dtype, const OptimizerOptions& options) {
  const char* name = options.optimizer_name();
  LOOM_CHECK(!is_reduced_float(dtype) || options.keeps_master_weights(),
             "{}: a parameter has dtype {}; {} updates bfloat16 and float16 parameters only "
             "through fp32 master weights, which it keeps when asked: {}Options(lr)"
             ".master_weights(true) (or give it float32 parameters)",
             name, dtype, name, name);
}

// The tensor the update math runs on for `work` (the contiguous parameter):
// for a 16-bit parameter with master weights, its fp32 master copy
// state.tensors["master_param"], made from the parameter when absent; else
// `work` itself. Throws (check_param_dtype) for a 16-bit parameter without.
inline Tensor update_target(ParamState& state, const Tensor& work, const OptimizerOptions& options) {
  check_param_dtype(work.dtype(), options);
  if (!uses_master(work.dtype(), options)) return work;
  auto it = state.tensors.find("master_param");
  if (it != state.tensors.end()) return it->second;
  return state.tensors["master_param"] = native::to(work, kFloat32);
}

// Calls fn(T{}, P{}) for an update of a `dtype` parameter: T the type the math
// runs in, P the parameter's element type: (float, float), (double, double),
// or (float, bfloat16) / (float, float16) through master weights (only when
// the options keep them; else check_param_dtype's error).
template <typename Fn>
void dispatch_update(DType dtype, const OptimizerOptions& options, Fn&& fn) {
  check_param_dtype(dtype, options);
  if (dtype == kBFloat16) return fn(float{}, bfloat16{});
  if (dtype == kFloat16) return fn(float{}, float16{});
  dispatch_floating(dtype, options.optimizer_name(), [&](auto tag) { fn(tag, tag); });
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
