#include "autograd/gradcheck.h"

#include <cmath>
#include <random>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"

namespace loom {

namespace {

// sum over outputs of sum(v_k * out_k), as a double on the host.
double weighted_sum(const std::vector<Tensor>& outs, const std::vector<std::vector<double>>& v) {
  double s = 0;
  for (std::size_t k = 0; k < outs.size(); ++k) {
    std::vector<double> o = outs[k].to_vector<double>();
    for (std::size_t i = 0; i < o.size(); ++i) s += o[i] * v[k][i];
  }
  return s;
}

}  // namespace

GradcheckResult gradcheck(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options) {
  GradcheckResult result;
  std::vector<Tensor> outs = f(inputs);
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<std::vector<double>> v;
  std::vector<Tensor> roots, grads;
  for (const Tensor& o : outs) {
    std::vector<double> w(static_cast<std::size_t>(o.numel()));
    for (double& x : w) x = dist(rng);
    v.push_back(w);
    if (!o.requires_grad()) continue;
    roots.push_back(o);
    grads.push_back(tensor(w, o.shape(), TensorOptions(o.dtype()).device(o.device())));
  }

  std::vector<Tensor> differentiable;
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) differentiable.push_back(x);
  if (differentiable.empty()) {
    result.ok = false;
    result.message = "gradcheck: no input requires grad";
    return result;
  }
  std::vector<Tensor> analytic =
      roots.empty() ? std::vector<Tensor>() : autograd::grad(roots, differentiable, grads, false);

  for (std::size_t k = 0; k < differentiable.size(); ++k) {
    const Tensor& x = differentiable[k];
    LOOM_CHECK(x.is_contiguous(), "gradcheck: input {} must be contiguous", k);
    std::vector<double> a = analytic.empty() ? std::vector<double>(x.numel(), 0.0)
                                             : analytic[k].to_vector<double>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      Tensor element = make_view(x, {}, {}, x.storage_offset() + i);
      double original = element.item();
      double plus, minus;
      {
        NoGradGuard no_grad;
        native::fill_(element, original + options.eps);
        plus = weighted_sum(f(inputs), v);
        native::fill_(element, original - options.eps);
        minus = weighted_sum(f(inputs), v);
        native::fill_(element, original);
      }
      double numeric = (plus - minus) / (2 * options.eps);
      double err = std::abs(a[i] - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (!(err <= options.atol + options.rtol * std::abs(numeric)) && result.ok) {
        result.ok = false;
        result.message = fmt::format(
            "gradcheck: input {} element {}: analytic {} vs numeric {} (|diff| {}, atol {}, rtol {})",
            k, i, a[i], numeric, err, options.atol, options.rtol);
      }
    }
  }
  return result;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options) {
  return gradcheck(
      [&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{f(xs)}; }, inputs, options);
}

GradcheckResult gradgradcheck(
    const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f,
    const std::vector<Tensor>& inputs, GradcheckOptions options) {
  std::vector<std::size_t> differentiable;  // positions in `inputs`
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) differentiable.push_back(i);
  if (differentiable.empty()) {
    GradcheckResult r;
    r.ok = false;
    r.message = "gradgradcheck: no input requires grad";
    return r;
  }
  // The upstream gradients, one per output that requires grad, drawn from a
  // seed of their own (gradcheck then draws its v from options.seed).
  std::vector<Tensor> outs;
  {
    AutoGradMode grad_on(true);
    outs = f(inputs);
  }
  std::mt19937_64 rng(options.seed ^ 0x9e3779b97f4a7c15ULL);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<std::size_t> requiring;  // which outputs
  std::vector<Tensor> all = inputs;
  for (std::size_t k = 0; k < outs.size(); ++k) {
    if (!outs[k].requires_grad()) continue;
    std::vector<double> w(static_cast<std::size_t>(outs[k].numel()));
    for (double& x : w) x = dist(rng);
    requiring.push_back(k);
    all.push_back(tensor(w, outs[k].shape(),
                         TensorOptions(outs[k].dtype()).device(outs[k].device()).requires_grad()));
  }
  const std::size_t n = inputs.size();
  auto first_order = [&](const std::vector<Tensor>& xs) -> std::vector<Tensor> {
    // gradcheck evaluates under no_grad; the first-order gradients need a graph.
    AutoGradMode grad_on(true);
    std::vector<Tensor> in(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(n));
    std::vector<Tensor> o = f(in);
    std::vector<Tensor> roots, v, wrt;
    for (std::size_t j = 0; j < requiring.size(); ++j) {
      roots.push_back(o[requiring[j]]);
      v.push_back(xs[n + j]);
    }
    for (std::size_t i : differentiable) wrt.push_back(in[i]);
    if (roots.empty()) {
      std::vector<Tensor> zeros;
      for (const Tensor& x : wrt) zeros.push_back(native::zeros_like(x));
      return zeros;
    }
    return autograd::grad(roots, wrt, v, /*retain_graph=*/std::nullopt, /*create_graph=*/true);
  };
  return gradcheck(first_order, all, options);
}

GradcheckResult gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                              const std::vector<Tensor>& inputs, GradcheckOptions options) {
  return gradgradcheck(
      [&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{f(xs)}; }, inputs, options);
}

}  // namespace loom
