// Indexing as libtorch spells it (torch::indexing), differentiable:
//
//   using namespace loom::indexing;
//   Tensor a = index(x, {Slice(0, 2), None, Ellipsis, 1});   // x[0:2, None, ..., 1]: a view
//   Tensor b = index(x, {Slice(), ids});                      // x[:, ids], ids Int64
//   Tensor c = index(x, {gt(x, zeros({}))});                  // x[x > 0]: a Bool mask
//   Tensor d = index_select(x, 1, ids);
//   Tensor e = gather(x, 1, idx);
//
// Integers, slices, None and Ellipsis give views (gradients flow back into
// the viewed tensor's positions); a tensor index (Int64, or a Bool mask over
// as many dimensions as it has) gathers copies, at most one per call. Every
// gather here runs on loom's embedding kernel, whose backward is a
// deterministic (atomic-free) scatter-sum on CUDA. Index values are checked
// on the host (a device read for CUDA indices).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <variant>
#include <vector>

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
// PyTorch's words: "index 5 is out of bounds for dimension 0 with size 3",
// "too many indices for tensor of dimension 2", "an index can only have a
// single ellipsis ('...')", and loom's own for a second tensor index.
Tensor index(const Tensor& x, const std::vector<indexing::TensorIndex>& indices);
Tensor index(const Tensor& x, std::initializer_list<indexing::TensorIndex> indices);

// The entries of x at `index` (Int64, 0-D or 1-D) along dim: out.size(dim) =
// index.numel(). Any dtype (the gradient for floating ones).
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);

// out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1 (likewise for any dim):
// index Int64 with x's number of dimensions, each size at most x's outside dim.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);

// x with src added at index along dim: out[index[i][j]][j] += src[i][j] for
// dim = 0 (likewise for any dim), repeated indices summed in order, as
// torch.scatter_add. index Int64 with x's number of dimensions, each size at
// most src's, and at most x's outside dim. Differentiable in x and src;
// deterministic on every device (the embedding kernel's scatter-sum).
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);

// The elements of x where mask (Bool, broadcastable with x) is true, as 1-D.
Tensor masked_select(const Tensor& x, const Tensor& mask);

// The indices (Int64 [count, x.dim()]) of x's non-zero elements, in order.
Tensor nonzero(const Tensor& x);

}  // namespace loom
