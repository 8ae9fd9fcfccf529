// Sequence classification with a packed bidirectional LSTM, spelled as a
// libtorch user spells it (modulo namespace): variable-length sequences packed with
// nn::utils::rnn::pack_padded_sequence, an LSTM + Linear model in
// nn::Sequential-free user code, Adam, clip_grad_norm_, a checkpoint saved and
// reloaded into a fresh model that must give the same predictions. The task:
// is the sum of the sequence's values positive? Built against the installed
// package and run by the install_and_build_consumer test: exits 0 when the
// model learned (accuracy > 0.9 on held-out data) and the reload agrees.
#include <loom/loom.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

namespace nn = loom::nn;
namespace F = loom::nn::functional;
using loom::Tensor;

struct Classifier : nn::Module {
  Classifier() {
    lstm = register_module("lstm", nn::LSTM(nn::LSTMOptions(1, 16).bidirectional(true)));
    fc = register_module("fc", nn::Linear(32, 2));
  }
  // A packed batch -> logits (N, 2), from both directions' final states.
  Tensor forward(const nn::utils::rnn::PackedSequence& x) {
    auto [out, state] = lstm->forward(x);
    Tensor h_n = std::get<0>(state);  // (2, N, 16)
    return fc->forward(loom::cat({h_n[0], h_n[1]}, 1));
  }
  nn::LSTM lstm{nullptr};
  nn::Linear fc{nullptr};
};

// A batch: N sequences of lengths in [3, 12], padded (T, N, 1), their lengths and labels.
struct Batch {
  nn::utils::rnn::PackedSequence packed;
  Tensor labels;
};
Batch make_batch(std::int64_t N) {
  Tensor lengths = loom::randint(3, 13, {N});
  Tensor values = loom::randn({12, N, 1});
  // Zero the padding, then label by the sign of each sequence's sum.
  Tensor steps = loom::arange(12.0).reshape({12, 1, 1});
  Tensor mask = steps < lengths.to(loom::kFloat32).reshape({1, N, 1});
  values = loom::where(mask, values, loom::zeros_like(values));
  Tensor labels = (values.sum({0, 2}) > 0).to(loom::kInt64);
  return {nn::utils::rnn::pack_padded_sequence(values, lengths, /*batch_first=*/false, /*enforce_sorted=*/false),
          labels};
}

double accuracy(Classifier& model, const Batch& b) {
  loom::NoGradGuard no_grad;
  Tensor pred = model.forward(b.packed).argmax(1);
  return (pred == b.labels).sum().item() / static_cast<double>(b.labels.numel());
}

int main() {
  loom::manual_seed(7);
  auto model = std::make_shared<Classifier>();
  loom::optim::Adam adam(model->parameters(), loom::optim::AdamOptions(1e-2));
  for (int step = 1; step <= 300; ++step) {
    Batch b = make_batch(32);
    Tensor loss = F::cross_entropy(model->forward(b.packed), b.labels);
    adam.zero_grad();
    loss.backward();
    nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    adam.step();
    if (step % 100 == 0) std::printf("step %d: loss %.4f\n", step, loss.item());
  }
  Batch test = make_batch(500);
  const double acc = accuracy(*model, test);
  std::printf("held-out accuracy: %.3f\n", acc);

  // Save model and optimizer (torch::save), then a fresh model and optimizer
  // loaded from the files (torch::load) must predict the same.
  const auto dir = std::filesystem::temp_directory_path();
  const std::string model_path = (dir / "loom_from_libtorch_classifier.h5").string();
  const std::string optimizer_path = (dir / "loom_from_libtorch_classifier_adam.h5").string();
  loom::save(model, model_path);
  loom::save(adam, optimizer_path);
  auto reloaded = std::make_shared<Classifier>();
  loom::optim::Adam adam2(reloaded->parameters(), loom::optim::AdamOptions(1e-2));
  loom::load(reloaded, model_path);
  loom::load(adam2, optimizer_path);
  std::filesystem::remove(model_path);
  std::filesystem::remove(optimizer_path);
  loom::NoGradGuard no_grad;
  const bool same = loom::allclose(model->forward(test.packed), reloaded->forward(test.packed), 0, 0);
  std::printf("reloaded model predicts %s\n", same ? "the same" : "DIFFERENTLY");
  return acc > 0.9 && same ? 0 : 1;
}
