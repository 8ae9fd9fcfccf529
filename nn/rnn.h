// nn::RNN, nn::LSTM and nn::GRU: PyTorch's recurrent layers, with exactly
// torch.nn.RNN/LSTM/GRU's options, defaults, shapes, parameter names and
// initialisation, running the fused kernels (nn/fused_rnn.h) layer by layer.
//
// Shapes (L sequence length, N batch, D = 2 if bidirectional else 1,
// H_out = proj_size if proj_size > 0 else hidden_size):
//   input   (L, N, input_size), (N, L, input_size) if batch_first,
//           (L, input_size) unbatched, or a PackedSequence
//   h_0     (D * num_layers, N, H_out) or (D * num_layers, H_out) unbatched;
//           zeros when not given
//   c_0     (D * num_layers, N, hidden_size) (LSTM); zeros when not given
//   output  (L, N, D * H_out) (batch_first: (N, L, D * H_out)), or a
//           PackedSequence for a PackedSequence input
//   h_n     like h_0; c_n like c_0
// Parameters, per layer k and direction (suffix "" or "_reverse"):
//   weight_ih_l{k}  (G, input_size) for k = 0, else (G, D * H_out)
//   weight_hh_l{k}  (G, H_out)
//   bias_ih_l{k}, bias_hh_l{k}  (G)          when bias
//   weight_hr_l{k}  (proj_size, hidden_size) LSTM with proj_size > 0
// with G = hidden_size (RNN), 4 * hidden_size (LSTM: i, f, g, o), 3 *
// hidden_size (GRU: r, z, n); every parameter starts U(-sqrt(k), sqrt(k)),
// k = 1 / hidden_size.
//
// Research variants (issue 13; LSTM and GRU only, not with proj_size; the
// equations are those of nn/research_cells.h and docs/variant-cases.md):
//   layer_norm(true)   separate layer norms (learnable gain and bias, eps
//       layer_norm_eps) on W_ih x and on W_hh h, over all G rows each; LSTM
//       also on c_t before its tanh (h = o * tanh(LN(c)), c itself carried on).
//       GRU form: gi = LN(W_ih x) + b_ih, gh = LN(W_hh h) + b_hh,
//       r = s(gi_r + gh_r), z = s(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
//       h' = (1 - z) n + z h. Extra parameters per layer k and direction:
//         layer_norm_ih_weight_l{k}, layer_norm_ih_bias_l{k}   (G)
//         layer_norm_hh_weight_l{k}, layer_norm_hh_bias_l{k}   (G)
//         layer_norm_c_weight_l{k},  layer_norm_c_bias_l{k}    (H) LSTM only
//       (weights start at 1, biases at 0). In the fused kernels, on CPU and
//       CUDA (kernels/rnn.h); double backward (create_graph) through it
//       is the composed backward of nn/rnn_double_backward.h.
//   zoneout_h(p), zoneout_c(p)  (LSTM only for c), p in [0, 1): training
//       h_t = m h_{t-1} + (1 - m) h~_t, m ~ Bernoulli(p) per element and step
//       from loom's Philox generator (c first, then h; h~ from the un-zoned
//       c~); eval the expectation m = p. In the fused kernels.
//   weight_drop(p), p in [0, 1): training W_hh' = W_hh * M / (1 - p), one
//       keep-mask M per layer-direction and forward pass, shared by all
//       steps; the kernels take W_hh' as a temporary (the parameter is never
//       copied into or modified); eval W_hh.
//   dropout_mode("independent" | "locked"): the inter-layer dropout draws a
//       new mask per step (PyTorch's) or one (N, D * H_out) mask per sequence
//       shared by all steps (Gal & Ghahramani 2016); training only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/rnn.h"
#include "nn/module.h"
#include "nn/module_holder.h"
#include "nn/packed_sequence.h"

namespace loom::nn {

// Options of RNN, LSTM and GRU, with PyTorch's defaults. Builder style:
//   LSTM lstm(LSTMOptions(10, 20).num_layers(2).dropout(0.1));
struct RNNOptions {
  RNNOptions(std::int64_t input_size, std::int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  std::int64_t input_size_;           // features of the input (required)
  std::int64_t hidden_size_;          // features of the hidden state (required)
  std::int64_t num_layers_ = 1;       // stacked layers
  std::string nonlinearity_ = "tanh"; // RNN only: "tanh" or "relu"
  bool bias_ = true;                  // b_ih and b_hh
  bool batch_first_ = false;          // input/output as (N, L, features)
  double dropout_ = 0.0;              // dropout on each layer's output but the last, training only
  bool bidirectional_ = false;        // a reverse direction per layer
  std::int64_t proj_size_ = 0;        // LSTM only: project h to this size (0: off)
  // Research variants (LSTM and GRU; see the top of this file):
  bool layer_norm_ = false;           // layer norms on both projections (and c for LSTM)
  double layer_norm_eps_ = 1e-5;      // their eps (> 0)
  double zoneout_h_ = 0.0;            // zoneout probability of h, [0, 1)
  double zoneout_c_ = 0.0;            // LSTM only: zoneout probability of c, [0, 1)
  double weight_drop_ = 0.0;          // DropConnect probability on W_hh, [0, 1)
  std::string dropout_mode_ = "independent";  // inter-layer dropout: "independent" or "locked"

  RNNOptions& num_layers(std::int64_t v) { num_layers_ = v; return *this; }
  RNNOptions& nonlinearity(std::string v) { nonlinearity_ = std::move(v); return *this; }
  RNNOptions& bias(bool v) { bias_ = v; return *this; }
  RNNOptions& batch_first(bool v) { batch_first_ = v; return *this; }
  RNNOptions& dropout(double v) { dropout_ = v; return *this; }
  RNNOptions& bidirectional(bool v) { bidirectional_ = v; return *this; }
  RNNOptions& proj_size(std::int64_t v) { proj_size_ = v; return *this; }
  RNNOptions& layer_norm(bool v) { layer_norm_ = v; return *this; }
  RNNOptions& layer_norm_eps(double v) { layer_norm_eps_ = v; return *this; }
  RNNOptions& zoneout_h(double v) { zoneout_h_ = v; return *this; }
  RNNOptions& zoneout_c(double v) { zoneout_c_ = v; return *this; }
  RNNOptions& weight_drop(double v) { weight_drop_ = v; return *this; }
  RNNOptions& dropout_mode(std::string v) { dropout_mode_ = std::move(v); return *this; }
};
using LSTMOptions = RNNOptions;
using GRUOptions = RNNOptions;

// What every recurrent layer shares: parameters, checks and the layer loop.
class RNNBase : public Module {
 public:
  // mode: RnnTanh/RnnRelu (RNN; chosen from options.nonlinearity), Lstm, Gru.
  // Throws loom::Error for invalid options (see the .cc for each message).
  RNNBase(kernels::RnnMode mode, RNNOptions options);

  const RNNOptions& options() const { return options_; }
  // Re-draws every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
  void reset_parameters();
  // "10, 20, num_layers=2, batch_first=True" as PyTorch's extra_repr.
  std::string extra_repr() const override;

  // The parameters of layer `layer`, direction `direction` (0 or 1), in
  // PyTorch's order: weight_ih, weight_hh[, bias_ih, bias_hh][, weight_hr].
  std::vector<Tensor> layer_parameters(std::int64_t layer, std::int64_t direction) const;

  // Test hook: training forwards use these masks instead of drawing them, in
  // the layout of rnn-variant-case/1's masks/ group (docs/variant-cases.md),
  // indexed [t, b] by step and batch entry in the caller's batch order:
  //   zoneout_h_l{k}[_reverse], zoneout_c_l{k}[_reverse]  (L, N, H)
  //   weight_drop_l{k}[_reverse]                            (G, H)
  //   dropout_l{k} (k >= 1)   (N, D*H) locked, (L, N, D*H) independent
  // A forward that needs a mask that is missing or mis-shaped throws
  // loom::Error. clear_variant_masks() goes back to drawing from Philox.
  // An empty map is valid: then no training forward may need a mask.
  void set_variant_masks(std::map<std::string, Tensor> masks) {
    fixed_masks_ = std::move(masks);
    use_fixed_masks_ = true;
  }
  void clear_variant_masks() {
    fixed_masks_.clear();
    use_fixed_masks_ = false;
  }

 protected:
  struct Result {
    Tensor output;  // as the input's layout asks
    Tensor h_n;
    Tensor c_n;     // LSTM only
    PackedSequence packed;  // for packed input
  };
  // Runs on a padded/unbatched tensor input with optional states.
  Result forward_tensor(const Tensor& input, const Tensor& h0, const Tensor& c0) const;
  // Runs on a packed input with optional states (in the caller's batch order).
  Result forward_packed(const PackedSequence& input, const Tensor& h0, const Tensor& c0) const;

  kernels::RnnMode mode_;
  RNNOptions options_;

 private:
  std::int64_t directions() const { return options_.bidirectional_ ? 2 : 1; }
  std::int64_t output_size() const {  // H_out
    return options_.proj_size_ > 0 ? options_.proj_size_ : options_.hidden_size_;
  }
  const char* type_name() const;
  // Checks h0/c0 against the expected (D*num_layers, N, size) (batched) shape.
  void check_state(const Tensor& state, std::int64_t batch, std::int64_t size, const char* what) const;
  // The layer loop over packed time-major rows x [R, C]; `order[i]` is the
  // caller's batch entry of packed row position i (for the test-hook masks).
  Result run_layers(const Tensor& x, const std::vector<std::int64_t>& batch_sizes,
                    const Tensor& h0, const Tensor& c0, const std::vector<std::int64_t>& order) const;
  // The fixed mask `name` (set_variant_masks) in x's dtype and device; throws
  // unless it has `shape`.
  Tensor fixed_mask(const std::string& name, const Shape& shape, const Tensor& like) const;
  bool variant() const;  // any research variant on

  std::map<std::string, Tensor> fixed_masks_;
  bool use_fixed_masks_ = false;
};

// Elman RNN with tanh or relu: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).
class RNNImpl : public RNNBase {
 public:
  explicit RNNImpl(RNNOptions options);
  RNNImpl(std::int64_t input_size, std::int64_t hidden_size) : RNNImpl(RNNOptions(input_size, hidden_size)) {}
  // (output, h_n) for a tensor input; h0 optional.
  std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& h0 = Tensor());
  // (packed output, h_n) for a packed input.
  std::tuple<PackedSequence, Tensor> forward(const PackedSequence& input, const Tensor& h0 = Tensor());
  std::string type() const override { return "RNN"; }
};

// LSTM, optionally with projections (proj_size).
class LSTMImpl : public RNNBase {
 public:
  explicit LSTMImpl(LSTMOptions options);
  LSTMImpl(std::int64_t input_size, std::int64_t hidden_size) : LSTMImpl(LSTMOptions(input_size, hidden_size)) {}
  using State = std::tuple<Tensor, Tensor>;  // (h, c)
  // (output, (h_n, c_n)); the state is optional (zeros). A given state must
  // have both h_0 and c_0 defined, as PyTorch: one without the other throws
  // loom::Error "lstm expects two hidden states: got h_0 without c_0".
  std::tuple<Tensor, State> forward(const Tensor& input, const std::optional<State>& state = std::nullopt);
  std::tuple<PackedSequence, State> forward(const PackedSequence& input,
                                            const std::optional<State>& state = std::nullopt);
  std::string type() const override { return "LSTM"; }
};

// GRU: gates r, z, n as torch.nn.GRU.
class GRUImpl : public RNNBase {
 public:
  explicit GRUImpl(GRUOptions options);
  GRUImpl(std::int64_t input_size, std::int64_t hidden_size) : GRUImpl(GRUOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& h0 = Tensor());
  std::tuple<PackedSequence, Tensor> forward(const PackedSequence& input, const Tensor& h0 = Tensor());
  std::string type() const override { return "GRU"; }
};

// The holders (libtorch's TORCH_MODULE): nn::RNN m(opts); m->forward(x).
LOOM_MODULE(RNN);
LOOM_MODULE(LSTM);
LOOM_MODULE(GRU);

// Test hook (process-wide, default false): when on, every LSTM/GRU layer with
// a variant (layer_norm, zoneout, weight_drop) runs as composed operations
// step by step (nn/rnn_composed_layer.h) instead of the fused kernels, so the
// tests can compare the two paths through whole modules (num_layers,
// bidirectional, batch_first, packed input, dropout). Not for training code.
void set_rnn_composed_variants(bool enabled);
bool rnn_composed_variants();

}  // namespace loom::nn
