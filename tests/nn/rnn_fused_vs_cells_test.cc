// The fused recurrent layers (one node per layer-direction, kernels/rnn.h)
// against a second, independent implementation composed from the cells
// (nn/cells.h, built from plain differentiable operations): outputs, final
// states and every gradient must agree in float64.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/engine.h"
#include "nn/cells.h"
#include "nn/rnn.h"
#include "testing.h"

namespace loom::nn {
namespace {

enum class Kind { Tanh, Relu, Lstm, Gru };

struct CellStack {
  Kind kind;
  std::vector<std::shared_ptr<Module>> cells;  // [layer * D + direction]

  // One step of cell `i`: returns (h, c) (c undefined except LSTM).
  std::pair<Tensor, Tensor> step(std::size_t i, const Tensor& x, const Tensor& h, const Tensor& c) const {
    switch (kind) {
      case Kind::Lstm: {
        auto [h2, c2] = static_cast<LSTMCellImpl&>(*cells[i]).forward(x, LSTMCellImpl::State{h, c});
        return {h2, c2};
      }
      case Kind::Gru: return {static_cast<GRUCellImpl&>(*cells[i]).forward(x, h), Tensor()};
      default: return {static_cast<RNNCellImpl&>(*cells[i]).forward(x, h), Tensor()};
    }
  }
};

// Builds cells holding copies of `m`'s weights for every layer and direction.
CellStack make_cells(Kind kind, const RNNBase& m) {
  CellStack s{kind, {}};
  const RNNOptions& o = m.options();
  std::int64_t D = o.bidirectional_ ? 2 : 1;
  for (std::int64_t layer = 0; layer < o.num_layers_; ++layer)
    for (std::int64_t dir = 0; dir < D; ++dir) {
      std::int64_t in = layer == 0 ? o.input_size_ : D * o.hidden_size_;
      std::shared_ptr<Module> cell;
      if (kind == Kind::Lstm) cell = std::make_shared<LSTMCellImpl>(LSTMCellOptions(in, o.hidden_size_).bias(o.bias_));
      else if (kind == Kind::Gru) cell = std::make_shared<GRUCellImpl>(GRUCellOptions(in, o.hidden_size_).bias(o.bias_));
      else cell = std::make_shared<RNNCellImpl>(RNNCellOptions(in, o.hidden_size_).bias(o.bias_).nonlinearity(
                      kind == Kind::Relu ? "relu" : "tanh"));
      cell->to(kFloat64);
      std::vector<Tensor> src = m.layer_parameters(layer, dir);  // weight_ih, weight_hh[, biases]
      const char* names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
      StateDict weights;
      for (std::size_t k = 0; k < src.size(); ++k) weights.insert(names[k], src[k]);
      cell->load_state_dict(weights);  // copies: the cells own separate tensors
      s.cells.push_back(cell);
    }
  return s;
}

// The cell-composed forward over (L, N, C): returns output, h_n, c_n.
std::vector<Tensor> run_cells(const CellStack& s, const RNNOptions& o, const Tensor& x, const Tensor& h0,
                              const Tensor& c0) {
  std::int64_t D = o.bidirectional_ ? 2 : 1, L = x.size(0);
  Tensor layer_input = x;
  std::vector<Tensor> hn, cn;
  for (std::int64_t layer = 0; layer < o.num_layers_; ++layer) {
    std::vector<Tensor> dir_outputs;
    for (std::int64_t dir = 0; dir < D; ++dir) {
      std::size_t i = static_cast<std::size_t>(layer * D + dir);
      Tensor h = h0.select(0, static_cast<std::int64_t>(i));
      Tensor c = c0.defined() ? c0.select(0, static_cast<std::int64_t>(i)) : Tensor();
      std::vector<Tensor> ys(static_cast<std::size_t>(L));
      for (std::int64_t k = 0; k < L; ++k) {
        std::int64_t t = dir == 0 ? k : L - 1 - k;
        std::tie(h, c) = s.step(i, layer_input.select(0, t), h, c);
        ys[static_cast<std::size_t>(t)] = h;
      }
      dir_outputs.push_back(stack(ys, 0));
      hn.push_back(h);
      if (c.defined()) cn.push_back(c);
    }
    layer_input = D == 1 ? dir_outputs[0] : cat(dir_outputs, 2);
  }
  return {layer_input, stack(hn, 0), cn.empty() ? Tensor() : stack(cn, 0)};
}

void compare_paths(Kind kind, RNNOptions o) {
  std::unique_ptr<RNNBase> m;
  if (kind == Kind::Lstm) m = std::make_unique<LSTMImpl>(o);
  else if (kind == Kind::Gru) m = std::make_unique<GRUImpl>(o);
  else m = std::make_unique<RNNImpl>(o.nonlinearity(kind == Kind::Relu ? "relu" : "tanh"));
  m->to(kFloat64);
  CellStack cells = make_cells(kind, *m);
  std::int64_t D = o.bidirectional_ ? 2 : 1, L = 6, N = 3;
  TensorOptions f64 = TensorOptions(kFloat64);
  Tensor x = randn({L, N, o.input_size_}, f64), h0 = randn({D * o.num_layers_, N, o.hidden_size_}, f64);
  Tensor c0 = kind == Kind::Lstm ? randn({D * o.num_layers_, N, o.hidden_size_}, f64) : Tensor();
  Tensor gy = randn({L, N, D * o.hidden_size_}, f64), gh = randn(h0.shape(), f64);

  auto grads_of = [&](const std::vector<Tensor>& outs, std::vector<Tensor> wrt) {
    Tensor loss = sum(outs[0] * gy) + sum(outs[1] * gh);
    if (outs[2].defined()) loss = loss + sum(outs[2] * outs[2]);
    return autograd::grad({loss}, wrt, {}, false);
  };

  Tensor xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  std::vector<Tensor> fused;
  if (kind == Kind::Lstm) {
    auto [y, st] = static_cast<LSTMImpl&>(*m).forward(xa, LSTMImpl::State{h0, c0});
    fused = {y, std::get<0>(st), std::get<1>(st)};
  } else if (kind == Kind::Gru) {
    auto [y, h] = static_cast<GRUImpl&>(*m).forward(xa, h0);
    fused = {y, h, Tensor()};
  } else {
    auto [y, h] = static_cast<RNNImpl&>(*m).forward(xa, h0);
    fused = {y, h, Tensor()};
  }
  std::vector<Tensor> composed = run_cells(cells, o, xb, h0, c0);
  for (int k = 0; k < 3; ++k) {
    if (!fused[k].defined()) continue;
    loom::testing::expect_all_close(fused[k].to_vector<double>(), composed[k].to_vector<double>(), 1e-10, 1e-12,
                              fmt::format("output {}", k));
  }
  std::vector<Tensor> wrt_a = {xa}, wrt_b = {xb};
  for (Tensor& p : m->parameters()) wrt_a.push_back(p);
  for (auto& cell : cells.cells)
    for (Tensor& p : cell->parameters()) wrt_b.push_back(p);
  std::vector<Tensor> ga = grads_of(fused, wrt_a), gb = grads_of(composed, wrt_b);
  ASSERT_EQ(ga.size(), gb.size());
  for (std::size_t k = 0; k < ga.size(); ++k)
    loom::testing::expect_all_close(ga[k].to_vector<double>(), gb[k].to_vector<double>(), 1e-9, 1e-11,
                              fmt::format("gradient {}", k));
}

TEST(RnnFusedVsCells, RnnTanhTwoLayersBidirectional) {
  compare_paths(Kind::Tanh, RNNOptions(3, 5).num_layers(2).bidirectional(true));
}
TEST(RnnFusedVsCells, RnnReluNoBias) { compare_paths(Kind::Relu, RNNOptions(3, 5).bias(false).num_layers(2)); }
TEST(RnnFusedVsCells, LstmTwoLayersBidirectional) {
  compare_paths(Kind::Lstm, RNNOptions(4, 3).num_layers(2).bidirectional(true));
}
TEST(RnnFusedVsCells, GruThreeLayers) { compare_paths(Kind::Gru, RNNOptions(2, 4).num_layers(3)); }
TEST(RnnFusedVsCells, GruBidirectionalNoBias) {
  compare_paths(Kind::Gru, RNNOptions(3, 4).bidirectional(true).bias(false));
}

}  // namespace
}  // namespace loom::nn
