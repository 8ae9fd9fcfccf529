// Printing, spelled as a libtorch user spells it: `std::cout << tensor`,
// `std::cout << net` on a module pointer, a user module that prints under its
// own class name with its children, a PackedSequence, and the same through fmt.
// The text is PyTorch 1.13's repr of the same objects. Built against the
// installed package and run by the install_and_build_consumer test.
#include <loom/loom.h>

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <sstream>

namespace nn = loom::nn;

// A user module: no printing code and no name; it prints as "Classifier(...)".
struct Classifier : nn::Module {
  Classifier() {
    lstm = register_module("lstm", nn::LSTM(nn::LSTMOptions(3, 8).bidirectional(true)));
    drop = register_module("drop", nn::Dropout(0.2));
    fc = register_module("fc", nn::Linear(16, 2));
  }
  nn::LSTM lstm{nullptr};
  nn::Dropout drop{nullptr};
  nn::Linear fc{nullptr};
};

int main() {
  loom::manual_seed(0);
  auto net = std::make_shared<Classifier>();
  std::cout << net << '\n';         // the module tree, not an address
  std::cout << *net->fc << '\n';    // a module by reference

  loom::Tensor x = loom::tensor({0.5, -1.25, 2.0, 3.0, -0.75, 1.5}, {2, 3});
  std::cout << x << '\n';
  std::cout << loom::tensor({0.1, -2.5, 1000.0}, loom::kBFloat16) << '\n';
  std::cout << loom::tensor_int64({3, 1, 2}, {3}) << '\n';
  std::cout << loom::randn({2, 2}, loom::TensorOptions().requires_grad()) << '\n';

  // Two sequences of lengths 3 and 1, packed.
  auto packed = nn::pack_padded_sequence(loom::arange(6.0).reshape({3, 2, 1}), std::vector<std::int64_t>{1, 3},
                                         /*batch_first=*/false, /*enforce_sorted=*/false);
  std::cout << packed << '\n';

  // The same text through fmt.
  fmt::print("{}\n", net->lstm);
  std::ostringstream streamed;
  streamed << net;
  return fmt::format("{}", net) == streamed.str() ? 0 : 1;
}
