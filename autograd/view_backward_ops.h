// The gradients of slice and select as differentiable operations, so that a
// backward run with create_graph (double backward) keeps the history of the
// gradient flowing through a view.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace loom {

// Zeros of `shape` (g's dtype and device) with g written into
// slice(., d, start, end, step) (start/end already clamped, step > 0).
// Differentiable in g: its gradient is slice(gg, d, start, end, step).
Tensor slice_backward(const Tensor& g, const Shape& shape, std::int64_t d, std::int64_t start,
                      std::int64_t end, std::int64_t step);

// Zeros of `shape` with g written into select(., d, index) (index >= 0).
// Differentiable in g: its gradient is select(gg, d, index).
Tensor select_backward(const Tensor& g, const Shape& shape, std::int64_t d, std::int64_t index);

// The gradient of embedding(weight [V, D], indices): g [indices..., D] summed
// into the rows of zeros [num_weights, D] it came from (native::
// embedding_backward). Differentiable in g: its gradient is embedding(gg, indices).
Tensor embedding_backward(const Tensor& g, const Tensor& indices, std::int64_t num_weights);

}  // namespace loom
