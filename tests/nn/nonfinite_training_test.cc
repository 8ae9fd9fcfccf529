// Plain float32 training through a non-finite input, against PyTorch 1.13:
// LSTM(4, 6) -> Linear(6, 5) -> cross_entropy, Adam(lr 0.01), 3 steps; step
// 2's input holds +inf. PyTorch's forward stays finite there (the gates
// saturate), the gradient of lstm.weight_ih_l0 gets NaN in the column of the
// inf feature, Adam makes that column NaN, and step 3's loss is NaN. loom
// must give the same loss, gradients and parameters after every step: the
// same elements NaN/inf, the finite ones to float32 tolerance. Numbers from
//   /usr/bin/python3 tests/fixtures/make_nonfinite_reference.py
// (tests/data/nonfinite/training_nonfinite.h5, committed).
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "core/tensor_io.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "nonfinite_testing.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom {
namespace {

// float32 over 3 Adam steps: the tolerances of the project's float32
// reference cases (rtol 1e-4, atol 1e-5).
constexpr double kRtol = 1e-4, kAtol = 1e-5;

class TinyModel : public nn::Module {
 public:
  TinyModel() {
    lstm = register_module("lstm", std::make_shared<nn::LSTMImpl>(4, 6));
    head = register_module("head", std::make_shared<nn::LinearImpl>(6, 5));
  }
  Tensor forward(const Tensor& x) const { return head->forward(std::get<0>(lstm->forward(x))); }
  std::string type() const override { return "TinyModel"; }
  std::shared_ptr<nn::LSTMImpl> lstm;
  std::shared_ptr<nn::LinearImpl> head;
};

void run_training(Device device) {
  const auto file = load_tensors(testing::source_path("tests/data/nonfinite/training_nonfinite.h5"));
  auto at = [&](const std::string& key) -> const Tensor& {
    auto it = file.find(key);
    if (it == file.end()) throw std::runtime_error("reference lacks " + key);
    return it->second;
  };
  TinyModel model;
  nn::StateDict init;
  for (const auto& [key, value] : file)
    if (key.rfind("init/", 0) == 0) init.insert(key.substr(5), value);
  model.load_state_dict(init);
  model.to(device);
  optim::Adam adam(model.parameters(), optim::AdamOptions(0.01));
  bool saw_nan_loss = false;
  for (int t = 1; t <= 3; ++t) {
    SCOPED_TRACE(fmt::format("step {} on {}", t, device));
    const std::string s = fmt::format("step{}/", t);
    adam.zero_grad();
    Tensor logits = model.forward(to(at(s + "input"), device));
    Tensor loss = cross_entropy(view(logits, {12, 5}), view(to(at(s + "targets"), device), {12}));
    testing::expect_same_nonfinite({loss.item()}, at(s + "loss").to_vector<double>(), kRtol, kAtol, "loss");
    saw_nan_loss |= std::isnan(loss.item());
    loss.backward();
    for (const auto& [name, p] : model.named_parameters())
      testing::expect_same_nonfinite(p.grad().to_vector<double>(), at(s + "grad/" + name).to_vector<double>(),
                                     kRtol, kAtol, "grad " + name);
    adam.step();
    for (const auto& [name, p] : model.named_parameters())
      testing::expect_same_nonfinite(p.to_vector<double>(), at(s + "param/" + name).to_vector<double>(),
                                     kRtol, kAtol, "param " + name);
  }
  EXPECT_TRUE(saw_nan_loss) << "step 3's loss should be NaN, as PyTorch's";
}

TEST(NonfiniteTraining, Float32LstmThroughAnInfiniteInputMatchesPyTorch) { run_training(kCPU); }

TEST(NonfiniteTraining, Float32LstmThroughAnInfiniteInputMatchesPyTorchCuda) {
  LOOM_SKIP_WITHOUT_CUDA();
  run_training(kCUDA);
}

}  // namespace
}  // namespace loom
