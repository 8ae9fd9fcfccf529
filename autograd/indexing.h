// Indexing as libtorch spells it (torch::indexing), differentiable:
//
//   using namespace loom::indexing;
//   Tensor a = index(x, {Slice(0, 2), None, Ellipsis, 1});   // x[0:2, None, ..., 1]: a view
//   Tensor b = index(x, {Slice(), ids});                      // x[:, ids], ids Int64
//   Tensor c = index(x, {gt(x, zeros({}))});                  // x[x > 0]: a Bool mask
//   Tensor d = index(x, {rows, Slice(), cols});               // x[rows, :, cols]: broadcast together
//   Tensor e = index_put(x, {Slice(), ids}, v);               // x[:, ids] = v, out of place
//   x.index_put_({mask}, 0.0);  x.scatter_(1, idx, src);      // in place
//   Tensor f = index_select(x, 1, ids);
//   Tensor g = gather(x, 1, idx);
//
// Integers, slices, None and Ellipsis give views (gradients flow back into
// the viewed tensor's positions); tensor indices (Int64, or a Bool mask over
// as many dimensions as it has, which counts as its nonzero coordinates, one
// index per dimension) gather copies. Several tensor indices broadcast
// together to a shape B, as PyTorch's advanced indexing: when the indexed
// dimensions are adjacent, B replaces them in place; when a slice (or
// Ellipsis) separates them, B goes first. Integers (and 0-D Int64 tensors)
// select before that, as in PyTorch: x[:, i, 0, j] is [N0, B].
//
// Every gather here runs on loom's embedding kernel and every write or sum
// on its deterministic (atomic-free) scatter-sum, so every op is
// deterministic on CUDA; positions are computed on the host (a device read
// for CUDA indices).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <variant>
#include <vector>

#include "core/scalar.h"
#include "core/tensor.h"

namespace loom {

namespace indexing {

// start:stop:step with Python's defaults (None: the whole dimension).
struct Slice {
  Slice(std::optional<std::int64_t> start = std::nullopt, std::optional<std::int64_t> stop = std::nullopt,
        std::optional<std::int64_t> step = std::nullopt)
      : start(start), stop(stop), step(step) {}
  std::optional<std::int64_t> start, stop, step;
};
struct NoneIndex {};      // a new dimension of size 1
struct EllipsisIndex {};  // as many full slices as needed
inline constexpr NoneIndex None{};
inline constexpr EllipsisIndex Ellipsis{};

// One entry of an index() list: an integer, a Slice, None, Ellipsis or a tensor.
class TensorIndex {
 public:
  TensorIndex(std::int64_t i) : value_(i) {}  // NOLINT: implicit, as libtorch
  TensorIndex(int i) : value_(static_cast<std::int64_t>(i)) {}  // NOLINT
  TensorIndex(Slice s) : value_(s) {}         // NOLINT
  TensorIndex(NoneIndex n) : value_(n) {}     // NOLINT
  TensorIndex(EllipsisIndex e) : value_(e) {} // NOLINT
  TensorIndex(Tensor t) : value_(std::move(t)) {}  // NOLINT
  const std::variant<std::int64_t, Slice, NoneIndex, EllipsisIndex, Tensor>& value() const { return value_; }

 private:
  std::variant<std::int64_t, Slice, NoneIndex, EllipsisIndex, Tensor> value_;
};

}  // namespace indexing

// x[indices...] with Python's rules (see the top of this file). Errors in
// PyTorch's words: "index 5 is out of bounds for dimension 0 with size 3"
// (for a tensor index, the dimension is its ordinal among the tensor
// indices, as PyTorch's kernel says), "too many indices for tensor of
// dimension 2", "an index can only have a single ellipsis ('...')",
// "tensors used as indices must be long, byte or bool tensors", "shape
// mismatch: indexing tensors could not be broadcast together with shapes
// [3], [2]".
Tensor index(const Tensor& x, const std::vector<indexing::TensorIndex>& indices);
Tensor index(const Tensor& x, std::initializer_list<indexing::TensorIndex> indices);

// The entries of x at `index` (Int64, 0-D or 1-D) along dim: out.size(dim) =
// index.numel(). Any dtype (the gradient for floating ones).
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);

// out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1 (likewise for any dim):
// index Int64 with x's number of dimensions, each size at most x's outside dim.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);

// x with src added at index along dim: out[index[i][j]][j] += src[i][j] for
// dim = 0 (likewise for any dim), repeated indices added in order to x's
// value (x + s1 + s2, as PyTorch's CPU kernel), as torch.scatter_add. index
// Int64 with x's number of dimensions, each size at most src's, and at most
// x's outside dim; src of x's dtype. Differentiable in x and src;
// deterministic on every device. Integer tensors too (through float64).
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);

// x with src written at index along dim: out[index[i][j]][j] = src[i][j] for
// dim = 0 (likewise for any dim), as torch.scatter; the value form writes
// `value` (cast to x's dtype). Arguments as scatter_add, errors in
// PyTorch's words ("scatter(): Expected dtype int64 for index", "Index tensor
// must have the same number of dimensions as self tensor", "Expected index
// [3, 1] to be smaller than self [2, 2] apart from dimension 0 and to be
// smaller size than src [3, 1]", "index 5 is out of bounds for dimension 1
// with size 5"). Repeated indices: where PyTorch leaves the winner
// unspecified, loom's rule on every device is that the last write in
// index's row-major order wins. Gradients as PyTorch's: x's is zero at the
// written positions, src's is gather(grad, dim, index) (every write, the
// overwritten ones too; zero where src is larger than index).
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, Scalar value);

// x with `values` written at x[indices] (the index list of index(), tensor
// indices broadcast as there), out of place: torch's index_put / libtorch's
// x.index_put_(indices, values) without the "_". values has x's dtype and
// broadcasts to the shape of x[indices] (extra leading 1s allowed, as
// PyTorch's x[...] = v); a Scalar is cast to x's dtype. accumulate adds
// (repeated positions in order, x + v1 + v2, as PyTorch's CPU kernel);
// otherwise repeated positions keep their last write (row-major order of the
// indexed result), on every device. Differentiable as PyTorch's: x's
// gradient is zero at written positions (unchanged when accumulate),
// values' is grad[indices] summed over broadcast dims. Errors in PyTorch's
// words, e.g. "shape mismatch: value tensor of shape [3] cannot be broadcast
// to indexing result of shape [2, 3]", "Index put requires the source and
// destination dtypes match, got Float for the destination and Double for the
// source.", and index()'s.
Tensor index_put(const Tensor& x, const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                 bool accumulate = false);
Tensor index_put(const Tensor& x, std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                 bool accumulate = false);
Tensor index_put(const Tensor& x, std::initializer_list<indexing::TensorIndex> indices, Scalar value);
// torch.index_put(x, (i0, i1, ...), values, accumulate): entry k indexes
// dimension k, an undefined Tensor is a full slice (libtorch's nullopt);
// 0-D indices broadcast (no select); values broadcast without stripping.
Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false);

// torch.index(x, (i0, i1, ...)) / x[i0, i1, ...] with tensors only: entry k
// indexes dimension k, an undefined Tensor is a full slice.
Tensor index(const Tensor& x, const std::vector<Tensor>& indices);

// The elements of x where mask (Bool, broadcastable with x) is true, as 1-D.
Tensor masked_select(const Tensor& x, const Tensor& mask);

// The indices (Int64 [count, x.dim()]) of x's non-zero elements, in order.
Tensor nonzero(const Tensor& x);

}  // namespace loom
