// Differentiable elementwise operations. Backward formulas are written with
// the same differentiable operations (grad mode is off while they run).
#include <cmath>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "core/type_promotion.h"

namespace loom {

using native::BinaryOp;
using native::UnaryOp;

namespace {

// ---- binary ---------------------------------------------------------------------------
struct AddBackward final : Node {
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {sum_to(g[0], input_meta[0].shape), sum_to(g[0], input_meta[1].shape)};
  }
  const char* name() const override { return "AddBackward"; }
  bool double_backward_ok() const override { return true; }
};

struct SubBackward final : Node {
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {sum_to(g[0], input_meta[0].shape), sum_to(neg(g[0]), input_meta[1].shape)};
  }
  const char* name() const override { return "SubBackward"; }
  bool double_backward_ok() const override { return true; }
};

struct MulBackward final : Node {
  Tensor a, b;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor ga = next_edges[0].node ? sum_to(g[0] * b, input_meta[0].shape) : Tensor();
    Tensor gb = next_edges[1].node ? sum_to(g[0] * a, input_meta[1].shape) : Tensor();
    return {ga, gb};
  }
  void release_saved() override { a = b = Tensor(); }
  const char* name() const override { return "MulBackward"; }
  // Exact when one operand is a constant: each gradient reads only the other.
  bool double_backward_ok() const override { return !(next_edges[0].node && next_edges[1].node); }
};

struct DivBackward final : Node {
  Tensor a, b;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor ga = next_edges[0].node ? sum_to(g[0] / b, input_meta[0].shape) : Tensor();
    Tensor gb = next_edges[1].node ? sum_to(neg(g[0] * a / (b * b)), input_meta[1].shape) : Tensor();
    return {ga, gb};
  }
  void release_saved() override { a = b = Tensor(); }
  const char* name() const override { return "DivBackward"; }
  // Exact when the divisor is a constant: the dividend's gradient reads only it.
  bool double_backward_ok() const override { return !next_edges[1].node; }
};

struct PowBackward final : Node {  // base ^ exponent, both tensors
  Tensor base, exponent, result;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor gb, ge;
    if (next_edges[0].node)
      gb = sum_to(g[0] * exponent * pow(base, exponent - 1.0), input_meta[0].shape);
    if (next_edges[1].node) {
      // d/de b^e = b^e log b; 0 where b == 0 and e >= 0, as PyTorch.
      Tensor zero = native::zeros_like(base);
      Tensor logb = where(eq(base, zero), zero, log(base));
      ge = sum_to(g[0] * result * logb, input_meta[1].shape);
    }
    return {gb, ge};
  }
  void release_saved() override { base = exponent = result = Tensor(); }
  const char* name() const override { return "PowBackward"; }
};

struct MaxMinBackward final : Node {  // maximum/minimum: the winner takes the gradient
  Tensor a, b;
  bool is_max = true;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor half = g[0] * 0.5;
    Tensor zero = native::zeros_like(g[0]);
    Tensor a_wins = is_max ? gt(a, b) : lt(a, b);
    Tensor tie = eq(a, b);
    Tensor ga = where(a_wins, g[0], where(tie, half, zero));
    Tensor gb = where(a_wins, zero, where(tie, half, g[0]));
    return {sum_to(ga, input_meta[0].shape), sum_to(gb, input_meta[1].shape)};
  }
  void release_saved() override { a = b = Tensor(); }
  const char* name() const override { return is_max ? "MaximumBackward" : "MinimumBackward"; }
};

// ---- unary ----------------------------------------------------------------------------
// One node type for every unary function: `derivative` maps (x, y) to dy/dx.
struct UnaryBackward final : Node {
  const char* node_name = "";
  Tensor x, y;
  Tensor (*derivative)(const Tensor& x, const Tensor& y, double alpha) = nullptr;
  double alpha = 0;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {g[0] * derivative(x, y, alpha)};
  }
  void release_saved() override { x = y = Tensor(); }
  const char* name() const override { return node_name; }
};

// What a unary node keeps for backward, as PyTorch's formulas: the input
// (log, abs, pow), the result (exp, tanh, sigmoid, relu, sqrt). Keeping only
// that makes an in-place change of the other one legal, as in PyTorch.
enum class Keep { Input, Result };

Tensor record_unary(Tensor y, const Tensor& x, const char* name, double alpha,
                    Tensor (*derivative)(const Tensor&, const Tensor&, double),
                    Keep keep = Keep::Input) {
  if (auto node = make_node<UnaryBackward>({x})) {
    node->node_name = name;
    if (keep == Keep::Input) node->x = saved(x);
    else node->y = saved(y);
    node->alpha = alpha;
    node->derivative = derivative;
    set_history(y, node);
  }
  return y;
}

Tensor unary_op(UnaryOp op, const Tensor& x, const char* name,
                Tensor (*derivative)(const Tensor&, const Tensor&, double), double alpha = 0,
                Keep keep = Keep::Input) {
  return record_unary(native::unary(op, x, alpha), x, name, alpha, derivative, keep);
}

// d(x * factor + c)/dx = factor: add, sub, mul, rsub and neg by a scalar save nothing.
// The backward is the differentiable g * factor, so it is exact under create_graph.
struct ScaleBackward final : Node {
  const char* node_name = "";
  double factor = 1;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {factor == 1 ? g[0] : mul(g[0], factor)};
  }
  const char* name() const override { return node_name; }
  bool double_backward_ok() const override { return true; }
};

Tensor scale_op(UnaryOp op, const Tensor& x, const char* name, double alpha, double factor) {
  Tensor y = native::unary(op, x, alpha);
  if (auto node = make_node<ScaleBackward>({x})) {
    node->node_name = name;
    node->factor = factor;
    set_history(y, node);
  }
  return y;
}

Tensor scalar_like(const Tensor& x, double v) {
  return native::full({}, v, TensorOptions(x.dtype()).device(x.device()));
}

// A 0-dim tensor of dtype t holding s (integers exactly).
Tensor scalar_tensor(const Scalar& s, DType t, Device device) {
  if (!s.is_floating_point())
    return native::to(tensor_int64({s.to_int64()}, {}, device), t);
  return native::full({}, s.to_double(), TensorOptions(t).device(device));
}

// Bool op Bool as PyTorch: add and maximum are "or", mul and minimum "and";
// no gradient.
Tensor bool_binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  LOOM_CHECK(op != BinaryOp::Sub,
             "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
             "or `logical_xor()` operator instead.");
  LOOM_CHECK(op != BinaryOp::Pow, "pow: two bool operands are not supported by loom");
  Tensor r = native::binary(op, native::to(a, kInt64), native::to(b, kInt64));
  return native::to(r, kBool);
}

Tensor binary_op(BinaryOp op, const Tensor& a_in, const Tensor& b_in) {
  LOOM_CHECK(a_in.defined() && b_in.defined(), "binary operation: expected defined tensors");
  // PyTorch's type promotion; the casts are recorded, so each operand's
  // gradient comes back in its own dtype.
  DType common = result_type(a_in, b_in);
  if (op == BinaryOp::Div && !is_floating(common)) common = kDefaultFloatDType;  // true division
  if (common == kBool) return bool_binary(op, a_in, b_in);
  const Tensor a = to(a_in, common);
  const Tensor b = to(b_in, common);
  Tensor out = native::binary(op, a, b);
  switch (op) {
    case BinaryOp::Add:
      if (auto node = make_node<AddBackward>({a, b})) set_history(out, node);
      break;
    case BinaryOp::Sub:
      if (auto node = make_node<SubBackward>({a, b})) set_history(out, node);
      break;
    case BinaryOp::Mul:
      if (auto node = make_node<MulBackward>({a, b})) {
        node->a = saved(a);
        node->b = saved(b);
        set_history(out, node);
      }
      break;
    case BinaryOp::Div:
      if (auto node = make_node<DivBackward>({a, b})) {
        node->a = saved(a);
        node->b = saved(b);
        set_history(out, node);
      }
      break;
    case BinaryOp::Pow:
      if (auto node = make_node<PowBackward>({a, b})) {
        node->base = saved(a);
        node->exponent = saved(b);
        node->result = saved(out);
        set_history(out, node);
      }
      break;
    case BinaryOp::Maximum:
    case BinaryOp::Minimum:
      if (auto node = make_node<MaxMinBackward>({a, b})) {
        node->a = saved(a);
        node->b = saved(b);
        node->is_max = op == BinaryOp::Maximum;
        set_history(out, node);
      }
      break;
  }
  return out;
}

// Gradient passes where min <= x <= max (not for NaN), as PyTorch.
struct ClampBackward final : Node {
  Tensor x;
  double min = 0, max = 0;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    using native::CompareOp;
    auto bound = [&](double v) { return native::full({}, v, TensorOptions(x.dtype()).device(x.device())); };
    Tensor inside = native::where(native::compare(CompareOp::Ge, x, bound(min)),
                                  native::compare(CompareOp::Le, x, bound(max)),
                                  native::zeros(x.shape(), TensorOptions(kBool).device(x.device())));
    return {native::where(inside, g[0], native::zeros_like(g[0]))};
  }
  void release_saved() override { x = Tensor(); }
  const char* name() const override { return "ClampBackward"; }
};

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Div, a, b); }
Tensor pow(const Tensor& base, const Tensor& exponent) {
  return binary_op(BinaryOp::Pow, base, exponent);
}
Tensor maximum(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Minimum, a, b); }

namespace {
// Tensor-scalar ops on an integer or bool result go through the tensor-tensor
// kernel with a 0-dim operand (no gradient: integers need none).
Tensor integral_scalar_op(BinaryOp op, const Tensor& a, const Scalar& b, DType t, bool scalar_first) {
  Tensor s = scalar_tensor(b, t, a.device());
  return scalar_first ? binary_op(op, s, a) : binary_op(op, a, s);
}
}  // namespace

Tensor add(const Tensor& a, Scalar b) {
  DType t = result_type(a, b);
  if (!is_floating(t)) return integral_scalar_op(BinaryOp::Add, a, b, t, false);
  return scale_op(UnaryOp::AddScalar, to(a, t), "AddBackward", b.to_double(), 1.0);
}
Tensor sub(const Tensor& a, Scalar b) {
  DType t = result_type(a, b);
  if (!is_floating(t)) return integral_scalar_op(BinaryOp::Sub, a, b, t, false);
  return add(a, -b.to_double());
}
Tensor mul(const Tensor& a, Scalar b) {
  DType t = result_type(a, b);
  if (!is_floating(t)) return integral_scalar_op(BinaryOp::Mul, a, b, t, false);
  return scale_op(UnaryOp::MulScalar, to(a, t), "MulBackward", b.to_double(), b.to_double());
}
Tensor div(const Tensor& a, Scalar b) {
  DType t = result_type(a, b);
  if (!is_floating(t)) t = kDefaultFloatDType;  // true division, as torch.div
  return mul(to(a, t), 1.0 / b.to_double());
}
Tensor rsub(const Tensor& a, Scalar b) {
  DType t = result_type(a, b);
  if (!is_floating(t)) return integral_scalar_op(BinaryOp::Sub, a, b, t, true);
  return scale_op(UnaryOp::RSubScalar, to(a, t), "RsubBackward", b.to_double(), -1.0);
}

namespace {
// Integer and bool tensors: elementwise results of their own dtype, composed
// of the exact (wrapping) integer kernels; integers carry no gradient.
Tensor integer_neg(const Tensor& x) {
  LOOM_CHECK(x.dtype() != kBool,
             "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
             "invert a mask, use the `~` or `logical_not()` operator instead.");
  return native::binary(BinaryOp::Sub, native::zeros({}, TensorOptions(x.dtype()).device(x.device())), x);
}
Tensor integer_abs(const Tensor& x) {
  LOOM_CHECK(x.dtype() != kBool, "\"abs_cpu\" not implemented for 'Bool'");
  if (x.dtype() == kUInt8) return native::clone(x);
  Tensor zero = native::zeros({}, TensorOptions(x.dtype()).device(x.device()));
  return native::where(native::compare(native::CompareOp::Lt, x, zero), integer_neg(x), x);
}
}  // namespace

Tensor neg(const Tensor& x) {
  if (!is_floating(x.dtype())) return integer_neg(x);  // wraps: -INT32_MIN is INT32_MIN, as PyTorch
  return scale_op(UnaryOp::Neg, x, "NegBackward", 0.0, -1.0);
}
Tensor exp(const Tensor& x) {
  return unary_op(UnaryOp::Exp, x, "ExpBackward",
                  [](const Tensor&, const Tensor& y, double) { return y; }, 0.0, Keep::Result);
}
Tensor log(const Tensor& x) {
  return unary_op(UnaryOp::Log, x, "LogBackward", [](const Tensor& x, const Tensor&, double) {
    return native::unary(UnaryOp::Reciprocal, x);
  });
}
Tensor tanh(const Tensor& x) {
  return unary_op(UnaryOp::Tanh, x, "TanhBackward", [](const Tensor&, const Tensor& y, double) {
    return rsub(y * y, 1.0);
  }, 0.0, Keep::Result);
}
Tensor sigmoid(const Tensor& x) {
  return unary_op(UnaryOp::Sigmoid, x, "SigmoidBackward", [](const Tensor&, const Tensor& y, double) {
    return y * rsub(y, 1.0);
  }, 0.0, Keep::Result);
}
Tensor relu(const Tensor& x) {
  return unary_op(UnaryOp::Relu, x, "ReluBackward", [](const Tensor&, const Tensor& y, double) {
    return native::unary(UnaryOp::Step, y);
  }, 0.0, Keep::Result);
}
Tensor sqrt(const Tensor& x) {
  return unary_op(UnaryOp::Sqrt, x, "SqrtBackward", [](const Tensor&, const Tensor& y, double) {
    return native::unary(UnaryOp::Reciprocal, y * 2.0);
  }, 0.0, Keep::Result);
}
Tensor abs(const Tensor& x) {
  if (!is_floating(x.dtype())) return integer_abs(x);  // abs(INT32_MIN) wraps to itself, as PyTorch
  return unary_op(UnaryOp::Abs, x, "AbsBackward", [](const Tensor& x, const Tensor&, double) {
    return native::unary(UnaryOp::Sign, x);
  });
}
Tensor square(const Tensor& x) {
  return unary_op(UnaryOp::Square, x, "PowBackward",
                  [](const Tensor& x, const Tensor&, double) { return x * 2.0; });
}
Tensor pow(const Tensor& x, double exponent) {
  return unary_op(UnaryOp::PowScalar, x, "PowBackward", [](const Tensor& x, const Tensor&, double e) {
    if (e == 0) return native::zeros_like(x);
    return native::unary(UnaryOp::PowScalar, x, e - 1) * e;
  }, exponent);
}
Tensor erf(const Tensor& x) {
  return unary_op(UnaryOp::Erf, x, "ErfBackward", [](const Tensor& x, const Tensor&, double) {
    Tensor gauss = native::unary(UnaryOp::Exp, native::unary(UnaryOp::Neg, native::unary(UnaryOp::Square, x)));
    return native::unary(UnaryOp::MulScalar, gauss, 1.1283791670955126);  // 2 / sqrt(pi)
  });
}
Tensor clamp(const Tensor& x_in, Scalar min_s, Scalar max_s) {
  LOOM_CHECK(x_in.defined(), "clamp: undefined tensor");
  const double min = min_s.to_double(), max = max_s.to_double();
  LOOM_CHECK(min <= max, "clamp: min ({}) must not exceed max ({})", min, max);
  // The result dtype as PyTorch's: an integer tensor with integer bounds stays
  // integer (the bounds converted to its dtype: uint8 clamp(-4, 100) uses 252
  // as min), a floating bound gives the default float dtype.
  DType t = promote_types(result_type(x_in, min_s), result_type(x_in, max_s));
  LOOM_CHECK(x_in.dtype() != kBool || t != kBool, "\"clamp_cpu\" not implemented for 'Bool'");
  if (!is_floating(t)) {
    Tensor x = native::to(x_in, t);
    Tensor lo = scalar_tensor(min_s, t, x.device()), hi = scalar_tensor(max_s, t, x.device());
    return native::binary(BinaryOp::Minimum, native::binary(BinaryOp::Maximum, x, lo), hi);
  }
  const Tensor x = to(x_in, t);
  Tensor y = native::unary(UnaryOp::ClampMax, native::unary(UnaryOp::ClampMin, x, min), max);
  if (auto node = make_node<ClampBackward>({x})) {
    node->x = saved(x);  // the input only, as PyTorch
    node->min = min;
    node->max = max;
    set_history(y, node);
  }
  return y;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, Scalar b) { return add(a, b); }
Tensor operator-(const Tensor& a, Scalar b) { return sub(a, b); }
Tensor operator*(const Tensor& a, Scalar b) { return mul(a, b); }
Tensor operator/(const Tensor& a, Scalar b) { return div(a, b); }
Tensor operator+(Scalar a, const Tensor& b) { return add(b, a); }
Tensor operator-(Scalar a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(Scalar a, const Tensor& b) { return mul(b, a); }
Tensor operator-(const Tensor& x) { return neg(x); }

namespace {
// Compares in the promoted dtype (torch.result_type), as PyTorch.
Tensor compare_op(native::CompareOp op, const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && b.defined(), "comparison: expected defined tensors");
  DType t = result_type(a, b);
  return native::compare(op, native::to(a, t), native::to(b, t));
}
Tensor compare_op(native::CompareOp op, const Tensor& a, const Scalar& b) {
  LOOM_CHECK(a.defined(), "comparison: expected a defined tensor");
  DType t = result_type(a, b);
  return native::compare(op, native::to(a, t), scalar_tensor(b, t, a.device()));
}
using native::CompareOp;
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare_op(CompareOp::Ge, a, b); }
Tensor eq(const Tensor& a, Scalar b) { return compare_op(CompareOp::Eq, a, b); }
Tensor ne(const Tensor& a, Scalar b) { return compare_op(CompareOp::Ne, a, b); }
Tensor lt(const Tensor& a, Scalar b) { return compare_op(CompareOp::Lt, a, b); }
Tensor le(const Tensor& a, Scalar b) { return compare_op(CompareOp::Le, a, b); }
Tensor gt(const Tensor& a, Scalar b) { return compare_op(CompareOp::Gt, a, b); }
Tensor ge(const Tensor& a, Scalar b) { return compare_op(CompareOp::Ge, a, b); }

Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, Scalar b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, Scalar b) { return ne(a, b); }
Tensor operator<(const Tensor& a, Scalar b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, Scalar b) { return le(a, b); }
Tensor operator>(const Tensor& a, Scalar b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, Scalar b) { return ge(a, b); }
// Scalar first: a < t is t > a, and so on.
Tensor operator==(Scalar a, const Tensor& b) { return eq(b, a); }
Tensor operator!=(Scalar a, const Tensor& b) { return ne(b, a); }
Tensor operator<(Scalar a, const Tensor& b) { return gt(b, a); }
Tensor operator<=(Scalar a, const Tensor& b) { return ge(b, a); }
Tensor operator>(Scalar a, const Tensor& b) { return lt(b, a); }
Tensor operator>=(Scalar a, const Tensor& b) { return le(b, a); }

namespace {
struct WhereBackward final : Node {
  Tensor cond;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor zero = native::zeros_like(g[0]);
    Tensor ga = next_edges[0].node ? sum_to(native::where(cond, g[0], zero), input_meta[0].shape)
                                   : Tensor();
    Tensor gb = next_edges[1].node ? sum_to(native::where(cond, zero, g[0]), input_meta[1].shape)
                                   : Tensor();
    return {ga, gb};
  }
  void release_saved() override { cond = Tensor(); }
  const char* name() const override { return "WhereBackward"; }
};
}  // namespace

Tensor where(const Tensor& cond, const Tensor& a_in, const Tensor& b_in) {
  LOOM_CHECK(a_in.defined() && b_in.defined(), "where: expected defined tensors");
  // PyTorch promotes the two values (torch.where(c, uint8, int32) is int32).
  const DType t = result_type(a_in, b_in);
  const Tensor a = to(a_in, t), b = to(b_in, t);
  Tensor out = native::where(cond, a, b);
  if (auto node = make_node<WhereBackward>({a, b})) {
    node->cond = saved(cond);
    set_history(out, node);
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  Shape shape = native::broadcast_shapes(x.shape(), mask.shape());
  LOOM_CHECK(shape == x.shape(), "masked_fill: mask of shape {} cannot be broadcast to {}",
             shape_str(mask.shape()), shape_str(x.shape()));
  return where(mask, scalar_like(x, value), x);
}

}  // namespace loom
