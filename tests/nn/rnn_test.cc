// nn::RNN / LSTM / GRU: PyTorch's contract (names, shapes, printing, errors),
// gradcheck of the fused layers in float64, and dropout between layers.
// Numerical agreement with PyTorch itself is checked by loom-rnn-check over
// the generated reference cases (tests/rnn_check.cmake).
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/packed_sequence.h"
#include "nn/rnn.h"
#include "testing.h"

namespace loom::nn {
namespace {

TEST(RnnModule, ParameterNamesAndShapesMatchPyTorch) {
  // From torch 1.13: nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5).named_parameters()
  std::vector<std::pair<std::string, Shape>> expected;
  for (std::string layer : {"l0", "l1"})
    for (std::string dir : {"", "_reverse"}) {
      std::string s = "_" + layer + dir;
      expected.push_back({"weight_ih" + s, {80, 10}});
      expected.push_back({"weight_hh" + s, {80, 5}});
      expected.push_back({"bias_ih" + s, {80}});
      expected.push_back({"bias_hh" + s, {80}});
      expected.push_back({"weight_hr" + s, {5, 20}});
    }
  LSTM lstm(LSTMOptions(10, 20).num_layers(2).bidirectional(true).proj_size(5));
  auto named = lstm->named_parameters();
  ASSERT_EQ(named.size(), expected.size());
  for (std::size_t i = 0; i < named.size(); ++i) {
    EXPECT_EQ(named[i].first, expected[i].first);
    EXPECT_EQ(named[i].second.shape(), expected[i].second) << named[i].first;
  }
}

TEST(RnnModule, PrintsLikePyTorch) {
  // Strings printed by torch 1.13 for the same modules.
  EXPECT_EQ(LSTM(LSTMOptions(10, 20).num_layers(2).bidirectional(true).proj_size(5))->str(),
            "LSTM(10, 20, proj_size=5, num_layers=2, bidirectional=True)");
  EXPECT_EQ(GRU(GRUOptions(3, 4).bias(false).batch_first(true).dropout(0.25))->str(),
            "GRU(3, 4, bias=False, batch_first=True, dropout=0.25)");
  EXPECT_EQ(RNN(RNNOptions(3, 4).nonlinearity("relu"))->str(), "RNN(3, 4)");
}

TEST(RnnModule, InitialisationIsUniformWithinOneOverSqrtHidden) {
  // A fixed seed: with whatever generator state earlier tests leave, a
  // 64-element bias misses the outer 10% of its range about once in 900 draws.
  manual_seed(0);
  LSTM lstm(LSTMOptions(7, 16).num_layers(2));
  double bound = 0.25;
  for (auto& [name, p] : lstm->named_parameters()) {
    std::vector<double> v = p.to_vector<double>();
    double lo = 1, hi = -1, mean = 0;
    for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x), mean += x;
    mean /= v.size();
    EXPECT_GE(lo, -bound) << name;
    EXPECT_LE(hi, bound) << name;
    EXPECT_LT(lo, -0.8 * bound) << name;  // the range is actually used
    EXPECT_GT(hi, 0.8 * bound) << name;
    EXPECT_NEAR(mean, 0.0, 4 * bound / std::sqrt(3.0 * v.size())) << name;
  }
}

TEST(RnnModule, OutputShapesForEveryLayout) {
  LSTM lstm(LSTMOptions(3, 4).num_layers(2).bidirectional(true).proj_size(2));
  auto [out, state] = lstm->forward(randn({5, 6, 3}));
  EXPECT_EQ(out.shape(), (Shape{5, 6, 4}));
  EXPECT_EQ(std::get<0>(state).shape(), (Shape{4, 6, 2}));
  EXPECT_EQ(std::get<1>(state).shape(), (Shape{4, 6, 4}));
  auto [out_u, state_u] = lstm->forward(randn({5, 3}));
  EXPECT_EQ(out_u.shape(), (Shape{5, 4}));
  EXPECT_EQ(std::get<0>(state_u).shape(), (Shape{4, 2}));

  GRU gru(GRUOptions(3, 4).batch_first(true));
  auto [out_b, h_b] = gru->forward(randn({6, 5, 3}));
  EXPECT_EQ(out_b.shape(), (Shape{6, 5, 4}));
  EXPECT_EQ(h_b.shape(), (Shape{1, 6, 4}));
}

TEST(RnnModule, UnbatchedEqualsBatchOfOne) {
  GRU gru(GRUOptions(3, 4).num_layers(2).bidirectional(true));
  Tensor x = randn({5, 3});
  Tensor h = randn({4, 4});
  auto [out_u, h_u] = gru->forward(x, h);
  auto [out_b, h_b] = gru->forward(x.unsqueeze(1), h.unsqueeze(1));
  loom::testing::expect_all_close(out_u.to_vector<double>(), out_b.squeeze(1).to_vector<double>(), 0, 0);
  loom::testing::expect_all_close(h_u.to_vector<double>(), h_b.squeeze(1).to_vector<double>(), 0, 0);
}

TEST(RnnModule, BatchFirstIsATranspose) {
  LSTM a(LSTMOptions(3, 4)), b(LSTMOptions(3, 4).batch_first(true));
  b->load_state_dict(a->state_dict());
  Tensor x = randn({5, 2, 3});
  auto [ya, sa] = a->forward(x);
  auto [yb, sb] = b->forward(x.transpose(0, 1).contiguous());
  loom::testing::expect_all_close(ya.to_vector<double>(), yb.transpose(0, 1).to_vector<double>(), 0, 0);
}

// gradcheck of a whole module in float64 on `device` with respect to input,
// states and every parameter.
void gradcheck_module(RNNBase& m, bool lstm, Shape input_shape, bool with_state,
                      Device device = kCPU) {
  m.to(kFloat64);
  m.to(device);
  TensorOptions o = TensorOptions(kFloat64).device(device).requires_grad();
  std::int64_t D = m.options().bidirectional_ ? 2 : 1;
  std::int64_t Hout = m.options().proj_size_ > 0 ? m.options().proj_size_ : m.options().hidden_size_;
  std::int64_t N = input_shape.size() == 3 ? input_shape[m.options().batch_first_ ? 0 : 1] : -1;
  std::vector<Tensor> inputs = {randn(input_shape, o)};
  if (with_state) {
    Shape hs = {D * m.options().num_layers_, N, Hout}, cs = {D * m.options().num_layers_, N, m.options().hidden_size_};
    inputs.push_back(randn(hs, o));
    if (lstm) inputs.push_back(randn(cs, o));
  }
  for (Tensor& p : m.parameters()) inputs.push_back(p);
  auto f = [&](const std::vector<Tensor>& xs) -> std::vector<Tensor> {
    if (lstm) {
      std::optional<LSTMImpl::State> s;
      if (with_state) s = LSTMImpl::State{xs[1], xs[2]};
      auto [y, st] = static_cast<LSTMImpl&>(m).forward(xs[0], s);
      return {y, std::get<0>(st), std::get<1>(st)};
    }
    Tensor h = with_state ? xs[1] : Tensor();
    auto [y, hn] = dynamic_cast<GRUImpl*>(&m) ? static_cast<GRUImpl&>(m).forward(xs[0], h)
                                          : static_cast<RNNImpl&>(m).forward(xs[0], h);
    return {y, hn};
  };
  GradcheckResult r = gradcheck(f, inputs, {1e-6, 1e-7, 1e-5});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(RnnGradcheck, RnnTanhTwoLayersBidirectional) {
  RNN m(RNNOptions(3, 4).num_layers(2).bidirectional(true));
  gradcheck_module(m, false, {4, 2, 3}, true);
}
TEST(RnnGradcheck, RnnReluNoBiasBatchFirst) {
  RNN m(RNNOptions(3, 4).nonlinearity("relu").bias(false).batch_first(true));
  gradcheck_module(m, false, {2, 4, 3}, true);
}
TEST(RnnGradcheck, LstmTwoLayersBidirectional) {
  LSTM m(LSTMOptions(3, 4).num_layers(2).bidirectional(true));
  gradcheck_module(m, true, {3, 2, 3}, true);
}
TEST(RnnGradcheck, LstmProjectionWithoutStates) {
  LSTM m(LSTMOptions(3, 4).proj_size(2).num_layers(2));
  gradcheck_module(m, true, {4, 2, 3}, false);
}
TEST(RnnGradcheck, GruThreeLayersUnbatched) {
  GRU m(GRUOptions(3, 4).num_layers(3));
  gradcheck_module(m, false, {4, 3}, false);
}
void gradcheck_gru_bidirectional_packed(Device device) {
  GRU m(GRUOptions(2, 3).bidirectional(true));
  m->to(kFloat64);
  m->to(device);
  TensorOptions o = TensorOptions(kFloat64).device(device).requires_grad();
  std::vector<Tensor> inputs = {randn({4, 3, 2}, o), randn({2, 3, 3}, o)};
  for (Tensor& p : m->parameters()) inputs.push_back(p);
  auto f = [&](const std::vector<Tensor>& xs) -> std::vector<Tensor> {
    PackedSequence seq = pack_padded_sequence(xs[0], std::vector<std::int64_t>{2, 4, 1}, false, false);
    auto [out, h] = m->forward(seq, xs[1]);
    return {std::get<0>(pad_packed_sequence(out)), h};
  };
  GradcheckResult r = gradcheck(f, inputs, {1e-6, 1e-7, 1e-5});
  EXPECT_TRUE(r.ok) << r.message;
}
TEST(RnnGradcheck, GruBidirectionalPacked) { gradcheck_gru_bidirectional_packed(kCPU); }

// The same checks with the CUDA kernels (central differences of the CUDA
// forward against the CUDA backward, float64).
TEST(RnnGradcheckCuda, RnnTanhTwoLayersBidirectional) {
  LOOM_SKIP_WITHOUT_CUDA();
  RNN m(RNNOptions(3, 4).num_layers(2).bidirectional(true));
  gradcheck_module(m, false, {4, 2, 3}, true, kCUDA);
}
TEST(RnnGradcheckCuda, RnnReluNoBiasBatchFirst) {
  LOOM_SKIP_WITHOUT_CUDA();
  RNN m(RNNOptions(3, 4).nonlinearity("relu").bias(false).batch_first(true));
  gradcheck_module(m, false, {2, 4, 3}, true, kCUDA);
}
TEST(RnnGradcheckCuda, LstmTwoLayersBidirectional) {
  LOOM_SKIP_WITHOUT_CUDA();
  LSTM m(LSTMOptions(3, 4).num_layers(2).bidirectional(true));
  gradcheck_module(m, true, {3, 2, 3}, true, kCUDA);
}
TEST(RnnGradcheckCuda, LstmProjectionWithoutStates) {
  LOOM_SKIP_WITHOUT_CUDA();
  LSTM m(LSTMOptions(3, 4).proj_size(2).num_layers(2));
  gradcheck_module(m, true, {4, 2, 3}, false, kCUDA);
}
TEST(RnnGradcheckCuda, GruThreeLayersUnbatched) {
  LOOM_SKIP_WITHOUT_CUDA();
  GRU m(GRUOptions(3, 4).num_layers(3));
  gradcheck_module(m, false, {4, 3}, false, kCUDA);
}
TEST(RnnGradcheckCuda, GruBidirectionalPacked) {
  LOOM_SKIP_WITHOUT_CUDA();
  gradcheck_gru_bidirectional_packed(kCUDA);
}

TEST(RnnModule, PackedMatchesRunningEachSequenceAlone) {
  // A packed batch must equal each sequence run alone (no computing on padding).
  LSTM m(LSTMOptions(2, 3).bidirectional(true).num_layers(2));
  m->to(kFloat64);
  std::vector<std::int64_t> lengths = {3, 5, 1};
  Tensor padded = randn({5, 3, 2}, kFloat64);
  PackedSequence seq = pack_padded_sequence(padded, lengths, false, false);
  auto [out, state] = m->forward(seq);
  Tensor out_padded = std::get<0>(pad_packed_sequence(out));
  for (std::int64_t n = 0; n < 3; ++n) {
    Tensor alone = padded.narrow(0, 0, lengths[n]).select(1, n).contiguous();
    auto [y, s] = m->forward(alone);
    loom::testing::expect_all_close(out_padded.narrow(0, 0, lengths[n]).select(1, n).to_vector<double>(),
                                    y.to_vector<double>(), 1e-12, 1e-12, "output");
    loom::testing::expect_all_close(std::get<0>(state).select(1, n).to_vector<double>(),
                                    std::get<0>(s).to_vector<double>(), 1e-12, 1e-12, "h_n");
    loom::testing::expect_all_close(std::get<1>(state).select(1, n).to_vector<double>(),
                                    std::get<1>(s).to_vector<double>(), 1e-12, 1e-12, "c_n");
  }
}

TEST(RnnErrors, BadOptions) {
  testing::expect_error_containing([] { LSTM(LSTMOptions(3, 4).proj_size(4)); }, "proj_size has to be smaller than hidden_size");
  testing::expect_error_containing([] { GRU(GRUOptions(3, 4).proj_size(2)); }, "proj_size argument is only supported for LSTM, not RNN or GRU");
  testing::expect_error_containing([] { RNN(RNNOptions(3, 4).proj_size(2)); }, "proj_size argument is only supported for LSTM");
  testing::expect_error_containing([] { LSTM(LSTMOptions(3, 4).dropout(1.5)); }, "dropout should be a number in range [0, 1]");
  testing::expect_error_containing([] { LSTM(LSTMOptions(3, 4).dropout(-0.1)); }, "dropout should be a number in range [0, 1]");
  testing::expect_error_containing([] { LSTM(LSTMOptions(3, 0)); }, "hidden_size must be greater than zero");
  testing::expect_error_containing([] { LSTM(LSTMOptions(0, 3)); }, "input_size must be greater than zero");
  testing::expect_error_containing([] { LSTM(LSTMOptions(3, 4).num_layers(0)); }, "num_layers must be greater than zero");
  testing::expect_error_containing([] { RNN(RNNOptions(3, 4).nonlinearity("gelu")); },
               "Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'.");
  testing::expect_error_containing([] { LSTM(LSTMOptions(3, 4).proj_size(-1)); }, "proj_size should be a positive integer or zero");
}

TEST(RnnErrors, BadInputsAndStates) {
  LSTM lstm(LSTMOptions(3, 4).num_layers(2));
  testing::expect_error_containing([&] { lstm->forward(randn({5, 2, 7})); }, "input.size(-1) must be equal to input_size. Expected 3, got 7");
  testing::expect_error_containing([&] { lstm->forward(randn({5})); }, "LSTM: Expected input to be 2D or 3D, got 1D instead");
  testing::expect_error_containing([&] { lstm->forward(randn({5, 2, 3}), LSTMImpl::State{randn({2, 5, 4}), randn({2, 2, 4})}); },
               "Expected hidden[0] size (2, 2, 4), got [2, 5, 4]");
  testing::expect_error_containing([&] { lstm->forward(randn({5, 2, 3}), LSTMImpl::State{randn({2, 2, 4}), randn({1, 2, 4})}); },
               "Expected hidden[1] size (2, 2, 4), got [1, 2, 4]");
  testing::expect_error_containing([&] { lstm->forward(randn({5, 3}), LSTMImpl::State{randn({2, 1, 4}), randn({2, 1, 4})}); },
               "For unbatched 2-D input, hidden[0] should also be 2-D but got 3-D tensor");
  GRU gru(GRUOptions(3, 4));
  testing::expect_error_containing([&] { gru->forward(randn({5, 2, 3}), randn({1, 3, 4})); }, "Expected hidden size (1, 2, 4), got [1, 3, 4]");
  testing::expect_error_containing([&] { gru->forward(randn({5, 2, 3}, kFloat64)); }, "dtype");
  testing::expect_error_containing([&] { gru->forward(randn({5, 2, 3}), randn({1, 2, 4}, kFloat64)); }, "dtype");
}

TEST(RnnDropout, SameSeedSameOutputEvalTurnsItOff) {
  LSTM m(LSTMOptions(3, 8).num_layers(3).dropout(0.5));
  Tensor x = randn({6, 4, 3});
  manual_seed(7);
  Tensor a = std::get<0>(m->forward(x));
  manual_seed(7);
  Tensor b = std::get<0>(m->forward(x));
  manual_seed(8);
  Tensor c = std::get<0>(m->forward(x));
  loom::testing::expect_all_close(a.to_vector<double>(), b.to_vector<double>(), 0, 0, "same seed");
  EXPECT_NE(a.to_vector<double>(), c.to_vector<double>());

  m->eval();
  Tensor e1 = std::get<0>(m->forward(x));
  LSTM plain(LSTMOptions(3, 8).num_layers(3));
  plain->load_state_dict(m->state_dict());
  Tensor e2 = std::get<0>(plain->forward(x));
  loom::testing::expect_all_close(e1.to_vector<double>(), e2.to_vector<double>(), 0, 0, "eval has no dropout");
  EXPECT_NE(a.to_vector<double>(), e1.to_vector<double>());
}

TEST(RnnDropout, ProbabilityOneFeedsZerosToTheNextLayer) {
  // With p = 1 the second layer sees only zeros: its output must equal a
  // one-layer RNN (with layer 1's weights) run on a zero input.
  RNN m(RNNOptions(3, 4).num_layers(2).dropout(1.0));
  Tensor x = randn({5, 2, 3});
  Tensor y = std::get<0>(m->forward(x));
  RNN top(RNNOptions(4, 4));
  StateDict sd;
  for (std::string n : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"})
    sd.insert(n + "_l0", m->named_parameter(n + "_l1"));
  top->load_state_dict(sd);
  Tensor expected = std::get<0>(top->forward(zeros({5, 2, 4})));
  loom::testing::expect_all_close(y.to_vector<double>(), expected.to_vector<double>(), 1e-6, 1e-7);
}

}  // namespace
}  // namespace loom::nn
