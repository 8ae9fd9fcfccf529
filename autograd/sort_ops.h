// sort, argsort and topk, as PyTorch's (differentiable in the values: the
// gradient goes back to the positions each value came from). The order is
// computed on the host (a device read for CUDA tensors) and the values are
// gathered with loom's gather (deterministic on every device). Ties keep
// their original order (PyTorch's sort(stable=True)); NaN sorts as the
// largest value, as in PyTorch.
#pragma once

#include <cstdint>
#include <utility>

#include "core/tensor.h"

namespace loom {

// (values, indices Int64) of x sorted along dim, ascending unless descending.
std::pair<Tensor, Tensor> sort(const Tensor& x, std::int64_t dim = -1, bool descending = false);
// The indices of sort(x, dim, descending).
Tensor argsort(const Tensor& x, std::int64_t dim = -1, bool descending = false);
// (values, indices) of the k largest (or smallest) entries along dim, in
// sorted order; k must be in [0, x.size(dim)].
std::pair<Tensor, Tensor> topk(const Tensor& x, std::int64_t k, std::int64_t dim = -1, bool largest = true);

}  // namespace loom
