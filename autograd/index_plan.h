// Where a PyTorch index list points: the host-side plan shared by index(),
// index_put() and scatter() (autograd/indexing.h). No autograd, no device
// work beyond reading index tensors to the host.
//
// The list is applied as PyTorch 1.13 applies it: integers (and 0-D integer
// tensors) select, slices slice, None inserts a dimension of size 1, Ellipsis
// stands for the full slices needed, and each tensor index (Int64, or a Bool
// mask over as many dimensions as it has, which becomes their nonzero
// coordinates) is recorded at the dimension it reaches. The recorded index
// tensors are broadcast together to a shape B. When the indexed dimensions
// are adjacent, B replaces them in place; otherwise B goes first, followed
// by the dimensions no tensor indexed, in order.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/indexing.h"
#include "core/tensor.h"

namespace loom::index_plan {

// The result of indexing a tensor of shape `shape`: its shape and, for each
// of its elements in row-major order, the row-major flat position in the
// indexed tensor it comes from.
struct Plan {
  Shape shape;
  std::vector<std::int64_t> positions;
  bool advanced = false;  // a tensor index was given (the result is a copy)
};

// The plan of x[indices] for x of shape `shape`. Errors in PyTorch's words:
// "index 5 is out of bounds for dimension 0 with size 3", "too many indices
// for tensor of dimension 2", "an index can only have a single ellipsis
// ('...')", "tensors used as indices must be long, byte or bool tensors",
// "shape mismatch: indexing tensors could not be broadcast together with
// shapes [3], [2]", "The shape of the mask [3] at index 0 does not match the
// shape of the indexed tensor [2, 3] at index 0", "step must be greater than
// zero".
Plan make(const Shape& shape, const std::vector<indexing::TensorIndex>& indices);

// The plan of torch's index_put_(indices, ...) / index(indices) with a list
// of tensors: entry k indexes dimension k, an undefined Tensor is a full
// slice (libtorch's c10::nullopt). At most shape.size() entries ("too many
// indices for tensor of dimension 2 (got 3)").
Plan make(const Shape& shape, const std::vector<Tensor>& indices);

// The values of an integer or Bool tensor on the host, as int64, row-major.
std::vector<std::int64_t> host_int64(const Tensor& t);

// Row-major strides of `shape`.
std::vector<std::int64_t> row_major_strides(const Shape& shape);

}  // namespace loom::index_plan
