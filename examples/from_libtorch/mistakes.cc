// Mistakes on purpose: each common slip a libtorch user makes gets a
// loom::Error with a clear message (PyTorch's words where PyTorch has them),
// never a crash or a wrong answer. Built against the installed package and
// run by the install_and_build_consumer test: exits 0 when every mistake is
// refused with the expected text.
#include <loom/loom.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <tuple>

namespace nn = loom::nn;
using loom::Tensor;
using namespace loom::indexing;  // NOLINT: as libtorch code reads

int failures = 0;

void expect_refused(const char* what, const std::function<void()>& mistake, const std::string& fragment) {
  try {
    mistake();
  } catch (const loom::Error& e) {
    const bool ok = std::string(e.what()).find(fragment) != std::string::npos;
    std::printf("%s %s\n    -> %s\n", ok ? "refused:" : "WRONG MESSAGE:", what, e.what());
    failures += ok ? 0 : 1;
    return;
  }
  std::printf("NOT REFUSED: %s\n", what);
  ++failures;
}

int main() {
  nn::LSTM lstm(nn::LSTMOptions(4, 8));
  Tensor x = loom::randn({5, 3, 4});
  expect_refused("LSTM input with the wrong feature size", [&] { lstm->forward(loom::randn({5, 3, 6})); },
                 "input.size(-1) must be equal to input_size. Expected 4, got 6");
  expect_refused("LSTM h0 without c0",
                 [&] { lstm->forward(x, std::make_tuple(loom::zeros({1, 3, 8}), Tensor())); },
                 "got h_0 without c_0");
  expect_refused("index out of range", [&] { x.index({7}); }, "index 7 is out of bounds for dimension 0 with size 5");
  expect_refused("in-place change to a leaf that requires grad",
                 [&] { Tensor w = loom::ones({3}, loom::TensorOptions().requires_grad()); w.add_(1); },
                 "a leaf Variable that requires grad is being used in an in-place operation.");
  expect_refused("matmul with mismatched shapes", [&] { loom::matmul(loom::ones({2, 3}), loom::ones({4, 5})); },
                 "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)");
  expect_refused("cross_entropy with float targets",
                 [&] { loom::cross_entropy(loom::randn({4, 3}), loom::randn({4})); },
                 "expected scalar type Long but found Float");
  expect_refused("loading a state_dict of another model",
                 [&] {
                   nn::Linear other(4, 2);
                   lstm->load_state_dict(other->state_dict());
                 },
                 "Missing key(s) in state_dict");
  expect_refused("a checkpoint that is not there", [&] { nn::load_checkpoint("/nonexistent/run.h5"); },
                 "/nonexistent/run.h5");
  expect_refused("an optimizer on no parameters", [&] { loom::optim::SGD sgd(std::vector<Tensor>{}, loom::optim::SGDOptions(0.1)); },
                 "optimizer got an empty parameter list");
  std::printf("%d mistake(s) not refused as expected\n", failures);
  return failures == 0 ? 0 : 1;
}
