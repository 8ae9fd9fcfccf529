// forecast: time-series forecasting with a GRU, against a naive baseline.
//
// The series: three sines of unrelated periods (about 17, 41 and 97 samples)
// plus Gaussian noise, 5000 samples; the first 80% train the model and the
// last 20% test it. Given a window of W past samples, the model predicts the
// sample `horizon` steps after the window's end.
//
// The model: GRU(1, H) over the window -> Linear(H, 1) at every step, trained
// with Adam on MSE at every position of random training windows (each step of
// a window predicts its own sample `horizon` ahead: W targets per window).
// The test scores only the last step of each test window, i.e. a forecast
// from W samples of context, against the naive forecast "the last observed
// value stays" on the same targets. With noise of standard deviation sigma,
// no forecast can beat MSE sigma^2 (printed as the noise floor).
//
//   build/bin/forecast                 # ~10 s on a 2-core CPU
//   build/bin/forecast --horizon 3 --help
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "cli.h"
#include "core/generator.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "optim/optim.h"

using namespace loom;

// The synthetic series: sum of sines plus noise of standard deviation `noise`.
std::vector<double> make_series(std::int64_t length, double noise, std::mt19937_64& rng) {
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<double> x(static_cast<std::size_t>(length));
  const double two_pi = 6.283185307179586;
  for (std::int64_t t = 0; t < length; ++t)
    x[t] = 0.8 * std::sin(two_pi * t / 17.3) + 0.5 * std::sin(two_pi * t / 41.1 + 1.0) +
           0.4 * std::sin(two_pi * t / 97.7 + 2.0) + gauss(rng);
  return x;
}

// Windows starting at `starts`: inputs [W, N, 1] and targets [W, N, 1] where
// targets[w] = series[start + w + horizon] (time-major, as the GRU expects).
std::pair<Tensor, Tensor> make_windows(const std::vector<double>& series, const std::vector<std::int64_t>& starts,
                                       std::int64_t W, std::int64_t horizon, Device device) {
  const std::int64_t N = static_cast<std::int64_t>(starts.size());
  std::vector<double> x(static_cast<std::size_t>(W * N)), y(x.size());
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t w = 0; w < W; ++w) {
      x[w * N + n] = series[starts[n] + w];
      y[w * N + n] = series[starts[n] + w + horizon];
    }
  TensorOptions options = TensorOptions(kFloat32).device(device);
  return {tensor(x, {W, N, 1}, options), tensor(y, {W, N, 1}, options)};
}

class Forecaster : public nn::Module {
 public:
  Forecaster(std::int64_t hidden, std::int64_t layers) {
    gru = register_module("gru", nn::GRU(nn::GRUOptions(1, hidden).num_layers(layers)));
    head = register_module("head", nn::Linear(hidden, 1));
  }
  // window [W, N, 1] -> a forecast for every step [W, N, 1].
  Tensor forward(const Tensor& window) {
    auto [out, h_n] = gru->forward(window);
    return head->forward(out);
  }
  std::string type() const override { return "Forecaster"; }
  nn::GRU gru{nullptr};
  nn::Linear head{nullptr};
};

int main(int argc, char** argv) {
  std::int64_t steps = 800, batch = 32, window = 64, hidden = 32, layers = 1, horizon = 1, length = 5000,
               seed = 1;
  double lr = 0.01, noise = 0.1;
  std::string device_name = "auto";
  cli::Parser cli("forecast",
                  "Trains a GRU to forecast a noisy multi-frequency signal `horizon` samples ahead and\n"
                  "compares its test MSE with the naive forecast (last observed value repeated).");
  cli.add("steps", "training steps (batches)", &steps);
  cli.add("batch", "windows per batch", &batch);
  cli.add("window", "samples of context per window (W)", &window);
  cli.add("horizon", "how many samples ahead to forecast", &horizon);
  cli.add("hidden", "GRU hidden size", &hidden);
  cli.add("layers", "GRU layers", &layers);
  cli.add("lr", "Adam learning rate", &lr);
  cli.add("noise", "standard deviation of the noise in the series", &noise);
  cli.add("length", "samples in the series (80% train, 20% test)", &length);
  cli.add("seed", "seed of the series, the batches and the initial weights", &seed);
  cli.add("device", "auto, cpu, cuda or cuda:N", &device_name);
  if (!cli.parse(argc, argv)) return cli.exit_code();
  if (steps < 1 || batch < 1 || window < 1 || hidden < 1 || layers < 1 || horizon < 1)
    return cli.error("--steps, --batch, --window, --horizon, --hidden and --layers must be at least 1");
  if (!(lr > 0) || !std::isfinite(lr)) return cli.error(fmt::format("--lr must be positive and finite, got {}", lr));
  if (!(noise >= 0) || !std::isfinite(noise))
    return cli.error(fmt::format("--noise must be finite and >= 0, got {}", noise));
  const std::int64_t train_end = length * 8 / 10;
  if (train_end < window + horizon + 1 || length - train_end < window + horizon + 1)
    return cli.error(fmt::format("--length {} is too short for --window {} and --horizon {}: each of the "
                                 "train (80%) and test (20%) parts needs more than window + horizon samples",
                                 length, window, horizon));
  const std::optional<Device> picked = cli.device(device_name);
  if (!picked) return 2;
  const Device device = *picked;

  try {
    manual_seed(static_cast<std::uint64_t>(seed));
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    const std::vector<double> series = make_series(length, noise, rng);

    Forecaster model(hidden, layers);
    model.to(device);
    optim::Adam adam(model.parameters(), optim::AdamOptions(lr));
    optim::CosineAnnealingLR schedule(adam, steps, lr * 0.05);
    fmt::print("forecast: {} samples ({} train, {} test), window {}, horizon {}, on {}\n", length, train_end,
               length - train_end, window, horizon, device.str());
    fmt::print("{}\n", model.str());

    // Training windows lie wholly inside the training part, targets included.
    std::uniform_int_distribution<std::int64_t> start(0, train_end - window - horizon);
    auto begin = std::chrono::steady_clock::now();
    const std::int64_t report_every = std::max<std::int64_t>(1, steps / 8);
    double running = 0;
    std::int64_t count = 0;
    for (std::int64_t step = 1; step <= steps; ++step) {
      std::vector<std::int64_t> starts(static_cast<std::size_t>(batch));
      for (auto& s : starts) s = start(rng);
      auto [x, y] = make_windows(series, starts, window, horizon, device);
      Tensor loss = mse_loss(model.forward(x), y);
      adam.zero_grad();
      loss.backward();
      optim::clip_grad_norm_(model.parameters(), 1.0);
      adam.step();
      schedule.step();
      running += loss.item();
      ++count;
      if (step % report_every == 0 || step == steps) {
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
        fmt::print("step {:5d}  train MSE {:.5f}  lr {:.5f}  ({:.1f} s)\n", step, running / count,
                   schedule.get_last_lr()[0], seconds);
        running = 0;
        count = 0;
      }
    }

    // Test: every window wholly inside the test part; score the last step.
    model.eval();
    NoGradGuard no_grad;
    std::vector<std::int64_t> starts;
    for (std::int64_t s = train_end; s + window + horizon <= length; ++s) starts.push_back(s);
    auto [x, y] = make_windows(series, starts, window, horizon, device);
    Tensor last_x = x.select(0, window - 1), last_y = y.select(0, window - 1);  // [N, 1]
    double model_mse = mse_loss(model.forward(x).select(0, window - 1), last_y).item();
    double naive_mse = mse_loss(last_x, last_y).item();
    fmt::print("test MSE: {:.5f} over {} forecasts, {} ahead (naive last-value baseline: {:.5f}, ratio {:.2f}; "
               "noise floor {:.5f}): {}\n",
               model_mse, starts.size(), horizon, naive_mse, model_mse / naive_mse, noise * noise,
               model_mse < 0.5 * naive_mse ? "beats the baseline" : "does NOT clearly beat the baseline");
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "forecast: error: %s\n", e.what());
    return 1;
  }
}
