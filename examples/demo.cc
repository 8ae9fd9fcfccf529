// demo: an LSTM learns to continue noisy sine waves, trained with plain SGD.
//
// Until the language-model example exists this is what `make demo` runs: it
// builds a 2-layer LSTM and a linear read-out, trains them to predict the
// next sample of a sine wave from the samples so far, and prints the loss as
// it falls. Runs on a GPU when one is present, else on the CPU.
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/linear.h"
#include "nn/rnn.h"

using namespace loom;

// A batch of N waves of length T+1 with random phase and frequency, (T+1, N, 1).
Tensor make_waves(std::int64_t T, std::int64_t N, Device device) {
  std::vector<double> phase = rand({N}).to_vector<double>(), freq = rand({N}).to_vector<double>();
  std::vector<double> noise = randn({T + 1, N}).to_vector<double>();
  std::vector<double> values(static_cast<std::size_t>((T + 1) * N));
  for (std::int64_t t = 0; t <= T; ++t)
    for (std::int64_t n = 0; n < N; ++n)
      values[t * N + n] = std::sin(t * (0.1 + 0.2 * freq[n]) + 6.2832 * phase[n]) + 0.02 * noise[t * N + n];
  return tensor(values, {T + 1, N, 1}, TensorOptions(kFloat32).device(device));
}

// p <- p - lr * p.grad, in place (the parameters stay the same leaves).
void sgd_step(const Tensor& p, double lr) {
  native::copy_(p, native::binary(native::BinaryOp::Sub, p,
                                  native::unary(native::UnaryOp::MulScalar, p.grad(), lr)));
}

int main() {
  manual_seed(0);
  Device device = cuda_available() ? kCUDA : kCPU;
  const std::int64_t T = 40, N = 32, hidden = 32, steps = 300;
  const double lr = 0.5;

  nn::LSTM lstm(nn::LSTMOptions(1, hidden).num_layers(2));
  nn::Linear head(hidden, 1);
  lstm.to(device);
  head.to(device);
  std::vector<Tensor> params = lstm.parameters();
  for (const Tensor& p : head.parameters()) params.push_back(p);

  fmt::print("loom demo: {} on {} -> Linear({}, 1), SGD lr={}, {} steps of {} waves x {} samples\n",
             lstm.str(), device.str(), hidden, lr, steps, N, T);
  double first = 0, last = 0;
  for (std::int64_t step = 1; step <= steps; ++step) {
    Tensor waves = make_waves(T, N, device);
    Tensor inputs = waves.narrow(0, 0, T), targets = waves.narrow(0, 1, T);
    auto [out, state] = lstm.forward(inputs);
    Tensor loss = mse_loss(head.forward(out), targets);
    for (Tensor& p : params) p.set_grad(Tensor());
    loss.backward();
    {
      NoGradGuard no_grad;
      for (Tensor& p : params) sgd_step(p, lr);
    }
    double value = loss.item();
    if (step == 1) first = value;
    last = value;
    if (step == 1 || step % 25 == 0) fmt::print("step {:4d}  loss {:.5f}\n", step, value);
  }
  fmt::print("final loss {:.5f} (first {:.5f}): {}\n", last, first,
             last < 0.25 * first ? "the model learned the waves" : "loss did not fall enough");
  return last < first ? 0 : 1;
}
