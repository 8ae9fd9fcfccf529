// Indexing operations of loom::native (no autograd): the embedding lookup and
// its gradient, over kernels/embedding.h.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace loom::native {

// F.embedding: the rows of weight [V, E] named by indices (Int64, any shape) ->
// [indices..., E]. weight floating; both on one device. An index outside [0, V)
// throws loom::Error("index out of range in self") (on CUDA this waits for the
// lookup kernel: one synchronisation per call, see kernels/embedding.h).
Tensor embedding(const Tensor& weight, const Tensor& indices);

// The gradient of embedding with respect to weight: [num_weights, E] whose row v
// is the sum, in order of position, of the rows of grad [indices..., E] whose
// index is v. Deterministic on both devices (no atomics).
Tensor embedding_backward(const Tensor& grad, const Tensor& indices, std::int64_t num_weights);

}  // namespace loom::native
