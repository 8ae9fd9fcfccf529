// Movement, factories and elementwise operations of loom::native.
#include <algorithm>
#include <array>
#include <cmath>

#include "core/allocator.h"
#include "core/native.h"

namespace loom::native {

namespace k = loom::kernels;

namespace {

// Broadcast strides of x against `shape` (stride 0 where x is broadcast).
Shape broadcast_strides(const Tensor& x, const Shape& shape) {
  std::size_t nd = shape.size(), xd = x.shape().size();
  Shape s(nd, 0);
  for (std::size_t i = 0; i < xd; ++i) {
    std::size_t d = nd - xd + i;
    s[d] = x.shape()[i] == 1 && shape[d] != 1 ? 0 : x.strides()[i];
  }
  return s;
}

// Builds an OffsetCalc over `shape`, collapsing size-1 dims, for operands `xs`.
template <int N>
k::OffsetCalc<N> make_calc(const Shape& shape, const std::array<Shape, N>& strides) {
  k::OffsetCalc<N> c;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    LOOM_CHECK(c.ndim < k::kMaxDims, "loom supports at most {} non-trivial dimensions, got shape {}",
               k::kMaxDims, shape_str(shape));
    c.sizes[c.ndim] = shape[d];
    for (int i = 0; i < N; ++i) c.strides[i][c.ndim] = strides[i][d];
    ++c.ndim;
  }
  return c;
}

}  // namespace

void fail_no_cuda(const char* op) { fail("{}: loom was built without CUDA support", op); }

void check_same_dtype_device(const char* op, const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.dtype() == b.dtype(),
             "{}: expected both operands to have the same dtype, but got {} and {}", op,
             scalar_type_name(a.dtype()), scalar_type_name(b.dtype()));
  LOOM_CHECK(a.device() == b.device(),
             "{}: Expected all tensors to be on the same device, but found at least two devices, {} "
             "and {}!",
             op, a.device(), b.device());
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    std::int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    LOOM_CHECK(x == y || x == 1 || y == 1,
               "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton "
               "dimension {} (shapes {} and {})",
               x, y, i, shape_str(a), shape_str(b));
    out[i] = x == 1 ? y : x;
  }
  return out;
}

void copy_(const Tensor& dst, const Tensor& src) {
  Shape b = broadcast_shapes(dst.shape(), src.shape());
  LOOM_CHECK(b == dst.shape(), "copy_: source shape {} cannot be broadcast to destination shape {}",
             shape_str(src.shape()), shape_str(dst.shape()));
  if (dst.numel() == 0) return;
  Tensor s = src;
  if (src.device() != dst.device()) {
    // Cross devices through a contiguous staging copy in src's dtype.
    Tensor packed = contiguous(src);
    Tensor staged = empty(packed.shape(), TensorOptions(packed.dtype()).device(dst.device()));
    device_memcpy(staged.data_ptr(), dst.device(), packed.data_ptr(), packed.device(),
                  static_cast<std::size_t>(packed.numel()) * element_size(packed.dtype()));
    s = staged;
  }
  auto calc = make_calc<2>(dst.shape(), {broadcast_strides(s, dst.shape()), dst.strides()});
  std::int64_t n = dst.numel();
  dispatch_all(s.dtype(), [&](auto from) {
    using From = decltype(from);
    dispatch_all(dst.dtype(), [&](auto to) {
      using To = decltype(to);
      auto* sp = static_cast<const From*>(s.data_ptr());
      auto* dp = static_cast<To*>(dst.data_ptr());
      LOOM_DISPATCH_DEVICE(dst.device(), copy, n, calc, sp, dp);
    });
  });
}

Tensor to_opmath(const Tensor& x) { return is_reduced_float(x.dtype()) ? to(x, kFloat32) : x; }

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Tensor clone(const Tensor& x) {
  Tensor out = empty(x.shape(), TensorOptions(x.dtype()).device(x.device()));
  copy_(out, x);
  return out;
}

Tensor to(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor out = empty(x.shape(), TensorOptions(x.dtype()).device(device));
  copy_(out, x);
  return out;
}

Tensor to(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), TensorOptions(dtype).device(x.device()));
  copy_(out, x);
  return out;
}

void fill_(const Tensor& x, double value) {
  if (x.numel() == 0) return;
  if (!x.is_contiguous()) {
    copy_(x, full({}, value, TensorOptions(x.dtype()).device(x.device())));
    return;
  }
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T v = convert<T>(value);
    LOOM_DISPATCH_DEVICE(x.device(), fill, x.numel(), v, static_cast<T*>(x.data_ptr()));
  });
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  Tensor t = empty(shape, options.requires_grad(false));
  fill_(t, value);
  if (options.requires_grad_) t.requires_grad_(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor zeros_like(const Tensor& x) {
  return zeros(x.shape(), TensorOptions(x.dtype()).device(x.device()));
}
Tensor ones_like(const Tensor& x) {
  return ones(x.shape(), TensorOptions(x.dtype()).device(x.device()));
}

Tensor arange(double start, double end, double step, TensorOptions options) {
  double count = 0;
  if (is_integral(options.dtype_)) {
    // As PyTorch: start, end and step are first truncated to int64 (a step
    // of 0.5 is 0); the length is counted from the truncated values for
    // int64 and from the given ones for int32/uint8.
    const double s = std::trunc(start), e = std::trunc(end), st = std::trunc(step);
    LOOM_CHECK(st != 0, "arange: step must be nonzero");
    LOOM_CHECK((st > 0 && e >= s) || (st < 0 && e <= s),
               "arange: upper bound and larger bound inconsistent with step sign");
    count = options.dtype_ == kInt64 ? std::ceil((e - s) / st) : std::ceil((end - start) / step);
    start = s;
    step = st;
  } else {
    LOOM_CHECK(step != 0, "arange: step must be nonzero");
    LOOM_CHECK((step > 0 && end >= start) || (step < 0 && end <= start),
               "arange: upper bound and larger bound inconsistent with step sign");
    count = std::ceil((end - start) / step);
  }
  // (a plain cast of a count beyond int64, e.g. arange(0, 1e300), is undefined)
  LOOM_CHECK(count >= 0 && count < 9223372036854775807.0, "arange: invalid size, possible overflow?");
  auto n = static_cast<std::int64_t>(count);
  Tensor t = empty({n}, options.requires_grad(false));
  dispatch_all(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    LOOM_DISPATCH_DEVICE(t.device(), arange, n, start, step, static_cast<T*>(t.data_ptr()));
  });
  if (options.requires_grad_) t.requires_grad_(true);
  return t;
}

Tensor unary(UnaryOp op, const Tensor& x, double alpha) {
  Tensor out = empty(x.shape(), TensorOptions(x.dtype()).device(x.device()));
  auto calc = make_calc<1>(x.shape(), {x.strides()});
  dispatch_floating_and_half(x.dtype(), "unary operation", [&](auto tag) {
    using T = decltype(tag);
    auto* xp = static_cast<const T*>(x.data_ptr());
    auto* yp = static_cast<T*>(out.data_ptr());
    auto a = static_cast<opmath_t<T>>(alpha);  // the scalar stays unrounded, as PyTorch's add/mul...
    if constexpr (is_reduced_float_v<T>) {
      // ...except rsub (alpha - x): PyTorch casts that scalar, its first
      // operand, to x's dtype before the float math.
      if (op == UnaryOp::RSubScalar) a = static_cast<float>(convert<T>(alpha));
    }
    LOOM_DISPATCH_DEVICE(x.device(), unary, op, a, x.numel(), calc, xp, yp);
  });
  return out;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  check_same_dtype_device("binary operation", a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape());
  Tensor out = empty(shape, TensorOptions(a.dtype()).device(a.device()));
  auto calc = make_calc<2>(shape, {broadcast_strides(a, shape), broadcast_strides(b, shape)});
  auto run = [&](auto tag) {
    using T = decltype(tag);
    auto* ap = static_cast<const T*>(a.data_ptr());
    auto* bp = static_cast<const T*>(b.data_ptr());
    auto* op_ = static_cast<T*>(out.data_ptr());
    LOOM_DISPATCH_DEVICE(a.device(), binary, op, out.numel(), calc, ap, bp, op_);
  };
  // integer math (kernels/elementwise.h)
  if (a.dtype() == kInt64) run(std::int64_t{});
  else if (a.dtype() == kInt32) run(std::int32_t{});
  else if (a.dtype() == kUInt8) run(std::uint8_t{});
  else dispatch_floating_and_half(a.dtype(), "binary operation", run);
  return out;
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
  check_same_dtype_device("comparison", a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape());
  Tensor out = empty(shape, TensorOptions(kBool).device(a.device()));
  auto calc = make_calc<2>(shape, {broadcast_strides(a, shape), broadcast_strides(b, shape)});
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto* ap = static_cast<const T*>(a.data_ptr());
    auto* bp = static_cast<const T*>(b.data_ptr());
    auto* op_ = static_cast<bool*>(out.data_ptr());
    LOOM_DISPATCH_DEVICE(a.device(), compare, op, out.numel(), calc, ap, bp, op_);
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  LOOM_CHECK(cond.dtype() == kBool, "where expected condition to be a boolean tensor, but got a "
             "tensor with dtype {}", cond.dtype());
  check_same_dtype_device("where", a, b);
  LOOM_CHECK(cond.device() == a.device(), "where: condition is on {} but values are on {}",
             cond.device(), a.device());
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape()), b.shape());
  Tensor out = empty(shape, TensorOptions(a.dtype()).device(a.device()));
  auto calc = make_calc<3>(shape, {broadcast_strides(cond, shape), broadcast_strides(a, shape),
                                   broadcast_strides(b, shape)});
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto* cp = static_cast<const bool*>(cond.data_ptr());
    auto* ap = static_cast<const T*>(a.data_ptr());
    auto* bp = static_cast<const T*>(b.data_ptr());
    auto* op_ = static_cast<T*>(out.data_ptr());
    LOOM_DISPATCH_DEVICE(a.device(), where, out.numel(), calc, cp, ap, bp, op_);
  });
  return out;
}

}  // namespace loom::native
