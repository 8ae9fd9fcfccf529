#include "autograd/autocast.h"

#include "autograd/functions.h"

namespace loom {

namespace {

struct AutocastState {
  bool enabled = false;
  DType dtype = kBFloat16;
};

AutocastState& state() {
  thread_local AutocastState s;
  return s;
}

}  // namespace

autocast::autocast(DType dtype, bool enabled)
    : previous_enabled_(state().enabled), previous_dtype_(state().dtype) {
  LOOM_CHECK(dtype == kBFloat16 || dtype == kFloat16,
             "autocast: the type must be bfloat16 or float16, got {}", dtype);
  state().enabled = enabled;
  if (enabled) state().dtype = dtype;
}

autocast::~autocast() {
  state().enabled = previous_enabled_;
  state().dtype = previous_dtype_;
}

bool is_autocast_enabled() { return state().enabled; }

DType get_autocast_dtype() { return state().dtype; }

namespace autocast_cast {

Tensor to_lower(const Tensor& x) {
  if (!state().enabled || !x.defined() || x.dtype() != kFloat32) return x;
  return to(x, state().dtype);
}

Tensor to_float(const Tensor& x) {
  if (!state().enabled || !x.defined() || !(x.dtype() == kBFloat16 || x.dtype() == kFloat16)) return x;
  return to(x, kFloat32);
}

}  // namespace autocast_cast

}  // namespace loom
