#include "nn/research_cells.h"

#include <cmath>

#include "autograd/functions.h"
#include "nn/init.h"
#include "nn/layer_norm.h"

namespace loom::nn {

// ---- shared ----------------------------------------------------------------------------------

LayerNormCellBase::LayerNormCellBase(const LayerNormCellOptions& options, std::int64_t gates, bool norm_cell)
    : options_(options), gates_(gates) {
  const std::int64_t C = options.input_size_, H = options.hidden_size_;
  LOOM_CHECK(C > 0, "input_size must be greater than zero, got {}", C);
  LOOM_CHECK(H > 0, "hidden_size must be greater than zero, got {}", H);
  LOOM_CHECK(options.layer_norm_eps_ > 0, "layer_norm_eps must be greater than zero, got {}",
             options.layer_norm_eps_);
  const std::int64_t G = gates * H;
  weight_ih = register_parameter("weight_ih", empty({G, C}));
  weight_hh = register_parameter("weight_hh", empty({G, H}));
  bias_ih = register_parameter("bias_ih", options.bias_ ? empty({G}) : Tensor());
  bias_hh = register_parameter("bias_hh", options.bias_ ? empty({G}) : Tensor());
  layer_norm_ih_weight = register_parameter("layer_norm_ih_weight", empty({G}));
  layer_norm_ih_bias = register_parameter("layer_norm_ih_bias", empty({G}));
  layer_norm_hh_weight = register_parameter("layer_norm_hh_weight", empty({G}));
  layer_norm_hh_bias = register_parameter("layer_norm_hh_bias", empty({G}));
  layer_norm_c_weight = register_parameter("layer_norm_c_weight", norm_cell ? empty({H}) : Tensor());
  layer_norm_c_bias = register_parameter("layer_norm_c_bias", norm_cell ? empty({H}) : Tensor());
  reset_parameters();
}

void LayerNormCellBase::reset_parameters() {
  const double bound = 1.0 / std::sqrt(static_cast<double>(options_.hidden_size_));
  for (const Tensor& p : {weight_ih, weight_hh, bias_ih, bias_hh})
    if (p.defined()) init::uniform_(p, -bound, bound);
  for (const Tensor& w : {layer_norm_ih_weight, layer_norm_hh_weight, layer_norm_c_weight})
    if (w.defined()) init::ones_(w);
  for (const Tensor& b : {layer_norm_ih_bias, layer_norm_hh_bias, layer_norm_c_bias})
    if (b.defined()) init::zeros_(b);
}

std::string LayerNormCellBase::extra_repr() const {
  std::string s = fmt::format("{}, {}", options_.input_size_, options_.hidden_size_);
  if (!options_.bias_) s += ", bias=False";
  if (options_.layer_norm_eps_ != 1e-5) s += fmt::format(", layer_norm_eps={}", options_.layer_norm_eps_);
  return s;
}

Tensor LayerNormCellBase::batched_input(const Tensor& input) const {
  LOOM_CHECK(input.defined(), "{}: expected an input tensor, got an undefined one", type());
  LOOM_CHECK(input.dim() == 1 || input.dim() == 2,
             "{}: Expected input to be 1-D or 2-D but received {}-D tensor", type(), input.dim());
  Tensor x = input.dim() == 1 ? unsqueeze(input, 0) : input;
  LOOM_CHECK(x.size(1) == options_.input_size_, "{}: input has inconsistent input_size: got {} expected {}",
             type(), x.size(1), options_.input_size_);
  return x;
}

Tensor LayerNormCellBase::batched_state(const Tensor& state, const Tensor& input, const Tensor& x,
                                        const char* what) const {
  if (!state.defined())
    return zeros({x.size(0), options_.hidden_size_}, TensorOptions(x.dtype()).device(x.device()));
  LOOM_CHECK(state.dim() == input.dim(), "{}: expected {} to be {}-D for a {}-D input, got {}-D", type(), what,
             input.dim(), input.dim(), state.dim());
  Tensor s = state.dim() == 1 ? unsqueeze(state, 0) : state;
  LOOM_CHECK(s.size(0) == x.size(0) && s.size(1) == options_.hidden_size_,
             "{}: {} has shape {}, expected ({}, {})", type(), what, shape_str(state.shape()), x.size(0),
             options_.hidden_size_);
  return s;
}

Tensor LayerNormCellBase::recurrent_weight(const Tensor& override_weight) const {
  if (!override_weight.defined()) return weight_hh;
  LOOM_CHECK(override_weight.shape() == weight_hh.shape(), "{}: weight_hh has shape {}, expected {}", type(),
             shape_str(override_weight.shape()), shape_str(weight_hh.shape()));
  return override_weight;
}

Tensor LayerNormCellBase::normed_projection(const Tensor& x, const Tensor& w, const Tensor& b,
                                            const Tensor& ln_w, const Tensor& ln_b) const {
  Tensor a = layer_norm(linear(x, w), {w.size(0)}, ln_w, ln_b, options_.layer_norm_eps_);
  return b.defined() ? a + b : a;
}

// ---- LayerNormLSTMCell -------------------------------------------------------------------------

LayerNormLSTMCellImpl::LayerNormLSTMCellImpl(LayerNormCellOptions options)
    : LayerNormCellBase(options, 4, true) {}

LayerNormLSTMCellImpl::State LayerNormLSTMCellImpl::forward(const Tensor& input, const std::optional<State>& state,
                                                            const Tensor& weight_hh_override) const {
  if (state) {
    const bool h = std::get<0>(*state).defined(), c = std::get<1>(*state).defined();
    LOOM_CHECK(h == c, "{}: give both h and c or neither (got only {})", type(), h ? "h" : "c");
  }
  Tensor x = batched_input(input);
  Tensor h = batched_state(state ? std::get<0>(*state) : Tensor(), input, x, "h");
  Tensor c = batched_state(state ? std::get<1>(*state) : Tensor(), input, x, "c");
  Tensor a = normed_projection(x, weight_ih, bias_ih, layer_norm_ih_weight, layer_norm_ih_bias) +
             normed_projection(h, recurrent_weight(weight_hh_override), bias_hh, layer_norm_hh_weight,
                               layer_norm_hh_bias);  // (N, 4H)
  std::vector<Tensor> g = chunk(a, 4, 1);
  Tensor c1 = sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
  Tensor c1n = layer_norm(c1, {options_.hidden_size_}, layer_norm_c_weight, layer_norm_c_bias,
                          options_.layer_norm_eps_);
  Tensor h1 = sigmoid(g[3]) * tanh(c1n);
  if (input.dim() == 1) return {squeeze(h1, 0), squeeze(c1, 0)};
  return {h1, c1};
}

// ---- LayerNormGRUCell ---------------------------------------------------------------------------

LayerNormGRUCellImpl::LayerNormGRUCellImpl(LayerNormCellOptions options) : LayerNormCellBase(options, 3, false) {}

Tensor LayerNormGRUCellImpl::forward(const Tensor& input, const Tensor& h_in, const Tensor& weight_hh_override) const {
  Tensor x = batched_input(input);
  Tensor h = batched_state(h_in, input, x, "h");
  Tensor gi = normed_projection(x, weight_ih, bias_ih, layer_norm_ih_weight, layer_norm_ih_bias);
  Tensor gh = normed_projection(h, recurrent_weight(weight_hh_override), bias_hh, layer_norm_hh_weight,
                                layer_norm_hh_bias);
  std::vector<Tensor> i = chunk(gi, 3, 1), r = chunk(gh, 3, 1);
  Tensor reset = sigmoid(i[0] + r[0]);
  Tensor update = sigmoid(i[1] + r[1]);
  Tensor n = tanh(i[2] + reset * r[2]);
  Tensor h1 = rsub(update, 1.0) * n + update * h;
  return input.dim() == 1 ? squeeze(h1, 0) : h1;
}

// ---- regularisers ----------------------------------------------------------------------------

namespace {

void check_probability(double p, const char* what) {
  LOOM_CHECK(p >= 0 && p < 1, "{}: probability has to be in [0, 1), got {}", what, p);
}

}  // namespace

Tensor bernoulli_mask(const Shape& shape, double p_one, TensorOptions options) {
  LOOM_CHECK(p_one >= 0 && p_one <= 1, "bernoulli_mask: probability has to be in [0, 1], got {}", p_one);
  Tensor m = empty(shape, options);
  m.bernoulli_(p_one);
  return m;
}

Tensor zoneout_mask(const Shape& shape, double p, TensorOptions options) {
  check_probability(p, "zoneout_mask");
  return bernoulli_mask(shape, p, options);
}

Tensor keep_mask(const Shape& shape, double p, TensorOptions options) {
  check_probability(p, "keep_mask");
  return bernoulli_mask(shape, 1 - p, options);
}

Tensor zoneout(const Tensor& prev, const Tensor& next, double p, const Tensor& mask, bool training) {
  check_probability(p, "zoneout");
  LOOM_CHECK(prev.defined() && next.defined() && prev.shape() == next.shape(),
             "zoneout: the previous and the new state must have one shape");
  if (p == 0) return next;
  if (!training) return prev * p + next * (1 - p);
  LOOM_CHECK(mask.defined() && mask.shape() == prev.shape(),
             "zoneout: training needs a mask of the state's shape {} (zoneout_mask)", shape_str(prev.shape()));
  return mask * prev + rsub(mask, 1.0) * next;
}

Tensor weight_drop(const Tensor& weight, const Tensor& mask, double p, bool training) {
  check_probability(p, "weight_drop");
  if (!training || p == 0) return weight;
  LOOM_CHECK(mask.defined() && mask.shape() == weight.shape(),
             "weight_drop: training needs a mask of the weight's shape {} (keep_mask)", shape_str(weight.shape()));
  return div(weight * mask, 1 - p);
}

Tensor locked_dropout(const Tensor& x, const Tensor& mask, double p, bool training) {
  check_probability(p, "locked_dropout");
  if (!training || p == 0) return x;
  LOOM_CHECK(x.dim() == 3, "locked_dropout: expected a (L, N, F) sequence, got {}", shape_str(x.shape()));
  LOOM_CHECK(mask.defined() && mask.dim() == 2 && mask.size(0) == x.size(1) && mask.size(1) == x.size(2),
             "locked_dropout: the mask must be (N, F) = ({}, {})", x.size(1), x.size(2));
  return div(x * unsqueeze(mask, 0), 1 - p);
}

}  // namespace loom::nn
