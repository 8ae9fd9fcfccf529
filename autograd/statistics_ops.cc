#include "autograd/statistics_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"

namespace loom {

namespace {

using native::BinaryOp;
using native::UnaryOp;

// PyTorch's refusal of var/std on integer and bool tensors.
void check_var_dtype(const Tensor& x) {
  LOOM_CHECK(x.defined(), "var/std: undefined tensor");
  LOOM_CHECK(is_floating(x.dtype()), "std and var only support floating point and complex dtypes");
}

// The reduced dimensions, wrapped and in decreasing order (so squeezing
// them one by one keeps the others' positions); all when `dims` is empty.
std::vector<std::int64_t> reduced_dims(const Tensor& x, const Shape& dims) {
  std::vector<std::int64_t> out;
  if (dims.empty()) {
    for (std::int64_t d = 0; d < x.dim(); ++d) out.push_back(d);
  } else {
    for (std::int64_t d : dims) out.push_back(x.wrap_dim(d));
  }
  std::sort(out.rbegin(), out.rend());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Number of elements reduced over `dims`.
std::int64_t reduced_count(const Tensor& x, const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= x.size(d);
  return n;
}

// Squeezes the (kept, size-1) reduced dimensions unless keepdim.
Tensor finish(const Tensor& kept, const std::vector<std::int64_t>& dims, bool keepdim) {
  if (keepdim) return kept;
  Tensor out = kept;
  for (std::int64_t d : dims) out = squeeze(out, d);  // decreasing order
  return out;
}

Shape as_shape(const std::vector<std::int64_t>& dims) { return Shape(dims.begin(), dims.end()); }

// y = sqrt(v) with PyTorch's std gradient: g / (2 y), 0 where y == 0.
struct StdSqrtBackward final : Node {
  Tensor y;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor half = native::binary(BinaryOp::Div, g[0], native::unary(UnaryOp::MulScalar, y, 2.0));
    Tensor zero = native::compare(native::CompareOp::Eq, y, native::zeros({}, TensorOptions(y.dtype()).device(y.device())));
    return {native::where(zero, native::zeros_like(half), half)};
  }
  void release_saved() override { y = Tensor(); }
  const char* name() const override { return "StdBackward"; }
};

// out = (sum |x|^p)^(1/p) with the reduced dims kept; PyTorch's gradient.
struct NormBackward final : Node {
  Tensor x, out;  // out: keepdim shape
  double p = 2;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    // g * sign(x) |x|^(p-1) / out^(p-1), 0 where out == 0
    Tensor ax = native::unary(UnaryOp::Abs, x);
    Tensor num = p == 2 ? x
                        : native::binary(BinaryOp::Mul, native::unary(UnaryOp::Sign, x),
                                         native::unary(UnaryOp::PowScalar, ax, p - 1));
    Tensor den = p == 2 ? out : native::unary(UnaryOp::PowScalar, out, p - 1);
    Tensor grad = native::binary(BinaryOp::Mul, g[0], native::binary(BinaryOp::Div, num, den));
    Tensor zero = native::compare(native::CompareOp::Eq, out,
                                  native::zeros({}, TensorOptions(out.dtype()).device(out.device())));
    return {native::where(zero, native::zeros_like(grad), grad)};
  }
  void release_saved() override { x = out = Tensor(); }
  const char* name() const override { return "NormBackward"; }
};

struct SignBackward final : Node {
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override { return {native::zeros_like(g[0])}; }
  const char* name() const override { return "SignBackward"; }
};

}  // namespace

Tensor min(const Tensor& x) {
  LOOM_CHECK(x.defined(), "min: undefined tensor");
  if (!is_floating(x.dtype())) {  // integers and bool: exact, no gradient
    LOOM_CHECK(x.numel() > 0, "min(): Expected reduction dim to be specified for input.numel() == 0. "
               "Specify the reduction dim with the 'dim' argument.");
    Tensor flat = native::contiguous(x);
    return native::min(make_view(flat, {x.numel()}, {1}, flat.storage_offset()), 0, false).first;
  }
  return neg(max(neg(x)));
}

std::pair<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim) {
  LOOM_CHECK(x.defined(), "min: undefined tensor");
  if (!is_floating(x.dtype())) {
    LOOM_CHECK(x.dim() == 0 || x.size(dim) > 0, "min(): Expected reduction dim {} to have non-zero size.", dim);
    return native::min(x, dim, keepdim);
  }
  auto [values, indices] = max(neg(x), dim, keepdim);
  return {neg(values), indices};
}

Tensor var(const Tensor& x, Dims dims, bool unbiased, bool keepdim) {
  check_var_dtype(x);
  const std::vector<std::int64_t> d = reduced_dims(x, dims);
  const std::int64_t n = reduced_count(x, d);
  Tensor mu = mean(x, as_shape(d), true);
  Tensor squares = sum(square(sub(x, mu)), as_shape(d), true);
  const double divisor = static_cast<double>(n) - (unbiased ? 1.0 : 0.0);
  // 1 / 0 = inf: 0 * inf = NaN for one element, as PyTorch's 0 / 0.
  Tensor v = mul(squares, divisor > 0 ? 1.0 / divisor : std::numeric_limits<double>::infinity());
  return finish(v, d, keepdim);
}

Tensor std(const Tensor& x, Dims dims, bool unbiased, bool keepdim) {
  check_var_dtype(x);
  Tensor v = var(x, dims, unbiased, keepdim);
  Tensor y = native::unary(UnaryOp::Sqrt, v);
  if (auto node = make_node<StdSqrtBackward>({v})) {
    node->y = y;
    set_history(y, node);
  }
  return y;
}

Tensor norm(const Tensor& x, double p, Dims dims, bool keepdim) {
  LOOM_CHECK(x.defined(), "norm: undefined tensor");
  LOOM_CHECK(is_floating(x.dtype()),
             "norm(): input dtype should be either floating point or complex. Got {} instead.",
             scalar_type_name(x.dtype()));
  LOOM_CHECK(std::isfinite(p) && p > 0, "norm: p = {} is not supported (finite p > 0)", p);
  const std::vector<std::int64_t> d = reduced_dims(x, dims);
  Tensor ax = native::unary(UnaryOp::Abs, x);
  Tensor powered = p == 2 ? native::unary(UnaryOp::Square, ax) : native::unary(UnaryOp::PowScalar, ax, p);
  Tensor s = native::sum(powered, as_shape(d), true);
  Tensor out = p == 2 ? native::unary(UnaryOp::Sqrt, s) : native::unary(UnaryOp::PowScalar, s, 1.0 / p);
  if (auto node = make_node<NormBackward>({x})) {
    node->x = saved(x);
    node->out = out;
    node->p = p;
    set_history(out, node);
  }
  return finish(out, d, keepdim);
}

Tensor logsumexp(const Tensor& x_in, Dims dims, bool keepdim) {
  LOOM_CHECK(x_in.defined(), "logsumexp: undefined tensor");
  // Integers and bool compute in the default float dtype, as torch.logsumexp.
  const Tensor x = is_floating(x_in.dtype()) ? x_in : native::to(x_in, kFloat32);
  const std::vector<std::int64_t> d = reduced_dims(x, dims);
  // The shift m: the maximum over the reduced dims (0 where it is infinite,
  // so that a row of -inf gives log(0) = -inf and +inf gives +inf).
  Tensor m = detach(x);
  for (std::int64_t dim : d) m = native::max(m, dim, true).first;
  Tensor inf = native::full({}, std::numeric_limits<double>::infinity(), TensorOptions(m.dtype()).device(m.device()));
  Tensor infinite = native::compare(native::CompareOp::Eq, native::unary(UnaryOp::Abs, m), inf);
  m = native::where(infinite, native::zeros_like(m), m);
  Tensor out = add(log(sum(exp(sub(x, m)), as_shape(d), true)), m);
  return finish(out, d, keepdim);
}

Tensor cumsum(const Tensor& x, std::int64_t dim) {
  LOOM_CHECK(x.defined(), "cumsum: undefined tensor");
  if (!is_floating(x.dtype())) return native::cumsum_integral(x, dim);  // int64, as torch.cumsum
  if (x.dim() == 0) return clone(x);
  const std::int64_t d = x.wrap_dim(dim);
  const std::int64_t n = x.size(d);
  // y[..., j] = sum_{i <= j} x[..., i]: a product with the upper-triangular
  // matrix of ones (every device, differentiable; O(n^2) per row).
  std::vector<double> upper(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i; j < n; ++j) upper[static_cast<std::size_t>(i * n + j)] = 1.0;
  Tensor ones_upper = tensor(upper, {n, n}, TensorOptions(x.dtype()).device(x.device()));
  autocast no_autocast(kBFloat16, false);  // cumsum keeps its dtype (PyTorch: float32 under autocast)
  Tensor moved = transpose(x, d, x.dim() - 1);
  return transpose(matmul(moved, ones_upper), d, x.dim() - 1);
}

Tensor sign(const Tensor& x) {
  LOOM_CHECK(x.defined(), "sign: undefined tensor");
  if (!is_floating(x.dtype())) {  // (x > 0) - (x < 0) in x's dtype; bool: x itself
    if (x.dtype() == kBool) return native::clone(x);
    Tensor zero = native::zeros({}, TensorOptions(x.dtype()).device(x.device()));
    Tensor pos = native::to(native::compare(native::CompareOp::Gt, x, zero), x.dtype());
    Tensor negative = native::to(native::compare(native::CompareOp::Lt, x, zero), x.dtype());
    return native::binary(BinaryOp::Sub, pos, negative);
  }
  Tensor out = native::unary(UnaryOp::Sign, x);  // NaN -> 0, as PyTorch 1.13's sign
  if (auto node = make_node<SignBackward>({x})) set_history(out, node);
  return out;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  LOOM_CHECK(a.dtype() == b.dtype(), "{} did not match {}", scalar_type_name(a.dtype()), scalar_type_name(b.dtype()));
  LOOM_CHECK(a.dtype() != kBool, "allclose: expected a floating or integer dtype, got bool");
  LOOM_CHECK(a.device() == b.device(), "allclose: a is on {} but b on {}", a.device().str(), b.device().str());
  const TensorOptions f64 = TensorOptions(kFloat64).device(a.device());
  Tensor x = native::to(a, kFloat64), y = native::to(b, kFloat64);
  Tensor inf = native::full({}, std::numeric_limits<double>::infinity(), f64);
  auto as_double = [](const Tensor& t) { return native::to(t, kFloat64); };
  auto finite = [&](const Tensor& t) {  // |t| < inf (false for NaN)
    return as_double(native::compare(native::CompareOp::Lt, native::unary(UnaryOp::Abs, t), inf));
  };
  Tensor diff = native::unary(UnaryOp::Abs, native::binary(BinaryOp::Sub, x, y));
  Tensor bound = native::unary(UnaryOp::AddScalar, native::unary(UnaryOp::MulScalar, native::unary(UnaryOp::Abs, y), rtol), atol);
  Tensor within = native::binary(BinaryOp::Mul, as_double(native::compare(native::CompareOp::Le, diff, bound)),
                                 native::binary(BinaryOp::Mul, finite(x), finite(y)));
  Tensor close = native::binary(BinaryOp::Maximum, within, as_double(native::compare(native::CompareOp::Eq, x, y)));
  if (equal_nan) {
    Tensor both_nan = native::binary(BinaryOp::Mul, as_double(native::compare(native::CompareOp::Ne, x, x)),
                                     as_double(native::compare(native::CompareOp::Ne, y, y)));
    close = native::binary(BinaryOp::Maximum, close, both_nan);
  }
  const double count = native::sum(close, {}).item();
  return count == static_cast<double>(close.numel());
}

}  // namespace loom
