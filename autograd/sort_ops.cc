#include "autograd/sort_ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "autograd/functions.h"
#include "autograd/indexing.h"
#include "core/native.h"

namespace loom {

namespace {

// The first `k` positions (along dim d) of each line of x in sorted order:
// Int64 of x's shape with size k at d.
Tensor order_along(const Tensor& x, std::int64_t d, bool descending, std::int64_t k) {
  const std::vector<double> v = native::to(native::contiguous(native::to(x, kCPU)), kFloat64).to_vector<double>();
  const std::int64_t n = x.size(d);
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t j = 0; j < d; ++j) outer *= x.size(j);
  for (std::int64_t j = d + 1; j < x.dim(); ++j) inner *= x.size(j);
  // a before b: NaN is the largest value (after +inf ascending, first descending).
  auto less = [](double a, double b) { return std::isnan(a) ? false : (std::isnan(b) ? true : a < b); };
  std::vector<std::int64_t> out(static_cast<std::size_t>(outer * k * inner));
  std::vector<std::int64_t> line(static_cast<std::size_t>(n));
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t r = 0; r < inner; ++r) {
      auto value = [&](std::int64_t i) { return v[static_cast<std::size_t>((o * n + i) * inner + r)]; };
      std::iota(line.begin(), line.end(), std::int64_t{0});
      std::stable_sort(line.begin(), line.end(), [&](std::int64_t a, std::int64_t b) {
        return descending ? less(value(b), value(a)) : less(value(a), value(b));
      });
      for (std::int64_t i = 0; i < k; ++i)
        out[static_cast<std::size_t>((o * k + i) * inner + r)] = line[static_cast<std::size_t>(i)];
    }
  }
  Shape shape = x.shape();
  shape[static_cast<std::size_t>(d)] = k;
  return native::to(tensor_int64(out, shape), x.device());
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, std::int64_t dim, bool descending) {
  if (x.dim() == 0) return {x, zeros({}, TensorOptions(kInt64).device(x.device()))};
  const std::int64_t d = x.wrap_dim(dim);
  Tensor indices = order_along(x, d, descending, x.size(d));
  return {gather(x, d, indices), indices};
}

Tensor argsort(const Tensor& x, std::int64_t dim, bool descending) { return sort(x, dim, descending).second; }

std::pair<Tensor, Tensor> topk(const Tensor& x, std::int64_t k, std::int64_t dim, bool largest) {
  const std::int64_t d = x.dim() == 0 ? 0 : x.wrap_dim(dim);
  const std::int64_t n = x.dim() == 0 ? 1 : x.size(d);
  LOOM_CHECK(k >= 0 && k <= n, "selected index k out of range");
  if (x.dim() == 0) return {x, zeros({}, TensorOptions(kInt64).device(x.device()))};
  Tensor indices = order_along(x, d, largest, k);
  return {gather(x, d, indices), indices};
}

}  // namespace loom
