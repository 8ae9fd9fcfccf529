// The research variants of the recurrent cells, composed of loom's plain
// differentiable operations: the readable second implementation of the
// variants of issue 13 (the fused layers are tested against these, and these
// against PyTorch cells written from the papers' equations:
// tests/fixtures/research_cells.py, cases in tests/data/variants/).
//
//   nn::LayerNormLSTMCell cell(nn::LayerNormLSTMCellOptions(10, 20));
//   auto [h1, c1] = cell->forward(x, {{h, c}});
//
// LN(v; w, b) = (v - mean(v)) / sqrt(var(v) + eps) * w + b over the last
// dimension (biased variance, eps = layer_norm_eps, 1e-5 by default).
//
// LayerNormLSTMCell (Ba, Kiros & Hinton 2016, the form of haste's LayerNormLSTM):
//   a  = LN(x W_ih^T; ln_ih) + b_ih + LN(h W_hh^T; ln_hh) + b_hh    (N, 4H): i, f, g, o
//   c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g)
//   h' = sigmoid(a_o) * tanh(LN(c'; ln_c))
// The state carried on is c' itself, not LN(c').
//
// LayerNormGRUCell (this project's stated form: PyTorch's GRU with its two
// projections normalised separately, over all 3H rows each):
//   gi = LN(x W_ih^T; ln_ih) + b_ih,  gh = LN(h W_hh^T; ln_hh) + b_hh  (N, 3H): r, z, n
//   r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z)
//   n = tanh(gi_n + r * gh_n),  h' = (1 - z) * n + z * h
//
// Shapes (N batch, C input_size, H hidden_size, G = 4H or 3H):
//   input (N, C) or (C) unbatched; h, c (N, H) or (H); zeros when not given.
// Parameters (names as registered; a layer adds _l{k}[_reverse]):
//   weight_ih (G, C), weight_hh (G, H), bias_ih (G), bias_hh (G) (when bias;
//   U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's cells),
//   layer_norm_ih_weight (G), layer_norm_ih_bias (G),
//   layer_norm_hh_weight (G), layer_norm_hh_bias (G),
//   LSTM only: layer_norm_c_weight (H), layer_norm_c_bias (H)
//   (layer-norm weights start at 1, biases at 0).
// With bias, b_ih/b_hh and the layer-norm biases add up (the same sum); both
// are kept so that the parameter set is PyTorch's plus the layer norms.
//
// The regularisers, as functions over tensors (training masks come from
// loom's Philox generator, core/generator.h, so a seed replays them on any device):
//   zoneout (Krueger et al. 2016) on h, and c for LSTM, probability p:
//     training h_t = m * h_{t-1} + (1 - m) * h~_t, m ~ Bernoulli(p) per element
//     and step (m = 1: the unit keeps its previous value); eval: the expectation
//     h_t = p * h_{t-1} + (1 - p) * h~_t.
//   weight drop (DropConnect on W_hh, Merity et al. 2017), probability p:
//     training W_hh' = W_hh * M / (1 - p), one mask M per forward pass shared by
//     all steps; eval W_hh' = W_hh. Pass W_hh' to forward() as `weight_hh`.
//   locked dropout (Gal & Ghahramani 2016) between layers: one keep-mask
//     (N, F) per sequence, x_t' = x_t * M / (1 - p) for every step t.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom::nn {

// Options of LayerNormLSTMCell and LayerNormGRUCell.
struct LayerNormCellOptions {
  LayerNormCellOptions(std::int64_t input_size, std::int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  std::int64_t input_size_;      // features of the input (required, > 0)
  std::int64_t hidden_size_;     // features of the hidden state (required, > 0)
  bool bias_ = true;             // b_ih and b_hh
  double layer_norm_eps_ = 1e-5; // the layer norms' eps (> 0)

  LayerNormCellOptions& bias(bool v) { bias_ = v; return *this; }
  LayerNormCellOptions& layer_norm_eps(double v) { layer_norm_eps_ = v; return *this; }
};
using LayerNormLSTMCellOptions = LayerNormCellOptions;
using LayerNormGRUCellOptions = LayerNormCellOptions;

// What both layer-norm cells share: parameters, initialisation, shape checks.
class LayerNormCellBase : public Module {
 public:
  // Registers the parameters listed at the top (G = gates * hidden_size) and
  // initialises them; throws loom::Error for a size <= 0 or eps <= 0.
  LayerNormCellBase(const LayerNormCellOptions& options, std::int64_t gates, bool norm_cell);

  // weight_ih, weight_hh, bias_ih, bias_hh from U(-1/sqrt(H), 1/sqrt(H));
  // layer-norm weights 1, biases 0.
  void reset_parameters();
  // "3, 4" (", bias=False" without bias; ", layer_norm_eps=..." when not 1e-5).
  std::string extra_repr() const override;
  const LayerNormCellOptions& options() const { return options_; }

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // (G, C), (G, H), (G), (G)
  Tensor layer_norm_ih_weight, layer_norm_ih_bias;  // (G)
  Tensor layer_norm_hh_weight, layer_norm_hh_bias;  // (G)
  Tensor layer_norm_c_weight, layer_norm_c_bias;    // (H), LSTM only (else undefined)

 protected:
  // input as (N, C); throws loom::Error for another rank or feature count.
  Tensor batched_input(const Tensor& input) const;
  // state as (N, H) (zeros when undefined); throws for a mismatched shape.
  Tensor batched_state(const Tensor& state, const Tensor& input, const Tensor& x, const char* what) const;
  // The recurrent weight to use: `weight_hh` when defined (checked to be
  // (G, H)), else the parameter weight_hh.
  Tensor recurrent_weight(const Tensor& override_weight) const;
  // LN(x W^T; ln_w, ln_b) + b for one projection (b may be undefined).
  Tensor normed_projection(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& ln_w,
                           const Tensor& ln_b) const;

  LayerNormCellOptions options_;
  std::int64_t gates_;
};

// The LayerNorm-LSTM cell above.
class LayerNormLSTMCellImpl : public LayerNormCellBase {
 public:
  using State = std::tuple<Tensor, Tensor>;  // (h, c)

  explicit LayerNormLSTMCellImpl(LayerNormCellOptions options);
  LayerNormLSTMCellImpl(std::int64_t input_size, std::int64_t hidden_size)
      : LayerNormLSTMCellImpl(LayerNormCellOptions(input_size, hidden_size)) {}

  // (h', c') from input and (h, c) (zeros when not given; both or neither).
  // `weight_hh`, when defined, replaces the parameter for this step (a
  // weight-dropped W_hh'; gradients flow through it to the parameter).
  State forward(const Tensor& input, const std::optional<State>& state = std::nullopt,
                const Tensor& weight_hh = Tensor()) const;
  std::string type() const override { return "LayerNormLSTMCell"; }
};
LOOM_MODULE(LayerNormLSTMCell);

// The LayerNorm-GRU cell above.
class LayerNormGRUCellImpl : public LayerNormCellBase {
 public:
  explicit LayerNormGRUCellImpl(LayerNormCellOptions options);
  LayerNormGRUCellImpl(std::int64_t input_size, std::int64_t hidden_size)
      : LayerNormGRUCellImpl(LayerNormCellOptions(input_size, hidden_size)) {}

  // h' from input and h (zeros when undefined); `weight_hh` as for the LSTM cell.
  Tensor forward(const Tensor& input, const Tensor& h = Tensor(), const Tensor& weight_hh = Tensor()) const;
  std::string type() const override { return "LayerNormGRUCell"; }
};
LOOM_MODULE(LayerNormGRUCell);

// ---- regularisers --------------------------------------------------------------------------

// A mask of `shape` with ones at probability `p_one` and zeros elsewhere, in
// `options`' dtype and device, from the default Philox generator (the same
// seed gives the same mask on CPU and CUDA). Throws loom::Error unless
// 0 <= p_one <= 1.
Tensor bernoulli_mask(const Shape& shape, double p_one, TensorOptions options = {});

// A zoneout mask for a state of `shape`: 1 (keep the previous value) with
// probability p. Throws loom::Error unless 0 <= p < 1.
Tensor zoneout_mask(const Shape& shape, double p, TensorOptions options = {});

// A keep-mask for weight drop or (locked) dropout: 1 (kept) with probability
// 1 - p. Throws loom::Error unless 0 <= p < 1.
Tensor keep_mask(const Shape& shape, double p, TensorOptions options = {});

// Zoneout of one step: training mask * prev + (1 - mask) * next (mask like
// prev, from zoneout_mask); eval (mask ignored, may be undefined)
// p * prev + (1 - p) * next; p == 0 returns next. Differentiable in prev and
// next. Throws loom::Error for p outside [0, 1), a training call with p > 0
// and no mask, or mismatched shapes.
Tensor zoneout(const Tensor& prev, const Tensor& next, double p, const Tensor& mask, bool training);

// weight * mask / (1 - p) (training with p > 0), else weight itself. mask has
// weight's shape (from keep_mask). Differentiable in weight. Throws
// loom::Error for p outside [0, 1) or a missing / mismatched mask.
Tensor weight_drop(const Tensor& weight, const Tensor& mask, double p, bool training);

// Locked dropout of a sequence x (L, N, F) time-major: x * mask / (1 - p)
// with one mask (N, F) for every step (training, p > 0), else x itself.
// Throws loom::Error for p outside [0, 1) or a mask that is not (N, F).
Tensor locked_dropout(const Tensor& x, const Tensor& mask, double p, bool training);

}  // namespace loom::nn
