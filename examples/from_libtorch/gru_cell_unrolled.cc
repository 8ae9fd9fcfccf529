// A GRUCell unrolled by hand over a sequence, checked against nn::GRU with the
// same weights, spelled as a libtorch user spells it (modulo namespace). Built against the installed
// package and run by the install_and_build_consumer test: exits 0 when the
// outputs, the final state and every gradient agree.
#include <loom/loom.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace nn = loom::nn;
using loom::Tensor;

int main() {
  loom::manual_seed(42);
  const std::int64_t T = 7, N = 3, C = 4, H = 5;
  nn::GRU gru(nn::GRUOptions(C, H));
  nn::GRUCell cell(nn::GRUCellOptions(C, H));
  {
    loom::NoGradGuard no_grad;  // copying weights between modules
    auto params = gru->named_parameters();
    cell->weight_ih.copy_(params["weight_ih_l0"]);
    cell->weight_hh.copy_(params["weight_hh_l0"]);
    cell->bias_ih.copy_(params["bias_ih_l0"]);
    cell->bias_hh.copy_(params["bias_hh_l0"]);
  }

  Tensor x = loom::randn({T, N, C});
  Tensor h0 = loom::randn({1, N, H});

  // nn::GRU over the whole sequence.
  auto [out, h_n] = gru->forward(x, h0);

  // The cell, one step at a time.
  Tensor h = h0[0];
  std::vector<Tensor> steps;
  for (std::int64_t t = 0; t < T; ++t) {
    h = cell->forward(x[t], h);
    steps.push_back(h);
  }
  Tensor unrolled = loom::stack(steps);

  const bool same_out = loom::allclose(unrolled, out, 1e-5, 1e-6);
  const bool same_state = loom::allclose(h, h_n[0], 1e-5, 1e-6);

  // Gradients of the same loss through both.
  (out.pow(2).sum() + h_n.sum()).backward();
  (unrolled.pow(2).sum() + h.sum()).backward();
  bool same_grads = true;
  for (const char* name : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
    Tensor a = gru->named_parameters()[std::string(name) + "_l0"].grad();
    Tensor b = cell->named_parameters()[name].grad();
    same_grads = same_grads && loom::allclose(a, b, 1e-4, 1e-5);
  }
  std::printf("GRUCell unrolled vs nn::GRU: outputs %s, final state %s, gradients %s\n",
              same_out ? "agree" : "DIFFER", same_state ? "agrees" : "DIFFERS", same_grads ? "agree" : "DIFFER");
  return same_out && same_state && same_grads ? 0 : 1;
}
