#include "nn/rnn.h"

#include <atomic>
#include <cmath>

#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "kernels/gemm.h"
#include "nn/fused_rnn.h"
#include "nn/fused_rnn_stack.h"
#include "nn/init.h"
#include "nn/research_cells.h"
#include "nn/rnn_composed_layer.h"

namespace loom::nn {

namespace {

using kernels::RnnMode;

std::atomic<bool> g_composed_variants{false};  // set_rnn_composed_variants

RnnMode rnn_mode(const RNNOptions& o) {
  if (o.nonlinearity_ == "tanh") return RnnMode::RnnTanh;
  if (o.nonlinearity_ == "relu") return RnnMode::RnnRelu;
  fail("Unknown nonlinearity '{}'. Select from 'tanh' or 'relu'.", o.nonlinearity_);
}


// h[:, indices] for a state (D*L, N, S): reorders the batch dimension.
Tensor reorder_batch(const Tensor& state, const Tensor& indices) {
  if (!state.defined() || !indices.defined()) return state;
  std::int64_t layers = state.size(0), batch = state.size(1), size = state.size(2);
  Tensor rows = reshape(transpose(state, 0, 1), {batch, layers * size});
  Tensor picked = embedding(rows, indices.to(state.device()));
  return contiguous(transpose(reshape(picked, {batch, layers, size}), 0, 1));
}

// Packed rows [R, F] from a mask in batch order: (L, N, F) indexed [t, b]
// (per_step) or (N, F) for every step; packed row i of step t belongs to
// batch entry order[i].
Tensor packed_rows(const Tensor& mask, const std::vector<std::int64_t>& batch_sizes,
                   const std::vector<std::int64_t>& order, bool per_step) {
  const std::int64_t N = per_step ? mask.size(1) : mask.size(0), F = mask.size(-1);
  std::vector<std::int64_t> idx;
  for (std::size_t t = 0; t < batch_sizes.size(); ++t)
    for (std::int64_t i = 0; i < batch_sizes[t]; ++i)
      idx.push_back((per_step ? static_cast<std::int64_t>(t) * N : 0) + order[static_cast<std::size_t>(i)]);
  const Tensor source = per_step ? reshape(mask, {mask.size(0) * N, F}) : mask;
  return embedding(source, tensor_int64(idx, {static_cast<std::int64_t>(idx.size())},
                                        mask.device()));
}

}  // namespace

RNNBase::RNNBase(kernels::RnnMode mode, RNNOptions options) : mode_(mode), options_(std::move(options)) {
  const RNNOptions& o = options_;
  LOOM_CHECK(o.input_size_ > 0, "input_size must be greater than zero, got {}", o.input_size_);
  LOOM_CHECK(o.hidden_size_ > 0, "hidden_size must be greater than zero, got {}", o.hidden_size_);
  LOOM_CHECK(o.num_layers_ > 0, "num_layers must be greater than zero, got {}", o.num_layers_);
  LOOM_CHECK(o.dropout_ >= 0 && o.dropout_ <= 1,
             "dropout should be a number in range [0, 1] representing the probability of an element "
             "being zeroed, got {}",
             o.dropout_);
  LOOM_CHECK(o.proj_size_ >= 0,
             "proj_size should be a positive integer or zero to disable projections, got {}",
             o.proj_size_);
  if (mode != RnnMode::Lstm)
    LOOM_CHECK(o.proj_size_ == 0, "proj_size argument is only supported for LSTM, not RNN or GRU");
  LOOM_CHECK(o.proj_size_ < o.hidden_size_, "proj_size has to be smaller than hidden_size (got "
             "proj_size={}, hidden_size={})", o.proj_size_, o.hidden_size_);
  for (auto [name, p] : {std::pair<const char*, double>{"zoneout_h", o.zoneout_h_}, {"zoneout_c", o.zoneout_c_},
                         {"weight_drop", o.weight_drop_}})
    LOOM_CHECK(p >= 0 && p < 1, "{} should be a probability in [0, 1), got {}", name, p);
  LOOM_CHECK(o.dropout_mode_ == "independent" || o.dropout_mode_ == "locked",
             "dropout_mode should be 'independent' or 'locked', got '{}'", o.dropout_mode_);
  LOOM_CHECK(o.layer_norm_eps_ > 0, "layer_norm_eps must be greater than zero, got {}", o.layer_norm_eps_);
  if (variant()) {
    LOOM_CHECK(mode == RnnMode::Lstm || mode == RnnMode::Gru,
               "layer_norm, zoneout and weight_drop are only supported for LSTM and GRU, not RNN");
    LOOM_CHECK(o.proj_size_ == 0,
               "layer_norm, zoneout and weight_drop are not supported with proj_size > 0 (got proj_size={})",
               o.proj_size_);
  }
  LOOM_CHECK(o.zoneout_c_ == 0 || mode == RnnMode::Lstm,
             "zoneout_c needs a cell state: only LSTM has one (got zoneout_c={} for {})", o.zoneout_c_,
             mode == RnnMode::Gru ? "GRU" : "RNN");

  std::int64_t G = kernels::gate_rows(mode, o.hidden_size_);
  for (std::int64_t layer = 0; layer < o.num_layers_; ++layer) {
    for (std::int64_t dir = 0; dir < directions(); ++dir) {
      std::string suffix = fmt::format("_l{}{}", layer, dir == 1 ? "_reverse" : "");
      std::int64_t in = layer == 0 ? o.input_size_ : output_size() * directions();
      register_parameter("weight_ih" + suffix, empty({G, in}));
      register_parameter("weight_hh" + suffix, empty({G, output_size()}));
      if (o.bias_) {
        register_parameter("bias_ih" + suffix, empty({G}));
        register_parameter("bias_hh" + suffix, empty({G}));
      }
      if (o.proj_size_ > 0) register_parameter("weight_hr" + suffix, empty({o.proj_size_, o.hidden_size_}));
      if (o.layer_norm_) {
        for (const char* which : {"ih", "hh"}) {
          register_parameter(fmt::format("layer_norm_{}_weight{}", which, suffix), empty({G}));
          register_parameter(fmt::format("layer_norm_{}_bias{}", which, suffix), empty({G}));
        }
        if (mode == RnnMode::Lstm) {
          register_parameter("layer_norm_c_weight" + suffix, empty({o.hidden_size_}));
          register_parameter("layer_norm_c_bias" + suffix, empty({o.hidden_size_}));
        }
      }
    }
  }
  reset_parameters();
}

void RNNBase::reset_parameters() {
  double bound = 1.0 / std::sqrt(static_cast<double>(options_.hidden_size_));
  for (auto& [name, p] : named_parameters()) {
    if (name.rfind("layer_norm_", 0) != 0) init::uniform_(p, -bound, bound);
    else if (name.find("_weight_l") != std::string::npos) init::ones_(p);  // layer norms: 1 and 0
    else init::zeros_(p);
  }
}

bool RNNBase::variant() const {
  const RNNOptions& o = options_;
  return o.layer_norm_ || o.zoneout_h_ > 0 || o.zoneout_c_ > 0 || o.weight_drop_ > 0;
}

Tensor RNNBase::fixed_mask(const std::string& name, const Shape& shape, const Tensor& like) const {
  auto it = fixed_masks_.find(name);
  LOOM_CHECK(it != fixed_masks_.end(), "{}: set_variant_masks gave no mask '{}'", type_name(), name);
  LOOM_CHECK(it->second.shape() == shape, "{}: the mask '{}' has shape {}, expected {}", type_name(), name,
             shape_str(it->second.shape()), shape_str(shape));
  return native::to(native::to(it->second, like.dtype()), like.device());
}

const char* RNNBase::type_name() const {
  switch (mode_) {
    case RnnMode::Lstm: return "LSTM";
    case RnnMode::Gru: return "GRU";
    default: return "RNN";
  }
}

std::string RNNBase::extra_repr() const {
  const RNNOptions& o = options_;
  std::string s = fmt::format("{}, {}", o.input_size_, o.hidden_size_);
  if (o.proj_size_ != 0) s += fmt::format(", proj_size={}", o.proj_size_);
  if (o.num_layers_ != 1) s += fmt::format(", num_layers={}", o.num_layers_);
  if (!o.bias_) s += ", bias=False";
  if (o.batch_first_) s += ", batch_first=True";
  if (o.dropout_ != 0) s += fmt::format(", dropout={}", o.dropout_);
  if (o.bidirectional_) s += ", bidirectional=True";
  if (o.layer_norm_) s += ", layer_norm=True";
  if (o.layer_norm_eps_ != 1e-5) s += fmt::format(", layer_norm_eps={}", o.layer_norm_eps_);
  if (o.zoneout_h_ != 0) s += fmt::format(", zoneout_h={}", o.zoneout_h_);
  if (o.zoneout_c_ != 0) s += fmt::format(", zoneout_c={}", o.zoneout_c_);
  if (o.weight_drop_ != 0) s += fmt::format(", weight_drop={}", o.weight_drop_);
  if (o.dropout_mode_ != "independent") s += fmt::format(", dropout_mode='{}'", o.dropout_mode_);
  return s;
}

std::vector<Tensor> RNNBase::layer_parameters(std::int64_t layer, std::int64_t direction) const {
  std::string suffix = fmt::format("_l{}{}", layer, direction == 1 ? "_reverse" : "");
  std::vector<Tensor> out;
  for (const char* base : {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"}) {
    Tensor p = named_parameter(base + suffix);
    if (p.defined()) out.push_back(p);
  }
  return out;
}

void RNNBase::check_state(const Tensor& state, std::int64_t batch, std::int64_t size,
                          const char* what) const {
  Shape expected = {directions() * options_.num_layers_, batch, size};
  LOOM_CHECK(state.shape() == expected, "Expected {} size ({}), got {}", what,
             fmt::join(expected, ", "), shape_str(state.shape()));
}

RNNBase::Result RNNBase::run_layers(const Tensor& x_in, const std::vector<std::int64_t>& batch_sizes,
                                    const Tensor& h0_in, const Tensor& c0_in,
                                    const std::vector<std::int64_t>& order) const {
  // Under autocast the layers run in its type: every float32 operand (input,
  // states, parameters) is cast, differentiably (autograd/autocast.h).
  using autocast_cast::to_lower;
  const Tensor x = to_lower(x_in), h0 = to_lower(h0_in), c0 = to_lower(c0_in);
  const RNNOptions& o = options_;
  const bool lstm = mode_ == RnnMode::Lstm, training = is_training();
  const bool has_bias = o.bias_, has_proj = o.proj_size_ > 0, fixed = use_fixed_masks_;
  const std::int64_t L = static_cast<std::int64_t>(batch_sizes.size()), N = batch_sizes[0];
  const std::int64_t R = x.size(0), H = o.hidden_size_, G = kernels::gate_rows(mode_, H);
  const TensorOptions mask_options = TensorOptions(x.dtype()).device(x.device());
  std::vector<std::int64_t> positions(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) positions[static_cast<std::size_t>(i)] = i;
  // Inference of a whole unidirectional stack in one launch, where the
  // kernels take it (nn/fused_rnn_stack.h); else layer by layer below.
  if (rnn_stack_wavefront_blocker(o, training).empty() && x.device().is_cuda()) {
    FusedRnnStackInputs stack;
    stack.x = x, stack.h0 = h0, stack.c0 = c0;
    for (std::int64_t layer = 0; layer < o.num_layers_; ++layer) {
      std::vector<Tensor> p = layer_parameters(layer, 0);
      for (Tensor& t : p) t = to_lower(t);
      stack.w_ih.push_back(p[0]);
      stack.w_hh.push_back(p[1]);
      if (has_bias) stack.b_ih.push_back(p[2]), stack.b_hh.push_back(p[3]);
    }
    if (auto out = fused_rnn_stack_wavefront(mode_, batch_sizes, stack)) {
      Result r;
      r.output = out->y;
      r.h_n = out->h_n;
      if (lstm) r.c_n = out->c_n;
      return r;
    }
  }
  std::vector<Tensor> h_n, c_n;
  Tensor layer_input = x;
  for (std::int64_t layer = 0; layer < o.num_layers_; ++layer) {
    // Dropout on the input of every layer but the first (training only).
    if (layer > 0 && o.dropout_ > 0 && training) {
      const std::int64_t F = layer_input.size(1);
      const std::string name = fmt::format("dropout_l{}", layer);
      if (o.dropout_mode_ == "locked") {
        // Drawn masks are per packed row position (the same distribution).
        const Tensor m = fixed ? packed_rows(fixed_mask(name, {N, F}, x), batch_sizes, order, false)
                               : packed_rows(keep_mask({N, F}, o.dropout_, mask_options), batch_sizes,
                                             positions, false);
        layer_input = div(layer_input * m, 1 - o.dropout_);
      } else if (fixed) {
        const Tensor m = packed_rows(fixed_mask(name, {L, N, F}, x), batch_sizes, order, true);
        layer_input = div(layer_input * m, 1 - o.dropout_);
      } else {
        layer_input = dropout(layer_input, o.dropout_, true);
      }
    }
    std::vector<FusedRnnLayerInputs> ins;
    for (std::int64_t dir = 0; dir < directions(); ++dir) {
      const std::string suffix = fmt::format("_l{}{}", layer, dir == 1 ? "_reverse" : "");
      std::vector<Tensor> p = layer_parameters(layer, dir);
      for (Tensor& t : p) t = to_lower(t);
      std::int64_t index = layer * directions() + dir;
      FusedRnnLayerInputs& in = ins.emplace_back();
      in.x = layer_input;
      in.h0 = select(h0, 0, index);
      if (lstm) in.c0 = select(c0, 0, index);
      in.w_ih = p[0];
      in.w_hh = p[1];
      if (has_bias) in.b_ih = p[2], in.b_hh = p[3];
      if (has_proj) in.w_hr = p[has_bias ? 4 : 2];
      // Weight drop: the kernels take the temporary W_hh * M / (1 - p).
      if (o.weight_drop_ > 0 && training) {
        const Shape shape = {G, H};
        const Tensor m = fixed ? fixed_mask("weight_drop" + suffix, shape, x)
                               : keep_mask(shape, o.weight_drop_, mask_options);
        in.w_hh = weight_drop(in.w_hh, m, o.weight_drop_, true);
      }
      // Zoneout: the probabilities always (eval: the expectation), masks in training.
      in.zoneout_h = o.zoneout_h_;
      in.zoneout_c = o.zoneout_c_;
      auto zoneout_rows = [&](const char* what, double p) {
        if (p == 0 || !training) return Tensor();
        if (fixed) return packed_rows(fixed_mask(what + suffix, {L, N, H}, x), batch_sizes, order, true);
        return zoneout_mask({R, H}, p, mask_options);
      };
      in.zoneout_h_mask = zoneout_rows("zoneout_h", o.zoneout_h_);
      in.zoneout_c_mask = zoneout_rows("zoneout_c", o.zoneout_c_);
      if (o.layer_norm_) {  // in the fused kernels (kernels/rnn.h, layer norm)
        in.ln_ih_w = to_lower(named_parameter("layer_norm_ih_weight" + suffix));
        in.ln_ih_b = to_lower(named_parameter("layer_norm_ih_bias" + suffix));
        in.ln_hh_w = to_lower(named_parameter("layer_norm_hh_weight" + suffix));
        in.ln_hh_b = to_lower(named_parameter("layer_norm_hh_bias" + suffix));
        if (lstm) {
          in.ln_c_w = to_lower(named_parameter("layer_norm_c_weight" + suffix));
          in.ln_c_b = to_lower(named_parameter("layer_norm_c_bias" + suffix));
        }
        in.layer_norm_eps = o.layer_norm_eps_;
      }
    }
    std::vector<FusedRnnLayerOutputs> outs;
    if (variant() && rnn_composed_variants()) {  // the test hook: composed, step by step
      for (std::size_t dir = 0; dir < ins.size(); ++dir) {
        const FusedRnnLayerInputs& in = ins[dir];
        RnnLayerNormParams ln;
        ln.ih_weight = in.ln_ih_w, ln.ih_bias = in.ln_ih_b;
        ln.hh_weight = in.ln_hh_w, ln.hh_bias = in.ln_hh_b;
        ln.c_weight = in.ln_c_w, ln.c_bias = in.ln_c_b;
        ln.eps = in.layer_norm_eps;
        outs.push_back(composed_rnn_layer(mode_, batch_sizes, dir == 1, in, ln));
      }
    } else if (ins.size() == 2) {  // both directions at once (concurrently on CUDA, see nn/fused_rnn.h)
      for (FusedRnnLayerOutputs& out : fused_rnn_bidirectional_layer(mode_, batch_sizes, ins[0], ins[1]))
        outs.push_back(out);
    } else {
      outs.push_back(fused_rnn_layer(mode_, batch_sizes, false, ins[0]));
    }
    std::vector<Tensor> outputs;
    for (const FusedRnnLayerOutputs& out : outs) {
      outputs.push_back(out.y);
      h_n.push_back(out.h_n);
      if (lstm) c_n.push_back(out.c_n);
    }
    layer_input = outputs.size() == 1 ? outputs[0] : cat(outputs, 1);
  }
  Result r;
  r.output = layer_input;
  r.h_n = stack(h_n, 0);
  if (lstm) r.c_n = stack(c_n, 0);
  return r;
}

RNNBase::Result RNNBase::forward_tensor(const Tensor& input, const Tensor& h0_in,
                                        const Tensor& c0_in) const {
  const RNNOptions& o = options_;
  bool lstm = mode_ == RnnMode::Lstm;
  LOOM_CHECK(input.dim() == 2 || input.dim() == 3,
             "{}: Expected input to be 2D or 3D, got {}D instead", type_name(), input.dim());
  LOOM_CHECK(input.size(-1) == o.input_size_, "input.size(-1) must be equal to input_size. Expected "
             "{}, got {}", o.input_size_, input.size(-1));
  LOOM_CHECK(is_floating(input.dtype()), "{}: expected a floating input, got dtype {}", type_name(),
             input.dtype());
  bool batched = input.dim() == 3;
  Tensor x = batched ? input : unsqueeze(input, 1);  // (L, 1, C) for unbatched
  if (batched && o.batch_first_) x = transpose(x, 0, 1);
  std::int64_t L = x.size(0), N = x.size(1);
  LOOM_CHECK(L > 0 && N > 0, "{}: expected a non-empty input, got shape {}", type_name(),
             shape_str(input.shape()));
  // Checked before the input is made contiguous (an expanded view may be far
  // larger materialised): the layer's GEMMs take L * N rows as a 32-bit int.
  LOOM_CHECK(L * N <= kernels::kMaxGemmSize,
             "{}: the input has L * N = {} (step, row) pairs (L = {}, N = {}), more than {}, the "
             "largest GEMM size BLAS and cuBLAS accept; split the sequence (truncated BPTT) or the "
             "batch",
             type_name(), L * N, L, N, kernels::kMaxGemmSize);

  auto prepare = [&](const Tensor& s, std::int64_t size, const char* what) {
    if (!s.defined())
      return zeros({directions() * o.num_layers_, N, size}, TensorOptions(x.dtype()).device(x.device()));
    if (!batched) {
      LOOM_CHECK(s.dim() == 2, "For unbatched 2-D input, {} should also be 2-D but got {}-D tensor",
                 what, s.dim());
      Tensor b = unsqueeze(s, 1);
      check_state(b, N, size, what);
      return b;
    }
    LOOM_CHECK(s.dim() == 3, "For batched 3-D input, {} should also be 3-D but got {}-D tensor", what,
               s.dim());
    check_state(s, N, size, what);
    return s;
  };
  Tensor h0 = prepare(h0_in, output_size(), lstm ? "hidden[0]" : "hidden");
  Tensor c0 = lstm ? prepare(c0_in, o.hidden_size_, "hidden[1]") : Tensor();

  std::vector<std::int64_t> batch_sizes(static_cast<std::size_t>(L), N);
  std::vector<std::int64_t> order(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) order[static_cast<std::size_t>(i)] = i;
  Result r = run_layers(reshape(contiguous(x), {L * N, o.input_size_}), batch_sizes, h0, c0, order);
  Tensor out = reshape(r.output, {L, N, -1});
  if (!batched) {
    out = squeeze(out, 1);
    r.h_n = squeeze(r.h_n, 1);
    if (lstm) r.c_n = squeeze(r.c_n, 1);
  } else if (o.batch_first_) {
    out = transpose(out, 0, 1);
  }
  r.output = out;
  return r;
}

RNNBase::Result RNNBase::forward_packed(const PackedSequence& input, const Tensor& h0_in,
                                        const Tensor& c0_in) const {
  const RNNOptions& o = options_;
  bool lstm = mode_ == RnnMode::Lstm;
  const Tensor& data = input.data;
  LOOM_CHECK(data.dim() == 2, "{}: packed data must be 2-D (rows, features), got {}-D", type_name(),
             data.dim());
  LOOM_CHECK(data.size(1) == o.input_size_, "input.size(-1) must be equal to input_size. Expected {}, "
             "got {}", o.input_size_, data.size(1));
  std::vector<std::int64_t> batch_sizes = input.batch_sizes.to_vector<std::int64_t>();
  LOOM_CHECK(!batch_sizes.empty(), "{}: empty PackedSequence", type_name());
  std::int64_t N = batch_sizes[0];

  auto prepare = [&](const Tensor& s, std::int64_t size, const char* what) {
    if (!s.defined())
      return zeros({directions() * o.num_layers_, N, size}, TensorOptions(data.dtype()).device(data.device()));
    check_state(s, N, size, what);
    return reorder_batch(s, input.sorted_indices);  // into the packed (sorted) order
  };
  Tensor h0 = prepare(h0_in, output_size(), lstm ? "hidden[0]" : "hidden");
  Tensor c0 = lstm ? prepare(c0_in, o.hidden_size_, "hidden[1]") : Tensor();

  std::vector<std::int64_t> order(static_cast<std::size_t>(N));
  if (input.sorted_indices.defined()) order = input.sorted_indices.to_vector<std::int64_t>();
  else for (std::int64_t i = 0; i < N; ++i) order[static_cast<std::size_t>(i)] = i;
  Result r = run_layers(data, batch_sizes, h0, c0, order);
  r.packed = PackedSequence{r.output, input.batch_sizes, input.sorted_indices, input.unsorted_indices};
  r.h_n = reorder_batch(r.h_n, input.unsorted_indices);  // back to the caller's order
  if (lstm) r.c_n = reorder_batch(r.c_n, input.unsorted_indices);
  return r;
}

// ---- the three layers ----------------------------------------------------------------

RNNImpl::RNNImpl(RNNOptions options) : RNNBase(rnn_mode(options), options) {}

std::tuple<Tensor, Tensor> RNNImpl::forward(const Tensor& input, const Tensor& h0) {
  Result r = forward_tensor(input, h0, Tensor());
  return {r.output, r.h_n};
}
std::tuple<PackedSequence, Tensor> RNNImpl::forward(const PackedSequence& input, const Tensor& h0) {
  Result r = forward_packed(input, h0, Tensor());
  return {r.packed, r.h_n};
}

LSTMImpl::LSTMImpl(LSTMOptions options) : RNNBase(RnnMode::Lstm, std::move(options)) {}

namespace {
// PyTorch's lstm takes both states or neither: (h_0, undefined) or
// (undefined, h_0) is refused with ATen's words ("lstm expects two hidden
// states"), never run with zeros for the missing one.
void check_both_states(const LSTMImpl::State& state) {
  const bool h = std::get<0>(state).defined(), c = std::get<1>(state).defined();
  LOOM_CHECK(h == c, "lstm expects two hidden states: got {} without {}", h ? "h_0" : "c_0",
             h ? "c_0" : "h_0");
}
}  // namespace

std::tuple<Tensor, LSTMImpl::State> LSTMImpl::forward(const Tensor& input, const std::optional<State>& state) {
  if (state) check_both_states(*state);
  Result r = state ? forward_tensor(input, std::get<0>(*state), std::get<1>(*state))
                   : forward_tensor(input, Tensor(), Tensor());
  return {r.output, State{r.h_n, r.c_n}};
}
std::tuple<PackedSequence, LSTMImpl::State> LSTMImpl::forward(const PackedSequence& input,
                                                      const std::optional<State>& state) {
  if (state) check_both_states(*state);
  Result r = state ? forward_packed(input, std::get<0>(*state), std::get<1>(*state))
                   : forward_packed(input, Tensor(), Tensor());
  return {r.packed, State{r.h_n, r.c_n}};
}

GRUImpl::GRUImpl(GRUOptions options) : RNNBase(RnnMode::Gru, std::move(options)) {}

std::tuple<Tensor, Tensor> GRUImpl::forward(const Tensor& input, const Tensor& h0) {
  Result r = forward_tensor(input, h0, Tensor());
  return {r.output, r.h_n};
}
std::tuple<PackedSequence, Tensor> GRUImpl::forward(const PackedSequence& input, const Tensor& h0) {
  Result r = forward_packed(input, h0, Tensor());
  return {r.packed, r.h_n};
}

void set_rnn_composed_variants(bool enabled) { g_composed_variants.store(enabled); }
bool rnn_composed_variants() { return g_composed_variants.load(); }

}  // namespace loom::nn
