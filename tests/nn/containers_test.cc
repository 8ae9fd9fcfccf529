// nn::Sequential, nn::ModuleList, nn::ModuleDict and ModuleHolder: forward
// order, libtorch's spellings (seq->forward, seq[i], push_back,
// register_module of a holder), child names, state_dict keys, printing and
// errors. Printed text and keys are PyTorch 1.13's for the same containers
// (the Python is quoted beside each literal).
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/op_testing.h"
#include "nn/activation.h"
#include "nn/dropout.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/module_list.h"
#include "nn/rnn.h"
#include "nn/sequential.h"

namespace loom::nn {
namespace {

using testing::expect_tensor;
using testing::values;

// torch: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Sequential(nn.LayerNorm(4),
//        nn.Dropout(0.1)), nn.Linear(4, 2, bias=False))
Sequential example_net() {
  return Sequential(Linear(3, 4), GELU(),
                    Sequential(LayerNorm(LayerNormOptions({4})), Dropout(0.1)),
                    std::make_shared<LinearImpl>(LinearOptions(4, 2).bias(false)));
}

TEST(Sequential, ForwardAppliesTheModulesInOrder) {
  Sequential seq = example_net();
  seq->eval();  // no dropout
  Tensor x = testing::uniform({5, 3}, 1, -1, 1, TensorOptions(kFloat32));
  LinearImpl& first = seq->at<LinearImpl>(0);
  auto inner = seq->ptr<SequentialImpl>(2);
  Tensor expected = inner->at<LayerNormImpl>(0).forward(gelu(first.forward(x)));
  expected = seq->at<LinearImpl>(3).forward(expected);
  Tensor y = seq->forward(x);
  expect_tensor(y, {5, 2}, values(expected), 0, 0);
  // The holder's call operator is forward.
  expect_tensor(seq(x), {5, 2}, values(expected), 0, 0);
  // Gradients reach every parameter.
  sum(y).backward();
  for (const auto& [name, p] : seq->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
}

TEST(Sequential, NamesKeysAndPrintingArePyTorchs) {
  Sequential seq = example_net();
  // torch: list(seq.state_dict().keys())
  EXPECT_EQ(seq->state_dict().keys(),
            (std::vector<std::string>{"0.weight", "0.bias", "2.0.weight", "2.0.bias", "3.weight"}));
  // torch: str(seq)
  EXPECT_EQ(seq->str(),
            "Sequential(\n  (0): Linear(in_features=3, out_features=4, bias=True)\n"
            "  (1): GELU(approximate='none')\n  (2): Sequential(\n"
            "    (0): LayerNorm((4,), eps=1e-05, elementwise_affine=True)\n"
            "    (1): Dropout(p=0.1, inplace=False)\n  )\n"
            "  (3): Linear(in_features=4, out_features=2, bias=False)\n)");
  EXPECT_EQ(seq->size(), 4u);
  EXPECT_EQ(seq[-1]->type(), "Linear");
  EXPECT_EQ(seq[1]->type(), "GELU");
  std::vector<std::string> types;
  for (const auto& m : *seq) types.push_back(m->type());
  EXPECT_EQ(types, (std::vector<std::string>{"Linear", "GELU", "Sequential", "Linear"}));
}

TEST(Sequential, PushBackSharesTheModuleAndNamesIt) {
  Sequential seq;
  EXPECT_TRUE(seq->is_empty());
  auto fc = std::make_shared<LinearImpl>(2, 2);
  seq->push_back(fc);
  seq->push_back("act", Tanh());
  seq->push_back(Sequential(ReLU()));  // a holder: its module is shared
  EXPECT_EQ(seq->named_children()[1].first, "act");
  EXPECT_EQ(seq->named_children()[2].first, "2");
  EXPECT_EQ(seq[0].get(), fc.get());
  // Copies of a holder share the module.
  Sequential copy = seq;
  copy->push_back(Sigmoid());
  EXPECT_EQ(seq->size(), 4u);
  // extend appends the other's modules (shared) under their positions.
  Sequential more{ReLU()};
  more->extend(*seq);
  EXPECT_EQ(more->size(), 5u);
  EXPECT_EQ(more[1].get(), fc.get());
  EXPECT_EQ(more->named_children()[2].first, "2");
  Tensor x = testing::uniform({3, 2}, 2, -1, 1, TensorOptions(kFloat32));
  expect_tensor(seq->forward(x), {3, 2}, values(sigmoid(relu(tanh(fc->forward(x))))), 0, 0);
}

TEST(Sequential, Errors) {
  // torch: seq[7]; seq[-5] on the 4-module example.
  Sequential seq = example_net();
  EXPECT_ERROR_TEXT(seq[7], "index 7 is out of range");
  EXPECT_ERROR_TEXT(seq[-5], "index -5 is out of range");
  EXPECT_LOOM_ERROR(seq->at<LayerNormImpl>(0), "the module is a Linear, not the type asked for");
  // libtorch's words (PyTorch's Python Sequential returns the input instead).
  EXPECT_ERROR_TEXT(Sequential()->forward(ones({2})), "Cannot call forward() on an empty Sequential");
  EXPECT_ERROR_TEXT(seq->push_back("0", ReLU()), "Submodule '0' already defined");
  EXPECT_LOOM_ERROR(seq->push_back("a.b", ReLU()), "module name can't contain \".\", got: a.b");
  EXPECT_LOOM_ERROR(seq->push_back(std::shared_ptr<ReLUImpl>()), "null module");
  EXPECT_EQ(seq->size(), 4u);  // nothing was appended by the failed calls
  EXPECT_LOOM_ERROR(seq->extend(*seq), "cannot extend itself");
}

TEST(ModuleList, HoldsAnyModuleAndPrintsAsPyTorch) {
  // torch: l = nn.ModuleList([nn.Linear(2, 2), nn.LSTM(2, 3)]); l.append(nn.ReLU()); str(l)
  ModuleList list(Linear(2, 2), std::make_shared<LSTMImpl>(2, 3));
  list->push_back(ReLU());
  EXPECT_EQ(list->str(),
            "ModuleList(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n"
            "  (1): LSTM(2, 3)\n  (2): ReLU()\n)");
  EXPECT_EQ(list->size(), 3u);
  LSTMImpl& lstm = list->at<LSTMImpl>(1);
  EXPECT_EQ(lstm.options().hidden_size_, 3);
  EXPECT_EQ(list[-1]->type(), "ReLU");
  EXPECT_EQ(list->parameters().size(), 2u + 4u);
  list->extend({std::make_shared<TanhImpl>(), std::make_shared<SigmoidImpl>()});
  EXPECT_EQ(list->named_children()[4].first, "4");
  EXPECT_ERROR_TEXT(list[5], "index 5 is out of range");
  EXPECT_LOOM_ERROR(list->extend({std::make_shared<TanhImpl>(), nullptr}), "a module is null");
  EXPECT_EQ(list->size(), 5u);  // a failed extend appends nothing
}

TEST(ModuleDict, KeysOrderReplacementAndPrinting) {
  // torch: d = nn.ModuleDict({'cls': nn.Linear(8, 2)}); d['reg'] = nn.Linear(8, 1)
  ModuleDict dict({{"cls", std::make_shared<LinearImpl>(8, 2)}});
  dict->insert("reg", Linear(8, 1));
  EXPECT_EQ(dict->str(),
            "ModuleDict(\n  (cls): Linear(in_features=8, out_features=2, bias=True)\n"
            "  (reg): Linear(in_features=8, out_features=1, bias=True)\n)");
  EXPECT_EQ(dict->state_dict().keys(),
            (std::vector<std::string>{"cls.weight", "cls.bias", "reg.weight", "reg.bias"}));
  EXPECT_EQ(dict->at<LinearImpl>("reg").options().out_features_, 1);
  // Replacing keeps the position, as Python's dict.
  dict->insert("cls", Linear(8, 3));
  EXPECT_EQ(dict->keys(), (std::vector<std::string>{"cls", "reg"}));
  EXPECT_EQ(dict->at<LinearImpl>("cls").options().out_features_, 3);
  EXPECT_EQ(dict->state_dict().at("cls.weight").size(0), 3);
  auto popped = dict->pop("cls");
  EXPECT_EQ(popped->type(), "Linear");
  EXPECT_EQ(dict->keys(), (std::vector<std::string>{"reg"}));
  EXPECT_EQ(dict->state_dict().keys(), (std::vector<std::string>{"reg.weight", "reg.bias"}));
  EXPECT_FALSE(dict->contains("cls"));
  // torch: d['a.b'] = nn.ReLU(); d[''] = nn.ReLU()
  EXPECT_ERROR_TEXT(dict->insert("a.b", ReLU()), "module name can't contain \".\", got: a.b");
  EXPECT_ERROR_TEXT(dict->insert("", ReLU()), "module name can't be empty string \"\"");
  EXPECT_LOOM_ERROR(dict["nope"], "KeyError: 'nope'");
  EXPECT_LOOM_ERROR(dict->pop("nope"), "KeyError: 'nope'");
  EXPECT_EQ(dict->size(), 1u);
}

// A user module holding containers through register_module, as libtorch.
struct Net : Module {
  Net() {
    body = register_module("body", Sequential(Linear(3, 3), ReLU()));
    heads = register_module("heads", ModuleDict({{"a", std::make_shared<LinearImpl>(3, 1)}}));
  }
  std::string type() const override { return "Net"; }
  Sequential body;
  ModuleDict heads;
};

TEST(Containers, RegisterModuleTakesHolders) {
  Net net;
  EXPECT_EQ(net.state_dict().keys(),
            (std::vector<std::string>{"body.0.weight", "body.0.bias", "heads.a.weight", "heads.a.bias"}));
  net.eval();
  EXPECT_FALSE(net.body[0]->is_training());
  net.to(kFloat64);
  EXPECT_EQ(net.body->at<LinearImpl>(0).weight.dtype(), kFloat64);
  net.unregister_module("heads");
  EXPECT_EQ(net.named_children().size(), 1u);
  EXPECT_ERROR_TEXT(net.unregister_module("heads"), "No Module with name `heads` is registered");
}

}  // namespace
}  // namespace loom::nn
