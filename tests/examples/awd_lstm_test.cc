// examples/awd_lstm.h (the word_lm example's model): the tied softmax
// against a float64 computation by hand, the layer sizes, embedding dropout
// dropping whole words, locked dropout sharing its mask over time, the AR/TAR
// loss against values worked out by hand, and the constructor's checks.
#include <cmath>
#include <map>
#include <vector>

#include "core/generator.h"
#include "examples/awd_lstm.h"
#include "testing.h"

namespace loom::examples {
namespace {

AwdLstmOptions no_dropout(std::int64_t vocab, std::int64_t emb, std::int64_t hidden) {
  AwdLstmOptions o;
  o.vocab = vocab, o.emb = emb, o.hidden = hidden, o.layers = 2;
  o.dropout = o.dropouth = o.dropouti = o.dropoute = o.wdrop = 0;
  return o;
}

// Word ids (T, N) = (7 t + 3 n + 1) mod vocab.
Tensor words(std::int64_t T, std::int64_t N, std::int64_t vocab) {
  std::vector<std::int64_t> ids;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t n = 0; n < N; ++n) ids.push_back((7 * t + 3 * n + 1) % vocab);
  return tensor_int64(ids, {T, N});
}

TEST(AwdLstmLM, SoftmaxWeightIsTheEmbeddingTable) {
  manual_seed(3);
  AwdLstmLM model(no_dropout(7, 3, 5));
  {
    NoGradGuard no_grad;
    model.decoder_bias.uniform_(-1, 1);  // a bias that shows up in the logits
  }
  // One table, no decoder weight of its own: the bias (the module's own entry
  // comes first), embed.weight, 4 tensors per layer.
  const std::vector<std::string> keys = model.named_parameters().keys();
  EXPECT_EQ(keys, (std::vector<std::string>{"decoder_bias", "embed.weight", "rnn0.weight_ih_l0", "rnn0.weight_hh_l0",
                                            "rnn0.bias_ih_l0", "rnn0.bias_hh_l0", "rnn1.weight_ih_l0",
                                            "rnn1.weight_hh_l0", "rnn1.bias_ih_l0", "rnn1.bias_hh_l0"}));
  EXPECT_EQ(model.rnns[0]->named_parameters()["weight_hh_l0"].shape(), (Shape{20, 5}));  // emb 3 -> hidden 5
  EXPECT_EQ(model.rnns[1]->named_parameters()["weight_hh_l0"].shape(), (Shape{12, 3}));  // hidden 5 -> emb 3
  model.eval();
  const Tensor w = words(4, 2, 7);
  AwdLstmOutput f = model.forward(w, {});
  ASSERT_EQ(f.logits.shape(), (Shape{4, 2, 7}));
  ASSERT_EQ(f.states.size(), 2u);
  // The last layer's output is the two LSTMs run by hand on the table's rows.
  auto [h0, s0] = model.rnns[0]->forward(embedding(model.embed->weight, w));
  auto [h1, s1] = model.rnns[1]->forward(h0);
  EXPECT_EQ(f.raw_output.to_vector<double>(), h1.to_vector<double>());
  EXPECT_EQ(f.dropped.to_vector<double>(), h1.to_vector<double>());  // eval: no dropout
  // logits[t, n, v] = sum_e out[t, n, e] table[v, e] + bias[v], in float64.
  const auto out = h1.to_vector<double>(), table = model.embed->weight.to_vector<double>(),
             bias = model.decoder_bias.to_vector<double>(), logits = f.logits.to_vector<double>();
  for (std::int64_t i = 0; i < 8; ++i)
    for (std::int64_t v = 0; v < 7; ++v) {
      double expected = bias[static_cast<std::size_t>(v)];
      for (std::int64_t e = 0; e < 3; ++e)
        expected += out[static_cast<std::size_t>(i * 3 + e)] * table[static_cast<std::size_t>(v * 3 + e)];
      EXPECT_NEAR(logits[static_cast<std::size_t>(i * 7 + v)], expected, 1e-6) << "position " << i << ", word " << v;
    }
}

TEST(AwdLstmLM, EmbeddingDropoutDropsWholeWords) {
  manual_seed(5);
  AwdLstmOptions o = no_dropout(200, 4, 8);
  o.dropoute = 0.5;
  AwdLstmLM model(o);
  const Tensor w = words(200, 2, 200);
  const auto ids = w.to_vector<std::int64_t>();
  const auto table = model.embed->weight.to_vector<double>();
  const auto rows = model.embedded(w).to_vector<double>();  // training mode
  // Each position's row is 0 or table[id] / (1 - 0.5); a word is dropped
  // everywhere or nowhere.
  std::map<std::int64_t, bool> dropped;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    bool zero = true, scaled = true;
    for (std::size_t e = 0; e < 4; ++e) {
      const double r = rows[i * 4 + e], t = table[static_cast<std::size_t>(ids[i]) * 4 + e];
      zero = zero && r == 0;
      scaled = scaled && std::abs(r - 2 * t) <= 1e-6;
    }
    ASSERT_TRUE(zero != scaled) << "position " << i << " is neither dropped nor kept and rescaled";
    auto [it, first] = dropped.emplace(ids[i], zero);
    EXPECT_EQ(it->second, zero) << "word " << ids[i] << " dropped at one position and kept at another";
  }
  // 200 distinct words (7 t + 1 over t < 200 covers them all, 7 being prime to
  // 200): about half dropped (sd 7).
  std::int64_t n_dropped = 0;
  for (const auto& [id, d] : dropped) n_dropped += d ? 1 : 0;
  EXPECT_EQ(dropped.size(), 200u);
  EXPECT_GT(n_dropped, 65);
  EXPECT_LT(n_dropped, 135);
  // Eval mode: the table itself.
  model.eval();
  const auto plain = model.embedded(w).to_vector<double>();
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (std::size_t e = 0; e < 4; ++e)
      ASSERT_EQ(plain[i * 4 + e], table[static_cast<std::size_t>(ids[i]) * 4 + e]);
}

TEST(AwdLstmLM, OutputDropoutIsLockedOverTime) {
  manual_seed(9);
  AwdLstmOptions o = no_dropout(11, 6, 5);
  o.dropout = 0.5;
  AwdLstmLM model(o);
  AwdLstmOutput f = model.forward(words(9, 3, 11), {});
  const auto raw = f.raw_output.to_vector<double>(), dropped = f.dropped.to_vector<double>();
  // dropped[t, n, e] = m[n, e] * raw[t, n, e] / 0.5, the same m for every t.
  std::int64_t kept = 0;
  for (std::size_t ne = 0; ne < 18; ++ne) {
    const bool keep = dropped[ne] != 0;
    kept += keep ? 1 : 0;
    for (std::size_t t = 0; t < 9; ++t)
      EXPECT_NEAR(dropped[t * 18 + ne], keep ? 2 * raw[t * 18 + ne] : 0.0, 1e-6) << "t " << t << ", unit " << ne;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 18);
}

TEST(AwdLstmLM, LossAddsArAndTar) {
  // raw (T 3, N 1, F 2) = [[1, 2], [2, 0], [4, 1]]: differences [1, -2], [2, 1],
  // mean of squares (1 + 4 + 4 + 1) / 4 = 2.5. dropped = [[0, 2], [4, 0], [0, 2]]:
  // mean of squares (4 + 16 + 4) / 6 = 4. Loss 1.5 + 2 * 4 + 3 * 2.5 = 17.
  const Tensor ce = tensor({1.5}).reshape({});
  const Tensor raw = tensor({1, 2, 2, 0, 4, 1}).reshape({3, 1, 2});
  const Tensor dropped = tensor({0, 2, 4, 0, 0, 2}).reshape({3, 1, 2});
  EXPECT_NEAR(awd_loss(ce, raw, dropped, 2, 3).item(), 17.0, 1e-5);
  EXPECT_NEAR(awd_loss(ce, raw, dropped, 0, 3).item(), 9.0, 1e-5);
  EXPECT_NEAR(awd_loss(ce, raw, dropped, 2, 0).item(), 9.5, 1e-5);
  // One step: no TAR term.
  EXPECT_NEAR(awd_loss(ce, raw.slice(0, 0, 1), dropped.slice(0, 0, 1), 0, 3).item(), 1.5, 1e-6);
}

TEST(AwdLstmLM, RejectsBadOptions) {
  AwdLstmOptions o = no_dropout(5, 2, 3);
  o.layers = 1;
  testing::expect_error_containing([&] { AwdLstmLM m(o); }, "layers at least 2, got 5, 2, 3, 1");
  o.layers = 2;
  o.wdrop = 1;
  testing::expect_error_containing([&] { AwdLstmLM m(o); }, "dropout probabilities must be in [0, 1), got 1");
  AwdLstmLM ok(no_dropout(5, 2, 3));
  testing::expect_error_containing([&] { (void)ok.forward(tensor_int64({1, 2, 3}, {3}), {}); },
                                   "words must be (T, N), got 1 dimensions");
}

}  // namespace
}  // namespace loom::examples
