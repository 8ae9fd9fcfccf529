// Long sequences on the CPU: an nn::LSTM over 10,000 steps, forward and
// backward, with
// - every output and gradient equal (float64) to a second implementation, the
//   same steps unrolled with nn::LSTMCell (more than 10^5 autograd nodes: the
//   engine and the graph's destruction must not recurse per node);
// - the memory the layer holds matching the README's formula for the fused
//   LSTM (host statistics of core/allocator.h): with R = T * N rows,
//   saved for backward: reserve 6RH (gates 4RH, h_prev RH, c_prev RH) + output RH;
//   peak of the forward: that + the workspace 4RH + 4NH (gate inputs of all
//   steps, then of one step's recurrent GEMM);
//   added by the backward: dL/dy RH + the workspace again 4RH + 4NH (gate
//   gradients 4RH) + dL/dx RC;
// and a plain chain of 3 x 10^5 autograd nodes differentiated and freed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "autograd/functions.h"
#include "core/allocator.h"
#include "nn/cells.h"
#include "nn/rnn.h"
#include "testing.h"

namespace loom::nn {
namespace {

// Host bytes for `elements` float64 values.
constexpr std::int64_t f64(std::int64_t elements) { return elements * 8; }

TEST(LongSequence, LstmOverTenThousandStepsMatchesCellsAndTheMemoryFormula) {
  const std::int64_t T = 10000, N = 2, C = 3, H = 4, R = T * N, G = 4 * H;
  LSTM lstm(LSTMOptions(C, H));
  lstm->to(kFloat64);
  Tensor x = testing::random_tensor({T, N, C}, 21).requires_grad_();
  Tensor g = testing::random_tensor({T, N, H}, 22);  // upstream gradient of the output

  // ---- fused layer, with the host memory it holds -----------------------------------
  const std::int64_t base = host_memory_stats().allocated;
  host_reset_peak_memory_stats();
  auto [out, state] = lstm->forward(x);
  const std::int64_t held = host_memory_stats().allocated - base;
  const std::int64_t forward_peak = host_memory_stats().max_allocated - base;
  Tensor loss = sum(out * g);  // out * g: one more R x H
  const std::int64_t before_backward = host_memory_stats().allocated;
  host_reset_peak_memory_stats();
  loss.backward();
  const std::int64_t backward_peak = host_memory_stats().max_allocated - before_backward;

  // The formulas of the header comment; everything of size N x H, G or G x C
  // (states, biases, weight gradients) is below `small`.
  const std::int64_t saved = f64(6 * R * H + R * H);
  const std::int64_t small = f64(16 * N * H + 4 * G * (C + H + 2));
  EXPECT_GE(held, saved);
  EXPECT_LE(held, saved + small) << "held " << held << " bytes after forward, formula " << saved;
  EXPECT_GE(forward_peak, saved + f64(4 * R * H));
  EXPECT_LE(forward_peak, saved + f64(4 * R * H) + small) << "forward peak " << forward_peak;
  // Backward starts with `saved` + out * g already held (not counted in its
  // peak); it adds dL/dy, the workspace and dL/dx, which becomes x.grad
  // (AccumulateGrad takes the buffer, no copy).
  const std::int64_t backward_new = f64(R * H + 4 * R * H + R * C);
  std::printf("[ memory   ] T = %lld, N = %lld, C = %lld, H = %lld: held after forward %lld bytes "
              "(formula %lld), forward peak %lld (formula %lld), backward peak %lld (formula %lld)\n",
              static_cast<long long>(T), static_cast<long long>(N), static_cast<long long>(C),
              static_cast<long long>(H), static_cast<long long>(held), static_cast<long long>(saved),
              static_cast<long long>(forward_peak), static_cast<long long>(saved + f64(4 * R * H)),
              static_cast<long long>(backward_peak), static_cast<long long>(backward_new));
  EXPECT_GE(backward_peak, backward_new);
  EXPECT_LE(backward_peak, backward_new + small) << "backward peak " << backward_peak;

  // ---- the same steps with LSTMCell ----------------------------------------------------
  LSTMCell cell(LSTMCellOptions(C, H));
  cell->to(kFloat64);
  StateDict weights;
  const char* names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
  std::vector<Tensor> src = lstm->layer_parameters(0, 0);
  for (std::size_t k = 0; k < src.size(); ++k) weights.insert(names[k], src[k]);
  cell->load_state_dict(weights);
  // Each step's input is its own leaf: x.select(0, t) (or split) would send
  // back a zero-padded [T, N, C] gradient per step, quadratic in T.
  std::vector<Tensor> xs;
  xs.reserve(T);
  for (std::int64_t t = 0; t < T; ++t) xs.push_back(x.detach().select(0, t).clone().requires_grad_());
  Tensor h, c;
  std::vector<Tensor> ys;
  ys.reserve(T);
  for (std::int64_t t = 0; t < T; ++t) {
    const Tensor& xt = xs[static_cast<std::size_t>(t)];
    std::tie(h, c) = t == 0 ? cell->forward(xt) : cell->forward(xt, LSTMCellImpl::State{h, c});
    ys.push_back(h);
  }
  Tensor out_cells = stack(ys, 0);
  ys.clear();
  sum(out_cells * g).backward();

  const double tol = 1e-12;
  testing::expect_all_close(out.to_vector<double>(), out_cells.to_vector<double>(), tol, tol, "output");
  testing::expect_all_close(std::get<0>(state).to_vector<double>(), h.to_vector<double>(), tol, tol, "h_n");
  testing::expect_all_close(std::get<1>(state).to_vector<double>(), c.to_vector<double>(), tol, tol, "c_n");
  std::vector<Tensor> dxs;
  for (const Tensor& xt : xs) dxs.push_back(xt.grad());
  testing::expect_all_close(x.grad().to_vector<double>(), stack(dxs, 0).to_vector<double>(), 1e-10,
                            1e-12, "dL/dx");
  std::vector<Tensor> cell_params = {cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh};
  for (std::size_t k = 0; k < src.size(); ++k)
    testing::expect_all_close(src[k].grad().to_vector<double>(), cell_params[k].grad().to_vector<double>(),
                              1e-10, 1e-10, names[k]);
  // The gradient reaches the first step (not vanished to exactly 0 in both).
  EXPECT_NE(x.grad().select(0, 0).abs().sum().item(), 0.0);
}

// y = x * a, 3 x 10^5 times: a chain of 3 x 10^5 nodes, differentiated
// (dy/dx = a^n) and then freed when y goes, in constant stack depth.
TEST(LongSequence, ChainOfThreeHundredThousandNodesBackwardAndFree) {
  const int n = 300000;
  const double a = 1.000001;
  Tensor x = tensor({0.5}, kFloat64).requires_grad_();
  {
    Tensor y = x;
    for (int i = 0; i < n; ++i) y = y * a;
    y.backward(Tensor(), /*retain_graph=*/true);
    EXPECT_NEAR(x.grad().item(), std::pow(a, n), 1e-9 * std::pow(a, n));
  }  // the whole chain is destroyed here
  x.set_grad(Tensor());
  Tensor y = x;  // and a second one, freed without backward
  for (int i = 0; i < n; ++i) y = y * a;
  EXPECT_NEAR(y.item(), 0.5 * std::pow(a, n), 1e-9);
}

}  // namespace
}  // namespace loom::nn
