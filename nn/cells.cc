#include "nn/cells.h"

#include <cmath>

#include "autograd/functions.h"
#include "nn/init.h"

namespace loom::nn {

// ---- shared: parameters and checks -------------------------------------------------------

RNNCellBase::RNNCellBase(std::int64_t input_size, std::int64_t hidden_size, bool bias, std::int64_t gates)
    : input_size_(input_size), hidden_size_(hidden_size) {
  LOOM_CHECK(input_size > 0, "input_size must be greater than zero, got {}", input_size);
  LOOM_CHECK(hidden_size > 0, "hidden_size must be greater than zero, got {}", hidden_size);
  const std::int64_t G = gates * hidden_size;
  weight_ih = register_parameter("weight_ih", empty({G, input_size}));
  weight_hh = register_parameter("weight_hh", empty({G, hidden_size}));
  bias_ih = register_parameter("bias_ih", bias ? empty({G}) : Tensor());
  bias_hh = register_parameter("bias_hh", bias ? empty({G}) : Tensor());
  reset_parameters();
}

void RNNCellBase::reset_parameters() {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size_));
  for (const Tensor& p : parameters()) init::uniform_(p, -bound, bound);
}

std::string RNNCellBase::extra_repr() const {
  std::string s = fmt::format("{}, {}", input_size_, hidden_size_);
  if (!bias_ih.defined()) s += ", bias=False";
  return s;
}

Tensor RNNCellBase::batched_input(const Tensor& input) const {
  LOOM_CHECK(input.defined(), "{}: expected an input tensor, got an undefined one", type());
  LOOM_CHECK(input.dim() == 1 || input.dim() == 2,
             "{}: Expected input to be 1-D or 2-D but received {}-D tensor", type(), input.dim());
  Tensor x = input.dim() == 1 ? unsqueeze(input, 0) : input;
  LOOM_CHECK(x.size(1) == input_size_, "input has inconsistent input_size: got {} expected {}", x.size(1),
             input_size_);
  return x;
}

Tensor RNNCellBase::batched_state(const Tensor& state, const Tensor& input, const Tensor& x, int label) const {
  if (!state.defined())
    return zeros({x.size(0), hidden_size_}, TensorOptions(x.dtype()).device(x.device()));
  // PyTorch 1.13 does not check this itself (it fails later with a confusing size).
  LOOM_CHECK(state.dim() == input.dim(),
             "{}: Expected hidden{} to be {}-D for a {}-D input, but received {}-D tensor", type(), label,
             input.dim(), input.dim(), state.dim());
  Tensor h = state.dim() == 1 ? unsqueeze(state, 0) : state;
  LOOM_CHECK(h.size(0) == x.size(0), "Input batch size {} doesn't match hidden{} batch size {}", x.size(0),
             label, h.size(0));
  LOOM_CHECK(h.size(1) == hidden_size_, "hidden{} has inconsistent hidden_size: got {}, expected {}", label,
             h.size(1), hidden_size_);
  return h;
}

// ---- RNNCell ---------------------------------------------------------------------------------

namespace {
const RNNCellOptions& checked(const RNNCellOptions& o) {
  LOOM_CHECK(o.nonlinearity_ == "tanh" || o.nonlinearity_ == "relu",
             "Unknown nonlinearity '{}'. Select from 'tanh' or 'relu'.", o.nonlinearity_);
  return o;
}
}  // namespace

RNNCellImpl::RNNCellImpl(RNNCellOptions options)
    : RNNCellBase(checked(options).input_size_, options.hidden_size_, options.bias_, 1),
      options_(std::move(options)) {}

Tensor RNNCellImpl::forward(const Tensor& input, const Tensor& h) const {
  Tensor x = batched_input(input);
  Tensor hx = batched_state(h, input, x, 0);
  Tensor pre = linear(x, weight_ih, bias_ih) + linear(hx, weight_hh, bias_hh);  // (N, H)
  Tensor h1 = options_.nonlinearity_ == "tanh" ? tanh(pre) : relu(pre);
  return input.dim() == 1 ? squeeze(h1, 0) : h1;
}

std::string RNNCellImpl::extra_repr() const {
  std::string s = RNNCellBase::extra_repr();
  if (options_.nonlinearity_ != "tanh") s += ", nonlinearity=" + options_.nonlinearity_;
  return s;
}

// ---- LSTMCell ----------------------------------------------------------------------------------

LSTMCellImpl::LSTMCellImpl(LSTMCellOptions options)
    : RNNCellBase(options.input_size_, options.hidden_size_, options.bias_, 4), options_(options) {}

LSTMCellImpl::State LSTMCellImpl::forward(const Tensor& input, const std::optional<State>& state) const {
  if (state) {
    // PyTorch takes both states or neither: torch 1.13's LSTMCell()(x, (h, None)) raises
    // "expected Tensor as element 1 in argument 1, but got NoneType".
    const bool h = std::get<0>(*state).defined(), c = std::get<1>(*state).defined();
    LOOM_CHECK(h == c, "expected Tensor as element {} in argument 1, but got an undefined tensor",
               h ? 1 : 0);
  }
  Tensor x = batched_input(input);
  // PyTorch 1.13 labels both h and c "hidden0" in its messages; so does loom.
  Tensor hx = batched_state(state ? std::get<0>(*state) : Tensor(), input, x, 0);
  Tensor cx = batched_state(state ? std::get<1>(*state) : Tensor(), input, x, 0);

  Tensor gates = linear(x, weight_ih, bias_ih) + linear(hx, weight_hh, bias_hh);  // (N, 4H)
  std::vector<Tensor> g = chunk(gates, 4, 1);
  Tensor i = sigmoid(g[0]);  // input gate
  Tensor f = sigmoid(g[1]);  // forget gate
  Tensor n = tanh(g[2]);     // candidate cell ("g")
  Tensor o = sigmoid(g[3]);  // output gate
  Tensor c1 = f * cx + i * n;
  Tensor h1 = o * tanh(c1);
  if (input.dim() == 1) return {squeeze(h1, 0), squeeze(c1, 0)};
  return {h1, c1};
}

// ---- GRUCell -------------------------------------------------------------------------------------

GRUCellImpl::GRUCellImpl(GRUCellOptions options)
    : RNNCellBase(options.input_size_, options.hidden_size_, options.bias_, 3), options_(options) {}

Tensor GRUCellImpl::forward(const Tensor& input, const Tensor& h) const {
  Tensor x = batched_input(input);
  Tensor hx = batched_state(h, input, x, 0);
  std::vector<Tensor> gi = chunk(linear(x, weight_ih, bias_ih), 3, 1);   // x parts of r, z, n
  std::vector<Tensor> gh = chunk(linear(hx, weight_hh, bias_hh), 3, 1);  // h parts of r, z, n
  Tensor r = sigmoid(gi[0] + gh[0]);
  Tensor z = sigmoid(gi[1] + gh[1]);
  Tensor n = tanh(gi[2] + r * gh[2]);
  Tensor h1 = n + z * (hx - n);  // = (1 - z) * n + z * h, in PyTorch's order of operations
  return input.dim() == 1 ? squeeze(h1, 0) : h1;
}

}  // namespace loom::nn
