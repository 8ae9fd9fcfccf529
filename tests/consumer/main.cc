// Uses the installed loom: an LSTM forward and backward, and printing; prints
// "consumer ok" (or "consumer FAILED") last.
#include <loom/loom.h>

#include <cstdio>
#include <iostream>
#include <sstream>

int main() {
  using namespace loom;
#ifdef LOOM_WITH_CUDA
  std::printf("loom built with CUDA\n");
#else
  std::printf("loom built without CUDA\n");
#endif
  nn::LSTM lstm(nn::LSTMOptions(3, 4).num_layers(2));
  Tensor x = randn({5, 2, 3});
  auto [out, state] = lstm->forward(x);
  sum(out).backward();
  std::ostringstream printed;
  printed << lstm << '\n' << tensor({1.5, 2.0}, kBFloat16);
  std::cout << printed.str() << '\n';
  bool ok = out.shape() == Shape{5, 2, 4} && lstm->named_parameter("weight_ih_l0").grad().defined() &&
            // print(repr(nn.LSTM(3, 4, num_layers=2)), torch.tensor([1.5, 2.0], dtype=torch.bfloat16))
            printed.str() == "LSTM(3, 4, num_layers=2)\ntensor([1.5000, 2.0000], dtype=torch.bfloat16)";
  std::printf("%s\n", ok ? "consumer ok" : "consumer FAILED");
  return ok ? 0 : 1;
}
