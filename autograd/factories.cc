// Factories of the public API (requires_grad honoured from the options).
#include "autograd/functions.h"
#include "core/native.h"

namespace loom {

Tensor zeros(const Shape& shape, TensorOptions o) { return native::zeros(shape, o); }
Tensor ones(const Shape& shape, TensorOptions o) { return native::ones(shape, o); }
Tensor full(const Shape& shape, double value, TensorOptions o) { return native::full(shape, value, o); }
Tensor zeros_like(const Tensor& x) { return native::zeros_like(x); }
Tensor ones_like(const Tensor& x) { return native::ones_like(x); }
Tensor arange(double end, TensorOptions o) { return native::arange(0, end, 1, o); }
Tensor arange(double start, double end, double step, TensorOptions o) {
  return native::arange(start, end, step, o);
}

}  // namespace loom
