// loom::Dims: the dimensions a reduction runs over, given as libtorch's
// IntArrayRef accepts them: one dimension as an integer (`x.sum(1)`), or a
// braced list or a Shape (`x.sum({0, 2})`, `x.sum(dims)`). An empty list
// means every dimension, as loom's reductions have always read it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <type_traits>
#include <vector>

namespace loom {

class Dims {
 public:
  // No dimension given: every dimension.
  Dims() = default;
  // One dimension (negative counts from the end), from any integer type but
  // bool: x.sum(true) is almost certainly a mistake for x.sum(dim, true), and
  // does not compile.
  template <typename I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Dims(I dim) : dims_{static_cast<std::int64_t>(dim)} {}  // NOLINT: implicit, as IntArrayRef
  // A list of dimensions: x.sum({0, 2}).
  Dims(std::initializer_list<std::int64_t> dims) : dims_(dims) {}  // NOLINT: implicit
  // The dimensions held by a vector (loom::Shape).
  Dims(const std::vector<std::int64_t>& dims) : dims_(dims) {}  // NOLINT: implicit

  // The dimensions as given (not wrapped, not sorted).
  const std::vector<std::int64_t>& vec() const { return dims_; }
  operator const std::vector<std::int64_t>&() const { return dims_; }  // NOLINT: implicit
  bool empty() const { return dims_.empty(); }
  std::size_t size() const { return dims_.size(); }
  auto begin() const { return dims_.begin(); }
  auto end() const { return dims_.end(); }

 private:
  std::vector<std::int64_t> dims_;
};

}  // namespace loom
