// Where PyTorch refuses, loom refuses too (issue 11, item 7): an LSTM or
// LSTMCell state with h_0 but not c_0 (or the reverse), recurrent states and
// inputs of another dtype than the layer, Linear and Embedding misuse,
// registering an integer parameter, the one StateDict type with strict
// loading. Each expected text is PyTorch 1.13's for the same call (run with
// /usr/bin/python3; quoted beside each), or starts with it.
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "autograd/functions.h"
#include "autograd/op_testing.h"
#include "nn/cells.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/packed_sequence.h"
#include "nn/rnn.h"
#include "optim/optimizer.h"

namespace loom::nn {
namespace {

TEST(PyTorchContracts, LstmNeedsBothStates) {
  LSTM lstm(3, 4);
  Tensor x = ones({2, 1, 3}), h = zeros({1, 1, 4});
  // torch 1.13: torch._VF.lstm(x, (h,), ...) -> "lstm expects two hidden states"
  // (nn.LSTM()(x, (h, None)) fails earlier on None.dim()).
  EXPECT_ERROR_TEXT(lstm->forward(x, LSTMImpl::State{h, Tensor()}),
                    "lstm expects two hidden states: got h_0 without c_0");
  EXPECT_ERROR_TEXT(lstm->forward(x, LSTMImpl::State{Tensor(), h}),
                    "lstm expects two hidden states: got c_0 without h_0");
  EXPECT_LOOM_ERROR(lstm->forward(pack_padded_sequence(ones({2, 2, 3}), tensor_int64({2, 1}, {2})),
                                 LSTMImpl::State{zeros({1, 2, 4}), Tensor()}),
                    "lstm expects two hidden states");
  // Both, or none, still run.
  EXPECT_EQ(shape_str(std::get<0>(lstm->forward(x, LSTMImpl::State{h, h})).shape()), "[2, 1, 4]");
  EXPECT_EQ(shape_str(std::get<0>(lstm->forward(x)).shape()), "[2, 1, 4]");
}

TEST(PyTorchContracts, LstmCellNeedsBothStates) {
  LSTMCell cell(3, 4);
  // torch 1.13: nn.LSTMCell(3, 4)(x, (h, None)) ->
  // "expected Tensor as element 1 in argument 1, but got NoneType"
  EXPECT_ERROR_TEXT(cell->forward(ones({2, 3}), LSTMCellImpl::State{zeros({2, 4}), Tensor()}),
                    "expected Tensor as element 1 in argument 1, but got an undefined tensor");
  EXPECT_ERROR_TEXT(cell->forward(ones({2, 3}), LSTMCellImpl::State{Tensor(), zeros({2, 4})}),
                    "expected Tensor as element 0 in argument 1, but got an undefined tensor");
}

TEST(PyTorchContracts, StatesAndInputsOfAnotherDtypeAreRefused) {
  // torch 1.13: nn.GRU(3, 4)(x, h.double()) and nn.GRU(3, 4)(x.double()) ->
  // "mat1 and mat2 must have the same dtype"
  GRU gru(3, 4);
  EXPECT_ANY_THROW(gru->forward(ones({2, 1, 3}), zeros({1, 1, 4}, TensorOptions(kFloat64))));
  EXPECT_ANY_THROW(gru->forward(ones({2, 1, 3}, TensorOptions(kFloat64))));
  LSTM lstm(3, 4);
  EXPECT_ANY_THROW(lstm->forward(ones({2, 1, 3}), LSTMImpl::State{zeros({1, 1, 4}, TensorOptions(kFloat64)),
                                                             zeros({1, 1, 4})}));
}

TEST(PyTorchContracts, LinearAndEmbeddingMisuse) {
  Linear fc(3, 4);
  // torch 1.13: "mat1 and mat2 shapes cannot be multiplied (2x5 and 3x4)"
  EXPECT_ANY_THROW(fc->forward(ones({2, 5})));
  // torch 1.13: "mat1 and mat2 must have the same dtype"
  EXPECT_ANY_THROW(fc->forward(ones({2, 3}, TensorOptions(kFloat64))));
  Embedding emb(5, 2);
  // torch 1.13: nn.Embedding(5, 2)(torch.tensor([5])) and ([-1]) -> "index out of range in self"
  EXPECT_ANY_THROW(emb->forward(tensor_int64({5}, {1})));
  EXPECT_ANY_THROW(emb->forward(tensor_int64({-1}, {1})));
}

TEST(PyTorchContracts, IntegerParametersAreRefused) {
  Module m;
  // torch 1.13: "Only Tensors of floating point and complex dtype can require gradients"
  EXPECT_ANY_THROW(m.register_parameter("p", tensor_int64({1, 2}, {2})));
  EXPECT_TRUE(m.named_parameters().empty());
}

TEST(PyTorchContracts, OneStateDictTypeForModulesAndOptimizers) {
  static_assert(std::is_same_v<nn::StateDict, optim::StateDict>);
  static_assert(std::is_same_v<nn::StateDict, ::loom::StateDict>);
  Linear fc(3, 4);
  StateDict d = fc->state_dict();
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(d.tensors.count("weight"), 1u);  // the optimizers' std::map-like spelling
  // A scalar is not module state: a strict load refuses it as an unexpected key.
  d.scalars["steps"] = 3;
  EXPECT_ERROR_TEXT(fc->load_state_dict(d),
                    "Error(s) in loading state_dict for Linear:\n\tUnexpected key(s) in state_dict: "
                    "\"steps\". ");
  LoadStateDictResult r = fc->load_state_dict(d, /*strict=*/false);
  EXPECT_EQ(r.unexpected_keys, (std::vector<std::string>{"steps"}));
  // torch 1.13: l.load_state_dict with a Long weight copies it into the float32
  // parameter (copy_ converts); loom does the same.
  d = fc->state_dict();
  d.insert("weight", ones({4, 3}, TensorOptions(kFloat64)));
  fc->load_state_dict(d);
  EXPECT_EQ(fc->weight.dtype(), kFloat32);
  EXPECT_EQ(testing::values(fc->weight), std::vector<double>(12, 1.0));
}

}  // namespace
}  // namespace loom::nn
