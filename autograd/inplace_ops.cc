// Tensor's in-place methods (add_, mul_, copy_, fill_, uniform_, ... declared
// in core/tensor.h) and their place in autograd.
//
// Every in-place op computes its result as the out-of-place op would (into a
// new buffer), checks it fits (shape, castable dtype), copies it into the
// tensor's storage and bumps the storage's version counter. When grad mode is
// on and an operand requires grad, the op is recorded: it is computed from a
// snapshot of the old values that carries the tensor's history (so a node that
// saves its input keeps the old values, never the overwritten ones), and the
// tensor then takes the result's history: its grad_fn becomes the op's node
// (on a differentiable view, the view's base takes it instead, through a
// CopySlices node: autograd/view_history.h).
// Nodes that saved the tensor before the change see its version move, and
// backward refuses them with PyTorch's error (autograd/node.h).
#include <string_view>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "autograd/view_history.h"
#include "core/native.h"
#include "core/type_promotion.h"

namespace loom {

namespace {

// Gradient of an op that overwrites every value (fill_, zero_, copy_, the
// random fills): nothing flows to the old values (zeros, as PyTorch's
// FillBackward), and copy_'s source gets the gradient back in its own shape,
// dtype and device.
struct OverwriteBackward final : Node {
  const char* node_name = "";
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    std::vector<Tensor> out;
    const TensorMeta& self = input_meta[0];
    out.push_back(next_edges[0].node
                      ? native::zeros(self.shape, TensorOptions(self.dtype).device(self.device))
                      : Tensor());
    if (next_edges.size() > 1) {
      const TensorMeta& src = input_meta[1];
      out.push_back(next_edges[1].node
                        ? sum_to(native::to(native::to(g[0], src.device), src.dtype), src.shape)
                        : Tensor());
    }
    return out;
  }
  const char* name() const override { return node_name; }
};

bool any_requires(const Tensor& self, std::initializer_list<Tensor> others) {
  std::vector<Tensor> all{self};
  all.insert(all.end(), others.begin(), others.end());
  return any_requires_grad(all);
}

// PyTorch's assert_no_internal_overlap: an op that writes every element
// cannot write a tensor whose elements share memory (a stride 0 over a size
// above 1: expand). fill_ and zero_ may (every write is the same value).
void check_no_internal_overlap(const Tensor& self) {
  for (std::int64_t d = 0; d < self.dim(); ++d)
    LOOM_CHECK(!(self.strides()[d] == 0 && self.shape()[d] > 1),
               "unsupported operation: more than one element of the written-to tensor refers to a "
               "single memory location. Please clone() the tensor before performing the operation.");
}

// Refuses what PyTorch refuses when the op must be recorded: a leaf that
// requires grad, and views that cannot take the change into their base's
// history (autograd/view_history.h).
void check_inplace_allowed(const Tensor& self, bool record) {
  LOOM_CHECK(self.defined(), "in-place operation on an undefined tensor");
  if (!record) return;  // record implies grad mode on
  check_view_inplace_allowed(self);
  LOOM_CHECK(!(self.requires_grad() && self.is_leaf()),
             "a leaf Variable that requires grad is being used in an in-place operation.");
}

// The old values of self as an operand: with recording, a copy that carries
// self's history; else self itself.
Tensor snapshot(const Tensor& self, bool record) {
  if (!record) return self;
  Tensor copy = native::clone(self);
  TensorImpl& impl = copy.impl();
  impl.grad_fn = self.grad_fn();  // a view's, brought up to date with its base
  impl.requires_grad = self.requires_grad() && impl.grad_fn != nullptr;
  impl.output_nr = self.impl().output_nr;
  impl.grad_accumulator = self.impl().grad_accumulator;
  return copy;
}

// Stores `result` into self, bumps the version and, when recording, gives self
// the result's history. `op` names the operation in errors.
const Tensor& commit(const Tensor& self, Tensor result, bool record, const char* op) {
  LOOM_CHECK(result.shape() == self.shape(),
             "{}: output with shape {} doesn't match the broadcast shape {}", op,
             shape_str(self.shape()), shape_str(result.shape()));
  LOOM_CHECK(can_cast(result.dtype(), self.dtype()),
             "{}: result type {} can't be cast to the desired output type {}", op,
             scalar_type_name(result.dtype()), scalar_type_name(self.dtype()));
  LOOM_CHECK(result.device() == self.device(),
             "{}: Expected all tensors to be on the same device, but found at least two devices, "
             "{} and {}!",
             op, self.device(), result.device());
  if (record) result = loom::to(result, self.dtype());  // recorded: the gradient comes back in result's dtype
  if (result.impl().storage == self.impl().storage) result = native::clone(result);  // no overlap
  native::copy_(self, result);
  TensorImpl& impl = self.impl();
  impl.storage->bump_version();
  if (record && is_differentiable_view(self)) {
    rebase_history_of_base(self, result);  // self's own history follows lazily
  } else if (record) {
    LOOM_CHECK(result.grad_fn() != nullptr, "{}: internal error: a recorded result has no history", op);
    impl.grad_fn = result.grad_fn();
    impl.output_nr = result.impl().output_nr;
    impl.requires_grad = true;
    impl.grad_accumulator.reset();
  }
  return self;
}

// The common path: result = compute(old values of self).
template <typename Fn>
const Tensor& inplace(const Tensor& self, const char* op, std::initializer_list<Tensor> others,
                      Fn&& compute) {
  LOOM_CHECK(self.defined(), "{}: in-place operation on an undefined tensor", op);
  for (const Tensor& t : others) LOOM_CHECK(t.defined(), "{}: expected a defined tensor", op);
  check_no_internal_overlap(self);
  const bool record = any_requires(self, others);
  check_inplace_allowed(self, record);
  Tensor result;
  if (record) {
    result = compute(snapshot(self, true));
  } else {
    NoGradGuard no_grad;
    result = compute(self);
  }
  return commit(self, result, record, op);
}

// An op that replaces every value with `values` (already of self's shape,
// dtype and device); `src` is copy_'s source (undefined otherwise).
const Tensor& overwrite(const Tensor& self, const char* node_name, const Tensor& values,
                        const Tensor& src) {
  if (std::string_view(node_name) != "FillBackward") check_no_internal_overlap(self);
  const bool record = any_requires(self, {src});
  check_inplace_allowed(self, record);
  Tensor result = values;
  // On a view, the base's CopySlices already drops the gradient of the
  // overwritten elements: the node needs no edge to the view's old values
  // (and none at all without a source that requires grad).
  const bool on_view = is_differentiable_view(self);
  if (record && (!on_view || src.requires_grad())) {
    std::vector<Tensor> inputs{on_view ? Tensor() : self};
    if (src.defined()) inputs.push_back(src);
    auto node = make_node<OverwriteBackward>(inputs);
    node->node_name = node_name;
    result = native::clone(values);  // an output of its own for the node
    set_history(result, node);
  }
  return commit(self, result, record, node_name);
}

void require_floating(const Tensor& self, const char* op) {
  LOOM_CHECK(self.defined(), "{}: in-place operation on an undefined tensor", op);
  LOOM_CHECK(is_floating(self.dtype()), "\"{}\" not implemented for '{}'", op,
             scalar_type_name(self.dtype()));
}

}  // namespace

const Tensor& Tensor::add_(const Tensor& other) const {
  return inplace(*this, "add_", {other}, [&](const Tensor& x) { return loom::add(x, other); });
}
const Tensor& Tensor::add_(Scalar other) const {
  return inplace(*this, "add_", {}, [&](const Tensor& x) { return loom::add(x, other); });
}
const Tensor& Tensor::sub_(const Tensor& other) const {
  return inplace(*this, "sub_", {other}, [&](const Tensor& x) { return loom::sub(x, other); });
}
const Tensor& Tensor::sub_(Scalar other) const {
  return inplace(*this, "sub_", {}, [&](const Tensor& x) { return loom::sub(x, other); });
}
const Tensor& Tensor::mul_(const Tensor& other) const {
  return inplace(*this, "mul_", {other}, [&](const Tensor& x) { return loom::mul(x, other); });
}
const Tensor& Tensor::mul_(Scalar other) const {
  return inplace(*this, "mul_", {}, [&](const Tensor& x) { return loom::mul(x, other); });
}
const Tensor& Tensor::div_(const Tensor& other) const {
  return inplace(*this, "div_", {other}, [&](const Tensor& x) { return loom::div(x, other); });
}
const Tensor& Tensor::div_(Scalar other) const {
  return inplace(*this, "div_", {}, [&](const Tensor& x) { return loom::div(x, other); });
}
const Tensor& Tensor::clamp_(Scalar min, Scalar max) const {
  return inplace(*this, "clamp_", {}, [&](const Tensor& x) { return loom::clamp(x, min, max); });
}
const Tensor& Tensor::pow_(double exponent) const {
  return inplace(*this, "pow_", {}, [&](const Tensor& x) { return loom::pow(x, exponent); });
}
const Tensor& Tensor::neg_() const {
  return inplace(*this, "neg_", {}, [](const Tensor& x) { return loom::neg(x); });
}
const Tensor& Tensor::exp_() const {
  return inplace(*this, "exp_", {}, [](const Tensor& x) { return loom::exp(x); });
}
const Tensor& Tensor::log_() const {
  return inplace(*this, "log_", {}, [](const Tensor& x) { return loom::log(x); });
}
const Tensor& Tensor::tanh_() const {
  return inplace(*this, "tanh_", {}, [](const Tensor& x) { return loom::tanh(x); });
}
const Tensor& Tensor::sigmoid_() const {
  return inplace(*this, "sigmoid_", {}, [](const Tensor& x) { return loom::sigmoid(x); });
}
const Tensor& Tensor::relu_() const {
  return inplace(*this, "relu_", {}, [](const Tensor& x) { return loom::relu(x); });
}
const Tensor& Tensor::sqrt_() const {
  return inplace(*this, "sqrt_", {}, [](const Tensor& x) { return loom::sqrt(x); });
}
const Tensor& Tensor::abs_() const {
  return inplace(*this, "abs_", {}, [](const Tensor& x) { return loom::abs(x); });
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  LOOM_CHECK(defined() && src.defined(), "copy_: expected defined tensors");
  Shape b = native::broadcast_shapes(shape(), src.shape());
  LOOM_CHECK(b == shape(), "copy_: source shape {} cannot be broadcast to destination shape {}",
             shape_str(src.shape()), shape_str(shape()));
  // The values, converted to this dtype and device (copy_ casts freely, as PyTorch).
  Tensor values = empty(shape(), TensorOptions(dtype()).device(device()));
  native::copy_(values, src);
  return overwrite(*this, "CopyBackwards", values, src);
}

const Tensor& Tensor::fill_(Scalar value) const {
  LOOM_CHECK(defined(), "fill_: in-place operation on an undefined tensor");
  Tensor values = empty(shape(), TensorOptions(dtype()).device(device()));
  if (!value.is_floating_point() && is_integral(dtype()))
    native::copy_(values, tensor_int64({value.to_int64()}, {}, device()));  // exact (wrapping)
  else
    native::fill_(values, value.to_double());
  return overwrite(*this, "FillBackward", values, Tensor());
}

const Tensor& Tensor::uniform_(double from, double to) const {
  require_floating(*this, "uniform_");
  LOOM_CHECK(from <= to, "uniform_ expects to return a [from, to) range, but found from={} > to={}",
             from, to);
  Tensor values;
  {
    NoGradGuard no_grad;
    values = loom::rand(shape(), TensorOptions(dtype()).device(device()));
    if (from != 0 || to != 1) values = values * (to - from) + from;
  }
  return overwrite(*this, "UniformBackward", values, Tensor());
}

const Tensor& Tensor::normal_(double mean, double std) const {
  require_floating(*this, "normal_");
  LOOM_CHECK(std >= 0, "normal expects std >= 0.0, but found std {}", std);
  Tensor values;
  {
    NoGradGuard no_grad;
    values = loom::randn(shape(), TensorOptions(dtype()).device(device()));
    if (mean != 0 || std != 1) values = values * std + mean;
  }
  return overwrite(*this, "NormalBackward", values, Tensor());
}

const Tensor& Tensor::bernoulli_(double p) const {
  LOOM_CHECK(defined(), "bernoulli_: in-place operation on an undefined tensor");
  LOOM_CHECK(p >= 0 && p <= 1, "bernoulli_ expects p to be in [0, 1], but got p={}", p);
  Tensor values;
  {
    NoGradGuard no_grad;
    // One float32 uniform draw per element (the same counters on CPU and CUDA).
    Tensor u = loom::rand(shape(), TensorOptions(kFloat32).device(device()));
    values = native::to(lt(u, p), dtype());
  }
  return overwrite(*this, "BernoulliBackward", values, Tensor());
}

}  // namespace loom
