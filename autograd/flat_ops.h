// The three flat primitives every indexing op of autograd/indexing.h runs on,
// differentiable: positions are row-major flat positions, computed on the
// host, and every device step is loom's embedding kernel (a gather) or its
// deterministic, atomic-free scatter-sum (kernels/embedding.h).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace loom::flat {

// The elements of x (any dtype, read row-major) at `positions`, shaped
// `shape` (shape_numel(shape) == positions.size()). The gradient of x sums
// the upstream gradient into the positions, in order.
Tensor take(const Tensor& x, const std::vector<std::int64_t>& positions, const Shape& shape);

// x with values written into it: for k in order, out[targets[k]] = (or +=)
// values[sources[k]] (row-major flat positions into x and into values;
// targets.size() == sources.size()). accumulate: repeated targets add in
// order, starting from x's value (x + v1 + v2, as PyTorch's CPU kernels);
// 16-bit floats add in float32, rounded once. Otherwise the last write of a
// target wins. Gradients, as PyTorch's index_put_ / scatter: x gets the
// upstream gradient where nothing was written (everywhere when
// accumulate), values[s] the sum of the upstream gradient at every target
// that s was written to (every write, the overwritten ones too). Integer and
// Bool tensors go through float64 (exact below 2^53; Bool sums mean "or").
Tensor put(const Tensor& x, const std::vector<std::int64_t>& targets, const Tensor& values,
           const std::vector<std::int64_t>& sources, bool accumulate);

}  // namespace loom::flat
