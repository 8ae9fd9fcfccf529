// Printing through std::ostream and fmt: tensors, modules, module pointers and
// PackedSequence. Every expected string is what /usr/bin/python3 (PyTorch
// 1.13) printed for the equivalent Python object, with the statement quoted
// above it; the Python classes are spelled out beside their C++ twins.
#include <fmt/format.h>

#include <memory>
#include <sstream>
#include <string>

#include "autograd/functions.h"
#include "autograd/op_testing.h"
#include "nn/cells.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/packed_sequence.h"
#include "nn/rnn.h"

namespace app {

// class Net(nn.Module):
//     def __init__(self):
//         super().__init__()
//         self.lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)
//         self.fc = nn.Linear(8, 2)
// A user module as a libtorch user writes it: no name, no printing code.
class Net : public loom::nn::Module {
 public:
  Net() {
    lstm = register_module(
        "lstm", std::make_shared<loom::nn::LSTMImpl>(
                    loom::nn::LSTMOptions(3, 4).num_layers(2).batch_first(true).bidirectional(true)));
    fc = register_module("fc", std::make_shared<loom::nn::LinearImpl>(8, 2));
  }
  std::shared_ptr<loom::nn::LSTMImpl> lstm;
  std::shared_ptr<loom::nn::LinearImpl> fc;
};

// print(repr(Net())) in torch 1.13.
constexpr const char* kNetRepr =
    "Net(\n"
    "  (lstm): LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)\n"
    "  (fc): Linear(in_features=8, out_features=2, bias=True)\n"
    ")";

namespace detail {
// class Inner(nn.Module):
//     def __init__(self):
//         super().__init__()
//         self.cell = nn.GRUCell(2, 3)
//         self.drop = nn.Dropout(0.25)
struct Inner : loom::nn::Module {
  Inner() {
    register_module("cell", std::make_shared<loom::nn::GRUCellImpl>(2, 3));
    register_module("drop", std::make_shared<loom::nn::DropoutImpl>(0.25));
  }
};
}  // namespace detail

namespace {
// class Outer(nn.Module):
//     def __init__(self):
//         super().__init__()
//         self.inner = Inner()
//         self.emb = nn.Embedding(10, 3)
//         self.head = nn.Linear(3, 1, bias=False)
// (in an anonymous namespace: the printed name drops it too)
struct Outer : loom::nn::Module {
  Outer() {
    register_module("inner", std::make_shared<detail::Inner>());
    register_module("emb", std::make_shared<loom::nn::EmbeddingImpl>(10, 3));
    register_module("head", std::make_shared<loom::nn::LinearImpl>(loom::nn::LinearOptions(3, 1).bias(false)));
  }
};
}  // namespace

}  // namespace app

namespace loom::nn {
namespace {

template <typename T>
std::string streamed(const T& value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

TEST(Printing, TensorThroughStreamAndFmt) {
  // print(repr(torch.tensor([[1.5, -2.0, 3.25], [0.0, 4.0, -5.5]])))
  const std::string matrix =
      "tensor([[ 1.5000, -2.0000,  3.2500],\n"
      "        [ 0.0000,  4.0000, -5.5000]])";
  Tensor t = tensor({1.5, -2.0, 3.25, 0.0, 4.0, -5.5}, {2, 3});
  EXPECT_EQ(streamed(t), matrix);
  EXPECT_EQ(fmt::format("{}", t), matrix);
  // print(repr(torch.tensor([0.1, -2.5, 1000.0, 3.14159], dtype=torch.bfloat16)))
  const std::string bf16 =
      "tensor([ 1.0010e-01, -2.5000e+00,  1.0000e+03,  3.1406e+00],\n"
      "       dtype=torch.bfloat16)";
  EXPECT_EQ(streamed(tensor({0.1, -2.5, 1000.0, 3.14159}, kBFloat16)), bf16);
  EXPECT_EQ(fmt::format("{}", tensor({0.1, -2.5, 1000.0, 3.14159}, kBFloat16)), bf16);
  // print(repr(torch.tensor([0.1, -2.5, 1000.0, 3.14159], dtype=torch.float16)))
  EXPECT_EQ(streamed(tensor({0.1, -2.5, 1000.0, 3.14159}, kFloat16)),
            "tensor([ 9.9976e-02, -2.5000e+00,  1.0000e+03,  3.1406e+00],\n"
            "       dtype=torch.float16)");
  // print(torch.tensor([1, 2, 3]))
  EXPECT_EQ(streamed(tensor_int64({1, 2, 3}, {3})), "tensor([1, 2, 3])");
  EXPECT_EQ(streamed(Tensor()), "[ Tensor (undefined) ]");
}

TEST(Printing, UserModuleUsesItsClassNameAndChildren) {
  auto net = std::make_shared<app::Net>();
  EXPECT_EQ(net->type(), "Net");
  EXPECT_EQ(net->name(), "Net");
  EXPECT_EQ(net->str(), app::kNetRepr);
  // std::cout << net, as in libtorch: the module tree, not the pointer's address.
  EXPECT_EQ(streamed(net), app::kNetRepr);
  EXPECT_EQ(streamed(*net), app::kNetRepr);
  std::shared_ptr<Module> base = net;
  EXPECT_EQ(streamed(base), app::kNetRepr);
  std::shared_ptr<const app::Net> constant = net;
  EXPECT_EQ(streamed(constant), app::kNetRepr);
  EXPECT_EQ(fmt::format("{}", net), app::kNetRepr);
  EXPECT_EQ(fmt::format("{}", *net), app::kNetRepr);
  EXPECT_EQ(fmt::format("{}", base), app::kNetRepr);
  // A built-in module through a pointer: print(repr(nn.Linear(8, 2)))
  EXPECT_EQ(streamed(net->fc), "Linear(in_features=8, out_features=2, bias=True)");
  EXPECT_EQ(fmt::format("{}", net->fc), "Linear(in_features=8, out_features=2, bias=True)");
}

TEST(Printing, NestedUserModulesAcrossNamespaces) {
  // print(repr(Outer())) in torch 1.13.
  EXPECT_EQ(streamed(std::make_shared<app::Outer>()),
            "Outer(\n"
            "  (inner): Inner(\n"
            "    (cell): GRUCell(2, 3)\n"
            "    (drop): Dropout(p=0.25, inplace=False)\n"
            "  )\n"
            "  (emb): Embedding(10, 3)\n"
            "  (head): Linear(in_features=3, out_features=1, bias=False)\n"
            ")");
}

TEST(Printing, ModuleNamesAndTheNameOverride) {
  // class Empty(nn.Module): pass; print(repr(Empty()))  -> Empty()
  struct Empty : Module {};
  EXPECT_EQ(streamed(Empty()), "Empty()");
  // nn.Module(): print(repr(nn.Module()))  -> Module()
  EXPECT_EQ(streamed(Module()), "Module()");
  // libtorch's Module(name): the given name replaces the class name.
  struct Renamed : Module {
    Renamed() : Module("Encoder") { register_module("fc", std::make_shared<LinearImpl>(8, 2)); }
  };
  // class Encoder(nn.Module) with self.fc = nn.Linear(8, 2): print(repr(Encoder()))
  EXPECT_EQ(streamed(Renamed()), "Encoder(\n  (fc): Linear(in_features=8, out_features=2, bias=True)\n)");
  // A class template keeps its arguments (PyTorch has no such classes to compare with).
  EXPECT_EQ(Module("Box<int>").type(), "Box<int>");
}

template <typename T>
struct Box : Module {};

TEST(Printing, TemplateClassNamesKeepTheirArguments) {
  EXPECT_EQ(Box<int>().type(), "Box<int>");
  EXPECT_EQ(Box<Linear>().type(), "Box<loom::nn::Linear>");
}

TEST(Printing, NullModulePointerIsAnError) {
  std::shared_ptr<LinearImpl> none;
  const std::string text = "cannot print a null module pointer (an empty std::shared_ptr<Module>)";
  EXPECT_ERROR_TEXT(streamed(none), text);
  EXPECT_ERROR_TEXT((void)fmt::format("{}", none), text);
  EXPECT_ERROR_TEXT(streamed(std::shared_ptr<Module>()), text);
}

TEST(Printing, PackedSequence) {
  // p = pack_padded_sequence(torch.arange(12.).reshape(3, 2, 2), torch.tensor([3, 2])); print(repr(p))
  const std::string sorted =
      "PackedSequence(data=tensor([[0., 1.],\n"
      "        [2., 3.],\n"
      "        [4., 5.],\n"
      "        [6., 7.],\n"
      "        [8., 9.]]), batch_sizes=tensor([2, 2, 1]), sorted_indices=None, unsorted_indices=None)";
  PackedSequence p = pack_padded_sequence(arange(12.0).reshape({3, 2, 2}), std::vector<std::int64_t>{3, 2});
  EXPECT_EQ(streamed(p), sorted);
  EXPECT_EQ(fmt::format("{}", p), sorted);
  // p = pack_padded_sequence(torch.arange(6.).reshape(3, 2), torch.tensor([1, 3]),
  //                          enforce_sorted=False); print(repr(p))
  PackedSequence q = pack_padded_sequence(arange(6.0).reshape({3, 2}), std::vector<std::int64_t>{1, 3},
                                          false, /*enforce_sorted=*/false);
  EXPECT_EQ(streamed(q),
            "PackedSequence(data=tensor([1., 0., 3., 5.]), batch_sizes=tensor([2, 1, 1]), "
            "sorted_indices=tensor([1, 0]), unsorted_indices=tensor([1, 0]))");
}

}  // namespace
}  // namespace loom::nn
