// Uses the installed loom: an LSTM forward and backward; prints "consumer ok".
#include <loom/loom.h>

#include <cstdio>

int main() {
  using namespace loom;
  nn::LSTM lstm(nn::LSTMOptions(3, 4).num_layers(2));
  Tensor x = randn({5, 2, 3});
  auto [out, state] = lstm.forward(x);
  sum(out).backward();
  bool ok = out.shape() == Shape{5, 2, 4} && lstm.named_parameter("weight_ih_l0").grad().defined();
  std::printf("%s\n", ok ? "consumer ok" : "consumer FAILED");
  return ok ? 0 : 1;
}
