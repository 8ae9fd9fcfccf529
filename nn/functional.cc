// The losses of nn/functional.h. The class losses with weights or label
// smoothing and the regression losses are composed of loom's differentiable
// ops (so they run on every device and dtype the ops do, and their gradients
// are the ops' own); binary_cross_entropy has its own node, because PyTorch's
// gradient (x - t) / max(x (1 - x), 1e-12) stays finite at x = 0 and 1 where
// the chain rule through the clamped logs would give 0 * inf.
#include "nn/functional.h"

#include <vector>

#include "autograd/autocast.h"
#include "autograd/node.h"
#include "core/native.h"

namespace loom::nn::functional {

namespace {

using autocast_cast::to_float;

Tensor reduce(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  fail("unknown reduction");
}

// Refuses a weight that requires grad: no loss here differentiates it.
void check_weight_not_differentiable(const Tensor& weight, const char* function, const char* what) {
  LOOM_CHECK(!weight.defined() || !weight.requires_grad(),
             "The function '{}' is not differentiable with respect to argument '{}'. This input cannot "
             "have requires_grad True.",
             function, what);
}

void check_same_dtype(const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.dtype() == b.dtype(), "expected scalar type {} but found {}", scalar_type_name(a.dtype()),
             scalar_type_name(b.dtype()));
}

// The class-weight matrix of nll_loss and cross_entropy: [N, C] with
// weight[y_i] (1 without weight) in column y_i of row i, and zero rows for
// ignored targets. input2 [N, C], target1 Int64 [N]. Checks the targets
// (one read of them on the host) unless `targets_checked`.
Tensor class_weights(const Tensor& input2, const Tensor& target1, const Tensor& weight,
                     std::int64_t ignore_index, bool targets_checked = false) {
  const std::int64_t C = input2.size(1);
  if (!targets_checked)
    for (std::int64_t t : target1.to(kCPU).to_vector<std::int64_t>())
      if (t != ignore_index) LOOM_CHECK(t >= 0 && t < C, "Target {} is out of bounds.", t);
  Tensor classes = native::arange(0, static_cast<double>(C), 1, TensorOptions(kInt64).device(input2.device()));
  Tensor onehot = to(eq(unsqueeze(target1, 1), unsqueeze(classes, 0)), input2.dtype());  // [N, C]
  Tensor kept = to(ne(target1, full({}, static_cast<double>(ignore_index), TensorOptions(kInt64).device(
                                                                               input2.device()))),
                   input2.dtype());  // [N]
  Tensor w = mul(onehot, unsqueeze(kept, 1));
  if (weight.defined()) w = mul(w, detach(weight));
  return w;
}

// nll_loss with a class weight, composed: -sum_c W[i, c] input[i, c].
Tensor weighted_nll(const Tensor& input, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                    Reduction reduction) {
  LOOM_CHECK(input.dim() == 1 || input.dim() == 2, "input tensor should be 1D or 2D");
  LOOM_CHECK(target.dtype() == kInt64, "expected scalar type Long but found {}", scalar_type_name(target.dtype()));
  const bool unbatched = input.dim() == 1;
  LOOM_CHECK(target.dim() == (unbatched ? 0 : 1), "0D or 1D target tensor expected, multi-target not supported");
  Tensor x = unbatched ? unsqueeze(input, 0) : input;
  Tensor t = unbatched ? unsqueeze(target, 0) : target;
  LOOM_CHECK(x.size(0) == t.size(0), "Expected input batch_size ({}) to match target batch_size ({}).", x.size(0),
             t.size(0));
  const std::int64_t C = x.size(1);
  LOOM_CHECK(weight.dim() == 1 && weight.size(0) == C,
             "weight tensor should be defined either for all {} classes or no classes but got weight tensor of "
             "shape: {}",
             C, shape_str(weight.shape()));
  check_same_dtype(x, weight);
  LOOM_CHECK(weight.device() == x.device(), "nll_loss: weight is on {} but input on {}", weight.device().str(),
             x.device().str());
  Tensor w = class_weights(x, t, weight, ignore_index);
  Tensor per = neg(sum(mul(w, x), {1}));  // [N]
  if (reduction == Reduction::None) return unbatched ? squeeze(per, 0) : per;
  if (reduction == Reduction::Sum) return sum(per);
  return div(sum(per), sum(w));
}

}  // namespace

Tensor nll_loss(const Tensor& input_in, const Tensor& target, const NLLLossFuncOptions& o) {
  const Tensor input = to_float(input_in);
  if (!o.weight().defined()) return loom::nll_loss(input, target, o.ignore_index(), o.reduction());
  return weighted_nll(input, target, to_float(o.weight()), o.ignore_index(), o.reduction());
}

Tensor cross_entropy(const Tensor& input_in, const Tensor& target, const CrossEntropyFuncOptions& o) {
  const Tensor input = to_float(input_in);
  const double eps = o.label_smoothing();
  LOOM_CHECK(eps >= 0.0 && eps <= 1.0, "label_smoothing must be between 0.0 and 1.0. Got: {}", eps);
  LOOM_CHECK(input.dim() == 1 || input.dim() == 2, "cross_entropy: input tensor should be 1D or 2D (got shape {})",
             shape_str(input.shape()));
  const Tensor weight = to_float(o.weight());
  if (eps == 0.0 && !weight.defined())
    return loom::cross_entropy(input, target, o.ignore_index(), o.reduction());
  const std::int64_t class_dim = input.dim() == 1 ? 0 : 1;
  Tensor logp = log_softmax(input, class_dim);
  Tensor nll = weight.defined() ? weighted_nll(logp, target, weight, o.ignore_index(), o.reduction())
                                : loom::nll_loss(logp, target, o.ignore_index(), o.reduction());
  if (eps == 0.0) return nll;
  // PyTorch's label smoothing: the loss against the uniform distribution,
  // -sum_c weight_c logp[i, c], zero for ignored targets; its mean divides
  // by the same denominator as nll's (the weights of the kept targets, or
  // their count).
  const bool unbatched = input.dim() == 1;
  Tensor x = unbatched ? unsqueeze(logp, 0) : logp;
  Tensor t = unbatched ? unsqueeze(target, 0) : target;
  // The nll above has checked the targets: no second read of them.
  Tensor w_rows = class_weights(x, t, weight, o.ignore_index(), /*targets_checked=*/true);
  Tensor kept = sum(w_rows, {1});                               // weight[y_i], 0 when ignored
  Tensor terms = weight.defined() ? mul(x, detach(weight)) : x;
  Tensor smooth = neg(sum(terms, {1}));                           // [N]
  // Zero the ignored rows (kept is 0 there; > 0 otherwise, also weighted).
  Tensor ignored = eq(kept, zeros({}, TensorOptions(kept.dtype()).device(kept.device())));
  smooth = where(ignored, zeros_like(smooth), smooth);
  Tensor reduced;
  switch (o.reduction()) {
    case Reduction::None: reduced = unbatched ? squeeze(smooth, 0) : smooth; break;
    case Reduction::Sum: reduced = sum(smooth); break;
    case Reduction::Mean: {
      Tensor denominator = weight.defined() ? sum(kept) : sum(to(ne(kept, zeros_like(kept)), kept.dtype()));
      reduced = div(sum(smooth), denominator);
      break;
    }
  }
  const double C = static_cast<double>(x.size(1));
  return add(mul(nll, 1.0 - eps), mul(reduced, eps / C));
}

namespace {

// Elementwise binary cross-entropy with PyTorch's gradients for input and target.
struct BinaryCrossEntropyBackward final : Node {
  Tensor x, t, w;  // w may be undefined
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    using native::BinaryOp;
    using native::UnaryOp;
    Tensor gw = w.defined() ? native::binary(BinaryOp::Mul, g[0], w) : g[0];
    Tensor gx, gt;
    if (next_edges[0].node) {
      // (x - t) / max(x (1 - x), EPSILON), PyTorch's EPSILON being the float 1e-12
      Tensor denom = native::unary(UnaryOp::ClampMin,
                                   native::binary(BinaryOp::Mul, x, native::unary(UnaryOp::RSubScalar, x, 1.0)),
                                   static_cast<double>(1e-12f));
      gx = native::binary(BinaryOp::Mul, gw,
                          native::binary(BinaryOp::Div, native::binary(BinaryOp::Sub, x, t), denom));
      gx = sum_to(gx, input_meta[0].shape);
    }
    if (next_edges.size() > 1 && next_edges[1].node) {
      // -logit(x) = log(1 - x) - log(x), unclamped as PyTorch's (infinite at 0 and 1)
      Tensor l1x = native::unary(UnaryOp::Log, native::unary(UnaryOp::RSubScalar, x, 1.0));
      Tensor lx = native::unary(UnaryOp::Log, x);
      gt = sum_to(native::binary(BinaryOp::Mul, gw, native::binary(BinaryOp::Sub, l1x, lx)), input_meta[1].shape);
    }
    return {gx, gt};
  }
  void release_saved() override { x = t = w = Tensor(); }
  const char* name() const override { return "BinaryCrossEntropyBackward"; }
};

}  // namespace

Tensor binary_cross_entropy(const Tensor& input_in, const Tensor& target_in, const BinaryCrossEntropyFuncOptions& o) {
  const Tensor input = to_float(input_in), target = to_float(target_in), weight = to_float(o.weight());
  LOOM_CHECK(input.shape() == target.shape(),
             "Using a target size ({}) that is different to the input size ({}) is deprecated. Please ensure "
             "they have the same size.",
             shape_str(target.shape()), shape_str(input.shape()));
  LOOM_CHECK(is_floating(input.dtype()), "binary_cross_entropy: expected a floating input, got {}", input.dtype());
  check_same_dtype(input, target);
  check_weight_not_differentiable(weight, "binary_cross_entropy", "weight");
  if (weight.defined()) check_same_dtype(input, weight);
  {
    // PyTorch's range check (a device read, as its kernel's check).
    Tensor outside = native::compare(native::CompareOp::Gt,
                                     native::unary(native::UnaryOp::Abs, native::unary(native::UnaryOp::AddScalar,
                                                                                       input, -0.5)),
                                     native::full({}, 0.5, TensorOptions(input.dtype()).device(input.device())));
    Tensor nan = native::compare(native::CompareOp::Ne, input, input);
    const double bad = native::sum(native::to(outside, kFloat64), {}).item() +
                       native::sum(native::to(nan, kFloat64), {}).item();
    LOOM_CHECK(bad == 0, "all elements of input should be between 0 and 1");
  }
  using native::BinaryOp;
  using native::UnaryOp;
  Tensor lx = native::unary(UnaryOp::ClampMin, native::unary(UnaryOp::Log, input), -100);
  Tensor l1x = native::unary(UnaryOp::ClampMin,
                             native::unary(UnaryOp::Log, native::unary(UnaryOp::RSubScalar, input, 1.0)), -100);
  // -(t lx + (1 - t) l1x) = -(l1x + t (lx - l1x))
  Tensor loss = native::unary(UnaryOp::Neg,
                              native::binary(BinaryOp::Add, l1x,
                                             native::binary(BinaryOp::Mul, target,
                                                            native::binary(BinaryOp::Sub, lx, l1x))));
  if (weight.defined()) loss = native::binary(BinaryOp::Mul, loss, weight);
  if (auto node = make_node<BinaryCrossEntropyBackward>({input, target})) {
    node->x = saved(input);
    node->t = saved(target);
    if (weight.defined()) node->w = detach(weight);
    set_history(loss, node);
  }
  return reduce(loss, o.reduction());
}

Tensor binary_cross_entropy_with_logits(const Tensor& input_in, const Tensor& target_in,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& o) {
  const Tensor x = to_float(input_in), t = to_float(target_in);
  const Tensor weight = to_float(o.weight()), pos_weight = to_float(o.pos_weight());
  LOOM_CHECK(x.shape() == t.shape(), "Target size ({}) must be the same as input size ({})", shape_str(t.shape()),
             shape_str(x.shape()));
  LOOM_CHECK(is_floating(x.dtype()), "binary_cross_entropy_with_logits: expected a floating input, got {}",
             x.dtype());
  check_same_dtype(x, t);
  check_weight_not_differentiable(weight, "binary_cross_entropy_with_logits", "weight");
  check_weight_not_differentiable(pos_weight, "binary_cross_entropy_with_logits", "pos_weight");
  // Stable form: max(-x, 0) + log(e^-max(-x, 0) + e^(-x - max(-x, 0))) = log(1 + e^-x).
  Tensor m = relu(neg(x));
  Tensor softplus_neg = add(m, log(add(exp(neg(m)), exp(sub(neg(x), m)))));  // log(1 + e^-x)
  Tensor coef = pos_weight.defined() ? add(mul(sub(detach(pos_weight), 1.0), t), 1.0) : Tensor();
  Tensor loss = add(mul(rsub(t, 1.0), x), coef.defined() ? mul(coef, softplus_neg) : softplus_neg);
  if (weight.defined()) loss = mul(loss, detach(weight));
  return reduce(loss, o.reduction());
}

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& o) {
  return loom::mse_loss(input, target, o.reduction());
}

Tensor l1_loss(const Tensor& input_in, const Tensor& target_in, const L1LossFuncOptions& o) {
  const Tensor input = to_float(input_in), target = to_float(target_in);
  check_same_dtype(input, target);
  return reduce(abs(sub(input, target)), o.reduction());
}

Tensor smooth_l1_loss(const Tensor& input_in, const Tensor& target_in, const SmoothL1LossFuncOptions& o) {
  const Tensor input = to_float(input_in), target = to_float(target_in);
  const double beta = o.beta();
  LOOM_CHECK(beta >= 0, "smooth_l1_loss does not support negative values for beta.");
  check_same_dtype(input, target);
  if (beta == 0.0) return l1_loss(input, target, L1LossFuncOptions().reduction(o.reduction()));
  Tensor z = abs(sub(input, target));
  Tensor below = lt(z, full({}, beta, TensorOptions(z.dtype()).device(z.device())));
  Tensor loss = where(below, mul(square(z), 0.5 / beta), sub(z, 0.5 * beta));
  return reduce(loss, o.reduction());
}

}  // namespace loom::nn::functional
