// Differentiable elementwise operations. Backward formulas are written with
// the same differentiable operations (grad mode is off while they run).
#include <cmath>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"

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
};

struct SubBackward final : Node {
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    return {sum_to(g[0], input_meta[0].shape), sum_to(neg(g[0]), input_meta[1].shape)};
  }
  const char* name() const override { return "SubBackward"; }
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

Tensor record_unary(Tensor y, const Tensor& x, const char* name, double alpha,
                    Tensor (*derivative)(const Tensor&, const Tensor&, double)) {
  if (auto node = make_node<UnaryBackward>({x})) {
    node->node_name = name;
    node->x = saved(x);
    node->y = saved(y);
    node->alpha = alpha;
    node->derivative = derivative;
    set_history(y, node);
  }
  return y;
}

Tensor unary_op(UnaryOp op, const Tensor& x, const char* name,
                Tensor (*derivative)(const Tensor&, const Tensor&, double), double alpha = 0) {
  return record_unary(native::unary(op, x, alpha), x, name, alpha, derivative);
}

Tensor scalar_like(const Tensor& x, double v) {
  return native::full({}, v, TensorOptions(x.dtype()).device(x.device()));
}

Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b) {
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

Tensor ones_of(const Tensor& x) { return native::ones_like(x); }

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

Tensor add(const Tensor& a, double b) {
  return unary_op(UnaryOp::AddScalar, a, "AddBackward", [](const Tensor& x, const Tensor&, double) {
    return ones_of(x);
  }, b);
}
Tensor sub(const Tensor& a, double b) { return add(a, -b); }
Tensor mul(const Tensor& a, double b) {
  return unary_op(UnaryOp::MulScalar, a, "MulBackward", [](const Tensor& x, const Tensor&, double s) {
    return native::full(x.shape(), s, TensorOptions(x.dtype()).device(x.device()));
  }, b);
}
Tensor div(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor rsub(const Tensor& a, double b) {
  return unary_op(UnaryOp::RSubScalar, a, "RsubBackward", [](const Tensor& x, const Tensor&, double) {
    return native::full(x.shape(), -1.0, TensorOptions(x.dtype()).device(x.device()));
  }, b);
}

Tensor neg(const Tensor& x) {
  return unary_op(UnaryOp::Neg, x, "NegBackward", [](const Tensor& x, const Tensor&, double) {
    return native::full(x.shape(), -1.0, TensorOptions(x.dtype()).device(x.device()));
  });
}
Tensor exp(const Tensor& x) {
  return unary_op(UnaryOp::Exp, x, "ExpBackward",
                  [](const Tensor&, const Tensor& y, double) { return y; });
}
Tensor log(const Tensor& x) {
  return unary_op(UnaryOp::Log, x, "LogBackward", [](const Tensor& x, const Tensor&, double) {
    return native::unary(UnaryOp::Reciprocal, x);
  });
}
Tensor tanh(const Tensor& x) {
  return unary_op(UnaryOp::Tanh, x, "TanhBackward", [](const Tensor&, const Tensor& y, double) {
    return rsub(y * y, 1.0);
  });
}
Tensor sigmoid(const Tensor& x) {
  return unary_op(UnaryOp::Sigmoid, x, "SigmoidBackward", [](const Tensor&, const Tensor& y, double) {
    return y * rsub(y, 1.0);
  });
}
Tensor relu(const Tensor& x) {
  return unary_op(UnaryOp::Relu, x, "ReluBackward", [](const Tensor&, const Tensor& y, double) {
    return native::unary(UnaryOp::Step, y);
  });
}
Tensor sqrt(const Tensor& x) {
  return unary_op(UnaryOp::Sqrt, x, "SqrtBackward", [](const Tensor&, const Tensor& y, double) {
    return native::unary(UnaryOp::Reciprocal, y * 2.0);
  });
}
Tensor abs(const Tensor& x) {
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
Tensor clamp(const Tensor& x, double min, double max) {
  LOOM_CHECK(min <= max, "clamp: min ({}) must not exceed max ({})", min, max);
  Tensor y = native::unary(UnaryOp::ClampMax, native::unary(UnaryOp::ClampMin, x, min), max);
  if (auto node = make_node<UnaryBackward>({x})) {
    // Gradient passes where min <= x <= max, as PyTorch.
    node->node_name = "ClampBackward";
    node->x = saved(x);
    node->y = saved(y);
    node->derivative = [](const Tensor& x, const Tensor& y, double) {
      return native::where(native::compare(native::CompareOp::Eq, x, y), native::ones_like(x),
                           native::zeros_like(x));
    };
    set_history(y, node);
  }
  return y;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator-(const Tensor& x) { return neg(x); }

Tensor eq(const Tensor& a, const Tensor& b) { return native::compare(native::CompareOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return native::compare(native::CompareOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return native::compare(native::CompareOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return native::compare(native::CompareOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return native::compare(native::CompareOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return native::compare(native::CompareOp::Ge, a, b); }

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

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
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
