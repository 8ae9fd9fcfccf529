// The AWD-LSTM language model of examples/word_lm (Merity, Keskar & Socher
// 2017), with its regularisers:
//   embedding dropout (dropoute): whole rows of the embedding table are
//     dropped for the whole batch and the rest scaled by 1 / (1 - p);
//   locked dropout (one mask per sequence, shared by all steps) on the
//     embedding output (dropouti), between the LSTM layers (dropouth) and on
//     the last layer's output (dropout);
//   weight drop (DropConnect) on every layer's W_hh (wdrop), nn::LSTM's
//     weight_drop option: one mask per forward pass;
//   `layers` separate one-layer nn::LSTMs, sizes emb -> hidden -> ... -> emb,
//     the last one as wide as the embedding, so that the softmax weight IS the
//     embedding table (tied weights), with a bias of its own.
// Every dropout acts in training mode only; masks come from loom's Philox
// generator (manual_seed replays them).
//
// Shapes: words (T, N) Int64 -> logits (T, N, vocab); each layer's state
// (h, c) is (1, N, its size).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/error.h"
#include "nn/embedding.h"
#include "nn/research_cells.h"
#include "nn/rnn.h"

namespace loom::examples {

struct AwdLstmOptions {
  std::int64_t vocab = 0;     // words (>= 1)
  std::int64_t emb = 64;      // embedding size = the last layer's size (>= 1)
  std::int64_t hidden = 192;  // size of the layers before the last (>= 1)
  std::int64_t layers = 2;    // LSTM layers (>= 2)
  double dropout = 0.4;       // locked dropout on the last layer's output
  double dropouth = 0.25;     // locked dropout between layers
  double dropouti = 0.4;      // locked dropout on the embedding output
  double dropoute = 0.1;      // embedding dropout
  double wdrop = 0.3;         // weight drop on W_hh
};

using LstmState = nn::LSTMImpl::State;  // (h, c) of one layer

// What one forward pass gives the loss.
struct AwdLstmOutput {
  Tensor logits;                    // (T, N, vocab)
  Tensor raw_output;                // (T, N, emb): the last layer's output before dropout (TAR reads it)
  Tensor dropped;                   // (T, N, emb): the same after locked dropout (AR; the softmax reads it)
  std::vector<LstmState> states;    // each layer's state after the last step
};

class AwdLstmLM : public nn::Module {
 public:
  // Registers embed (uniform in [-0.1, 0.1], AWD-LSTM's start), rnn0 ..
  // rnn{layers-1} (PyTorch's LSTM initialisation) and decoder_bias (zeros).
  // Throws loom::Error for a size below its minimum or a probability outside [0, 1).
  explicit AwdLstmLM(const AwdLstmOptions& o) : o_(o) {
    LOOM_CHECK(o.vocab >= 1 && o.emb >= 1 && o.hidden >= 1 && o.layers >= 2,
               "AwdLstmLM: vocab, emb and hidden must be at least 1 and layers at least 2, got {}, {}, {}, {}",
               o.vocab, o.emb, o.hidden, o.layers);
    for (double p : {o.dropout, o.dropouth, o.dropouti, o.dropoute, o.wdrop})
      LOOM_CHECK(p >= 0 && p < 1, "AwdLstmLM: dropout probabilities must be in [0, 1), got {}", p);
    embed = register_module("embed", nn::Embedding(o.vocab, o.emb));
    {
      NoGradGuard no_grad;
      embed->weight.uniform_(-0.1, 0.1);
    }
    for (std::int64_t k = 0; k < o.layers; ++k) {
      const std::int64_t in = k == 0 ? o.emb : o.hidden, out = k + 1 == o.layers ? o.emb : o.hidden;
      rnns.push_back(
          register_module(fmt::format("rnn{}", k), nn::LSTM(nn::LSTMOptions(in, out).weight_drop(o.wdrop))));
    }
    decoder_bias = register_parameter("decoder_bias", zeros({o.vocab}));
  }

  // The embedding of `words` (T, N) -> (T, N, emb); in training with
  // dropoute > 0 through the table with whole rows dropped (one keep-mask
  // (vocab, 1) per call) and the kept rows scaled by 1 / (1 - dropoute).
  Tensor embedded(const Tensor& words) const {
    Tensor table = embed->weight;
    if (is_training() && o_.dropoute > 0)
      table = table * nn::keep_mask({table.size(0), 1}, o_.dropoute, TensorOptions().device(words.device())) /
              (1 - o_.dropoute);
    return embedding(table, words);
  }

  // Word ids (T, N) Int64 and each layer's state carried in (empty: zeros) ->
  // logits and what the regularisers need (see AwdLstmOutput).
  AwdLstmOutput forward(const Tensor& words, const std::vector<LstmState>& states) const {
    LOOM_CHECK(words.dim() == 2, "AwdLstmLM: words must be (T, N), got {} dimensions", words.dim());
    LOOM_CHECK(states.empty() || states.size() == rnns.size(), "AwdLstmLM: {} states for {} layers", states.size(),
               rnns.size());
    const auto batch = words.size(1);
    Tensor x = locked(embedded(words), o_.dropouti, batch);
    AwdLstmOutput f;
    for (std::size_t k = 0; k < rnns.size(); ++k) {
      auto [out, state] = rnns[k]->forward(x, states.empty() ? std::nullopt : std::optional<LstmState>(states[k]));
      f.states.push_back(state);
      if (k + 1 < rnns.size()) x = locked(out, o_.dropouth, batch);
      else f.raw_output = out;
    }
    f.dropped = locked(f.raw_output, o_.dropout, batch);
    f.logits = linear(f.dropped, embed->weight, decoder_bias);  // tied: the softmax weight is the table
    return f;
  }
  std::string type() const override { return "AwdLstmLM"; }

  nn::Embedding embed{nullptr};
  std::vector<nn::LSTM> rnns;
  Tensor decoder_bias;  // (vocab)

 private:
  // Locked dropout of x (T, N, F) with probability p in training, else x.
  Tensor locked(const Tensor& x, double p, std::int64_t batch) const {
    if (!is_training() || p == 0) return x;
    return nn::locked_dropout(x, nn::keep_mask({batch, x.size(2)}, p, TensorOptions().device(x.device())), p, true);
  }

  AwdLstmOptions o_;
};

// AWD-LSTM's training loss of one forward pass: `cross_entropy` (0-dim)
//   + alpha * mean(dropped^2) (AR, when alpha > 0)
//   + beta * mean((raw_t - raw_{t-1})^2) (TAR over t = 1 .. T-1, when beta > 0 and T > 1),
// raw and dropped (T, N, F). Differentiable in all three.
inline Tensor awd_loss(const Tensor& cross_entropy, const Tensor& raw, const Tensor& dropped, double alpha,
                       double beta) {
  Tensor loss = cross_entropy;
  if (alpha > 0) loss = loss + alpha * mean(square(dropped));
  const std::int64_t T = raw.size(0);
  if (beta > 0 && T > 1) loss = loss + beta * mean(square(raw.slice(0, 1, T) - raw.slice(0, 0, T - 1)));
  return loss;
}

// The states with their history cut: gradients stop at the span boundary.
inline std::vector<LstmState> detached(const std::vector<LstmState>& states) {
  std::vector<LstmState> out;
  for (const auto& [h, c] : states) out.emplace_back(h.detach(), c.detach());
  return out;
}

}  // namespace loom::examples
