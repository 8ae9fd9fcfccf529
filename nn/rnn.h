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
#pragma once

#include <cstdint>
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

  RNNOptions& num_layers(std::int64_t v) { num_layers_ = v; return *this; }
  RNNOptions& nonlinearity(std::string v) { nonlinearity_ = std::move(v); return *this; }
  RNNOptions& bias(bool v) { bias_ = v; return *this; }
  RNNOptions& batch_first(bool v) { batch_first_ = v; return *this; }
  RNNOptions& dropout(double v) { dropout_ = v; return *this; }
  RNNOptions& bidirectional(bool v) { bidirectional_ = v; return *this; }
  RNNOptions& proj_size(std::int64_t v) { proj_size_ = v; return *this; }
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
  // The layer loop over packed time-major rows x [R, C].
  Result run_layers(const Tensor& x, const std::vector<std::int64_t>& batch_sizes,
                    const Tensor& h0, const Tensor& c0) const;
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

}  // namespace loom::nn
