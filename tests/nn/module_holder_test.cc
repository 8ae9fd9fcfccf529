// Tests for the libtorch holder spelling of every layer (nn/module_holder.h,
// LOOM_MODULE): construction, sharing, empty holders, registration in a user
// module, calling, printing, and holders where a Module& is taken.
#include "nn/module_holder.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "nn/activation.h"
#include "nn/cells.h"
#include "nn/checkpoint.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/print.h"
#include "nn/rnn.h"
#include "nn/sequential.h"
#include "testing.h"

namespace loom::nn {
namespace {

// A user module written as in libtorch: holder members made empty, assigned
// from register_module in the constructor.
struct Tagger : Module {
  Tagger() : Module("Tagger") {
    lstm = register_module("lstm", LSTM(LSTMOptions(3, 5).num_layers(2)));
    fc = register_module("fc", Linear(5, 2));
  }
  Tensor forward(const Tensor& x) { return fc->forward(std::get<0>(lstm->forward(x))); }
  LSTM lstm{nullptr};
  Linear fc{nullptr};
};

TEST(ModuleHolder, EveryLayerHasTheLibtorchSpelling) {
  manual_seed(1);
  Tensor x = randn({4, 2, 3});
  LSTM lstm(LSTMOptions(3, 5));
  auto [out, state] = lstm->forward(x);
  auto [out2, state2] = lstm(x);  // operator() is forward
  EXPECT_EQ(out.to_vector<double>(), out2.to_vector<double>());
  EXPECT_EQ(out.shape(), (Shape{4, 2, 5}));
  GRU gru(3, 5);
  RNN rnn(RNNOptions(3, 5).nonlinearity("relu"));
  EXPECT_EQ(std::get<0>(gru(x)).shape(), (Shape{4, 2, 5}));
  EXPECT_EQ(std::get<0>(rnn(x)).shape(), (Shape{4, 2, 5}));
  Linear fc(3, 2);
  EXPECT_EQ(fc(x).shape(), (Shape{4, 2, 2}));
  LSTMCell cell(3, 5);
  EXPECT_EQ(std::get<0>(cell(x[0])).shape(), (Shape{2, 5}));
  EXPECT_EQ(GRUCell(3, 5)(x[0]).shape(), (Shape{2, 5}));
  EXPECT_EQ(RNNCell(3, 5)(x[0]).shape(), (Shape{2, 5}));
  EXPECT_EQ(Embedding(10, 3)(tensor_int64({1, 2}, {2})).shape(), (Shape{2, 3}));
  EXPECT_EQ(LayerNorm(LayerNormOptions({3}))(x).shape(), x.shape());
  EXPECT_EQ(Conv1d(Conv1dOptions(2, 4, 3))(x).shape(), (Shape{4, 4, 1}));
  EXPECT_EQ(ReLU()(x).shape(), x.shape());
  EXPECT_EQ(Tanh()(x).shape(), x.shape());
  EXPECT_EQ(Sigmoid()(x).shape(), x.shape());
  EXPECT_EQ(GELU()(x).shape(), x.shape());
  Dropout d(0.5);
  d->eval();
  EXPECT_EQ(d(x).to_vector<double>(), x.to_vector<double>());
  EXPECT_EQ(Dropout1d()->str(), "Dropout1d(p=0.5, inplace=False)");
  EXPECT_EQ(Dropout2d(0.25)->str(), "Dropout2d(p=0.25, inplace=False)");
}

TEST(ModuleHolder, CopiesShareTheModule) {
  Linear a(3, 4);
  Linear b = a;
  EXPECT_EQ(a.get(), b.get());
  {
    NoGradGuard no_grad;
    b->weight.zero_();
  }
  EXPECT_EQ(a->weight.sum().item(), 0.0);
  std::shared_ptr<LinearImpl> p = a;  // as libtorch's holder.ptr()
  EXPECT_EQ(p.get(), a.ptr().get());
}

TEST(ModuleHolder, EmptyHoldersRefuseAccessWithAClearError) {
  Linear fc{nullptr};
  EXPECT_TRUE(fc.is_empty());
  EXPECT_FALSE(static_cast<bool>(fc));
  EXPECT_ERROR_TEXT(fc->forward(zeros({1, 3})), "Accessing an empty ModuleHolder (one made from nullptr and never assigned a module)");
  EXPECT_ERROR_TEXT(fc(zeros({1, 3})), "Accessing an empty ModuleHolder (one made from nullptr and never assigned a module)");
  std::ostringstream os;
  EXPECT_THROW(os << fc, Error);
  fc = Linear(3, 1);
  EXPECT_FALSE(fc.is_empty());
  EXPECT_EQ(fc(zeros({2, 3})).shape(), (Shape{2, 1}));
  EXPECT_ERROR_TEXT(Linear(std::shared_ptr<LinearImpl>()), "ModuleHolder: the module is null");
}

TEST(ModuleHolder, RegisteredHoldersAreTheModulesChildren) {
  Tagger net;
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters()) names.push_back(name);
  // list(dict(nn.ModuleDict({'lstm': nn.LSTM(3, 5, 2), 'fc': nn.Linear(5, 2)}).named_parameters()))
  const std::vector<std::string> torch_names = {
      "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "lstm.weight_ih_l1",
      "lstm.weight_hh_l1", "lstm.bias_ih_l1",   "lstm.bias_hh_l1", "fc.weight",         "fc.bias"};
  EXPECT_EQ(names, torch_names);
  // The member and the registered child are one module: changing one changes the other.
  EXPECT_EQ(net.named_children()[1].second.get(), net.fc.get());
  {
    NoGradGuard no_grad;
    net.fc->bias.fill_(3.0);
  }
  EXPECT_EQ(net.named_parameter("fc.bias").to_vector<double>(), (std::vector<double>{3.0, 3.0}));
  EXPECT_EQ(net.forward(zeros({2, 1, 3})).shape(), (Shape{2, 1, 2}));
}

TEST(ModuleHolder, NamedParametersAreIndexableByName) {
  Tagger net;
  auto params = net.named_parameters();
  EXPECT_EQ(params["fc.weight"].shape(), (Shape{2, 5}));
  EXPECT_TRUE(params["lstm.bias_hh_l1"].is_same(net.lstm->named_parameter("bias_hh_l1")));
  EXPECT_EQ(params[0].first, "lstm.weight_ih_l0");  // still a vector of pairs
  EXPECT_TRUE(params.contains("fc.bias"));
  EXPECT_EQ(params.find("fc.wieght"), nullptr);
  EXPECT_ERROR_TEXT(params["fc.wieght"], "Key 'fc.wieght' is not defined");
  EXPECT_EQ(params.keys().size(), 10u);
  EXPECT_EQ(params.values().size(), 10u);
}

TEST(ModuleHolder, PrintsAsTheModuleDoes) {
  // repr(nn.LSTM(3, 5, num_layers=2)) and repr(nn.Linear(5, 2)) in torch 1.13.
  LSTM lstm(LSTMOptions(3, 5).num_layers(2));
  std::ostringstream os;
  os << lstm;
  EXPECT_EQ(os.str(), "LSTM(3, 5, num_layers=2)");
  EXPECT_EQ(fmt::format("{}", Linear(5, 2)), "Linear(in_features=5, out_features=2, bias=True)");
  Tagger net;
  EXPECT_EQ(net.str(),
            "Tagger(\n  (lstm): LSTM(3, 5, num_layers=2)\n"
            "  (fc): Linear(in_features=5, out_features=2, bias=True)\n)");
}

TEST(ModuleHolder, HoldersGoWhereAModuleIsTaken) {
  manual_seed(2);
  Linear a(3, 2), b(3, 2);
  Checkpoint ck;
  ck.model = a->state_dict();
  restore(ck, b);  // Module& from the holder
  EXPECT_EQ(a->weight.to_vector<double>(), b->weight.to_vector<double>());
  Sequential seq(a, ReLU(), Linear(2, 1));
  EXPECT_EQ(&seq->at<LinearImpl>(0), a.get());  // Sequential shares the holder's module
  EXPECT_EQ(seq->forward(ones({1, 3})).shape(), (Shape{1, 1}));
}

}  // namespace
}  // namespace loom::nn
