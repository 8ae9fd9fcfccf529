#include "autograd/factory_ops.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "autograd/functions.h"
#include "core/native.h"

namespace loom {

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options) {
  LOOM_CHECK(low < high, "random_ expects 'from' to be less than 'to', but got from={} >= to={}", low, high);
  const DType dtype = options.dtype_;
  LOOM_CHECK(dtype == kInt64 || is_floating(dtype), "randint: dtype {} is not supported", dtype);
  // k = trunc(u * (high - low)) in [0, high - low) from u in [0, 1) drawn in
  // float64, then low + k (exact below 2^53).
  const double range = static_cast<double>(high) - static_cast<double>(low);
  Tensor u = rand(shape, TensorOptions(kFloat64).device(options.device_));
  Tensor k = native::unary(native::UnaryOp::ClampMax, native::unary(native::UnaryOp::MulScalar, u, range), range - 1);
  Tensor whole = native::to(native::to(k, kInt64), kFloat64);  // truncation: k >= 0
  Tensor out = native::to(native::unary(native::UnaryOp::AddScalar, whole, static_cast<double>(low)), dtype);
  return out;
}

Tensor randint(std::int64_t high, const Shape& shape, TensorOptions options) {
  return randint(0, high, shape, options);
}

Tensor randperm(std::int64_t n, TensorOptions options) {
  LOOM_CHECK(n >= 0, "n must be non-negative, got {}", n);
  const DType dtype = options.dtype_;
  LOOM_CHECK(dtype == kInt64 || is_floating(dtype), "randperm: dtype {} is not supported", dtype);
  // The order of n uniform draws (the generator is the same on every
  // device, so the draw is made on the CPU and the result moved).
  std::vector<double> keys = rand({n}, kFloat64).to_vector<double>();
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return keys[static_cast<std::size_t>(a)] < keys[static_cast<std::size_t>(b)]; });
  Tensor out = native::to(tensor_int64(order, {n}), dtype);
  return native::to(out, options.device_);
}

Tensor empty_like(const Tensor& x) { return empty(x.shape(), TensorOptions(x.dtype()).device(x.device())); }

Tensor rand_like(const Tensor& x) { return rand(x.shape(), TensorOptions(x.dtype()).device(x.device())); }

Tensor randn_like(const Tensor& x) { return randn(x.shape(), TensorOptions(x.dtype()).device(x.device())); }

Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions options) {
  const auto n_rows = static_cast<std::int64_t>(rows.size());
  const std::int64_t n_cols = n_rows == 0 ? 0 : static_cast<std::int64_t>(rows.begin()->size());
  std::vector<double> values;
  std::int64_t r = 0;
  for (const auto& row : rows) {
    LOOM_CHECK(static_cast<std::int64_t>(row.size()) == n_cols,
               "tensor: row {} has {} values, expected {} (the rows of a nested list must have equal lengths)", r,
               row.size(), n_cols);
    values.insert(values.end(), row.begin(), row.end());
    ++r;
  }
  return tensor(values, {n_rows, n_cols}, options);
}

Tensor tensor(std::initializer_list<std::initializer_list<std::initializer_list<double>>> blocks,
              TensorOptions options) {
  const auto n = static_cast<std::int64_t>(blocks.size());
  std::vector<double> values;
  std::int64_t rows = -1, cols = -1, b = 0;
  for (const auto& block : blocks) {
    Tensor t = tensor(block, kFloat64);
    if (rows < 0) rows = t.size(0), cols = t.size(1);
    LOOM_CHECK(t.size(0) == rows && t.size(1) == cols,
               "tensor: block {} is {}x{}, expected {}x{} (the blocks of a nested list must have equal shapes)", b,
               t.size(0), t.size(1), rows, cols);
    std::vector<double> v = t.to_vector<double>();
    values.insert(values.end(), v.begin(), v.end());
    ++b;
  }
  return tensor(values, {n, std::max<std::int64_t>(rows, 0), std::max<std::int64_t>(cols, 0)}, options);
}

}  // namespace loom
