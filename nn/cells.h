// nn::RNNCell, nn::LSTMCell and nn::GRUCell: one step of a recurrent layer,
// as torch.nn.RNNCell/LSTMCell/GRUCell, written only from loom's plain
// differentiable operations (linear, add, mul, sigmoid, tanh, relu, chunk).
//
// They are the readable version of the recurrent math (read cells.cc to learn
// what the fused kernels compute) and an independent second implementation to
// test the fused layers against. For whole sequences use nn::RNN/LSTM/GRU.
//
// Shapes (N batch, C = input_size, H = hidden_size, G gate rows):
//   input  (N, C), or (C) unbatched
//   h, c   (N, H), or (H) unbatched; zeros when not given
//   output h' (and c') of the same shape as h
// Parameters, in PyTorch's names, order and layouts:
//   weight_ih (G, C), weight_hh (G, H), bias_ih (G), bias_hh (G) (when bias)
// with G = H (RNN), 4H (LSTM: gates i, f, g, o), 3H (GRU: gates r, z, n); all
// start U(-sqrt(k), sqrt(k)), k = 1 / hidden_size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom::nn {

// Options of RNNCell, with PyTorch's defaults:
//   RNNCell cell(RNNCellOptions(10, 20).nonlinearity("relu"));
struct RNNCellOptions {
  RNNCellOptions(std::int64_t input_size, std::int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  std::int64_t input_size_;            // features of the input (required)
  std::int64_t hidden_size_;           // features of the hidden state (required)
  bool bias_ = true;                   // b_ih and b_hh
  std::string nonlinearity_ = "tanh";  // "tanh" or "relu"

  RNNCellOptions& bias(bool v) { bias_ = v; return *this; }
  RNNCellOptions& nonlinearity(std::string v) { nonlinearity_ = std::move(v); return *this; }
};

// Options of LSTMCell and GRUCell, with PyTorch's defaults.
struct LSTMCellOptions {
  LSTMCellOptions(std::int64_t input_size, std::int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  std::int64_t input_size_;   // features of the input (required)
  std::int64_t hidden_size_;  // features of the hidden state (required)
  bool bias_ = true;          // b_ih and b_hh

  LSTMCellOptions& bias(bool v) { bias_ = v; return *this; }
};
using GRUCellOptions = LSTMCellOptions;

// What the three cells share: parameters, initialisation, shape checks.
class RNNCellBase : public Module {
 public:
  // Registers weight_ih (G, C), weight_hh (G, H) and, when bias, bias_ih and
  // bias_hh (G), with G = gates * hidden_size, and initialises them.
  RNNCellBase(std::int64_t input_size, std::int64_t hidden_size, bool bias, std::int64_t gates);

  // Re-draws every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
  void reset_parameters();
  // "3, 4" (PyTorch adds ", bias=False" when there is no bias).
  std::string extra_repr() const override;

  std::int64_t input_size() const { return input_size_; }
  std::int64_t hidden_size() const { return hidden_size_; }

  Tensor weight_ih;  // (G, input_size)
  Tensor weight_hh;  // (G, hidden_size)
  Tensor bias_ih;    // (G), undefined without bias
  Tensor bias_hh;    // (G), undefined without bias

 protected:
  // Checks input (1-D or 2-D, C features) and returns it as (N, C).
  Tensor batched_input(const Tensor& input) const;
  // The state for a batched input x (N, C): zeros (N, H) when `state` is
  // undefined, else `state` (made 2-D for an unbatched input) after PyTorch's
  // batch and size checks. `label` is PyTorch's "hidden{label}" in messages.
  Tensor batched_state(const Tensor& state, const Tensor& input, const Tensor& x, int label) const;

  std::int64_t input_size_;
  std::int64_t hidden_size_;
};

// Elman cell: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu.
class RNNCellImpl : public RNNCellBase {
 public:
  // Throws loom::Error "Unknown nonlinearity '{x}'. Select from 'tanh' or
  // 'relu'." for any other nonlinearity.
  explicit RNNCellImpl(RNNCellOptions options);
  RNNCellImpl(std::int64_t input_size, std::int64_t hidden_size)
      : RNNCellImpl(RNNCellOptions(input_size, hidden_size)) {}

  // h' from input and h (zeros when undefined).
  Tensor forward(const Tensor& input, const Tensor& h = Tensor()) const;

  const RNNCellOptions& options() const { return options_; }
  std::string type() const override { return "RNNCell"; }
  // "3, 4", plus ", nonlinearity=relu" for relu.
  std::string extra_repr() const override;

 private:
  RNNCellOptions options_;
};

// LSTM cell, gates i, f, g, o (rows [0, H), [H, 2H), [2H, 3H), [3H, 4H)):
//   i = sigmoid(.), f = sigmoid(.), g = tanh(.), o = sigmoid(.) of
//   x W_ih^T + b_ih + h W_hh^T + b_hh;  c' = f * c + i * g;  h' = o * tanh(c').
class LSTMCellImpl : public RNNCellBase {
 public:
  using State = std::tuple<Tensor, Tensor>;  // (h, c)

  explicit LSTMCellImpl(LSTMCellOptions options);
  LSTMCellImpl(std::int64_t input_size, std::int64_t hidden_size)
      : LSTMCellImpl(LSTMCellOptions(input_size, hidden_size)) {}

  // (h', c') from input and (h, c) (zeros when not given). A given state needs
  // both h and c defined, as PyTorch; one alone throws loom::Error.
  State forward(const Tensor& input, const std::optional<State>& state = std::nullopt) const;

  const LSTMCellOptions& options() const { return options_; }
  std::string type() const override { return "LSTMCell"; }

 private:
  LSTMCellOptions options_;
};

// GRU cell, gates r, z, n:
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
class GRUCellImpl : public RNNCellBase {
 public:
  explicit GRUCellImpl(GRUCellOptions options);
  GRUCellImpl(std::int64_t input_size, std::int64_t hidden_size)
      : GRUCellImpl(GRUCellOptions(input_size, hidden_size)) {}

  // h' from input and h (zeros when undefined).
  Tensor forward(const Tensor& input, const Tensor& h = Tensor()) const;

  const GRUCellOptions& options() const { return options_; }
  std::string type() const override { return "GRUCell"; }

 private:
  GRUCellOptions options_;
};

// The holders (libtorch's TORCH_MODULE): nn::RNNCell m(opts); m->forward(x).
LOOM_MODULE(RNNCell);
LOOM_MODULE(LSTMCell);
LOOM_MODULE(GRUCell);

}  // namespace loom::nn
