// The network of the fuzzer's checkpoint seed: LSTM(3, 5) then Linear(5, 2).
// seeds.cc saves one; readers.cc restores a damaged checkpoint into one and
// trains on, as a resuming user would.
#pragma once

#include <memory>
#include <string>
#include <tuple>

#include "nn/linear.h"
#include "nn/module.h"
#include "nn/rnn.h"

namespace loom::fuzz {

struct SeedNet : nn::Module {
  SeedNet() {
    lstm = register_module("lstm", nn::LSTM(nn::LSTMOptions(3, 5)));
    head = register_module("head", nn::Linear(5, 2));
  }
  std::string type() const override { return "SeedNet"; }
  // (L, N, 3) -> (L, N, 2)
  Tensor forward(const Tensor& x) { return head->forward(std::get<0>(lstm->forward(x))); }
  nn::LSTM lstm{nullptr};
  nn::Linear head{nullptr};
};

}  // namespace loom::fuzz
