// nn::Module: registration and dotted names, listing order, train/eval,
// in-place to(), zero_grad, state_dict / load_state_dict and printing.
// Names, key orders, messages and printed text are PyTorch 1.13's, produced by
// /usr/bin/python3 for the equivalent torch.nn modules (the script is quoted
// beside each literal) and pasted here.
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/op_testing.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace loom::nn {
namespace {

// Containers with PyTorch's printed names, for the nested test network.
struct List : Module {
  std::string type() const override { return "ModuleList"; }
};
struct Seq : Module {
  std::string type() const override { return "Sequential"; }
};

// The module tree of this PyTorch network:
//   class Net(nn.Module):
//     def __init__(self):
//       super().__init__()
//       self.scale = nn.Parameter(torch.ones(2))
//       self.encoder = nn.Linear(3, 4)
//       self.register_buffer('steps', torch.tensor(0))
//       self.layers = nn.ModuleList([nn.Linear(4, 4),
//           nn.Sequential(nn.Linear(4, 2, bias=False), nn.Dropout(0.1))])
//       self.register_buffer('cache', torch.zeros(3), persistent=False)
//       self.head = nn.Module()
struct Net : Module {
  Net() {
    scale = register_parameter("scale", ones({2}));
    encoder = register_module("encoder", std::make_shared<LinearImpl>(3, 4));
    steps = register_buffer("steps", tensor_int64({0}, {}));
    auto list = register_module("layers", std::make_shared<List>());
    list->register_module("0", std::make_shared<LinearImpl>(4, 4));
    auto seq = list->register_module("1", std::make_shared<Seq>());
    seq->register_module("0", std::make_shared<LinearImpl>(LinearOptions(4, 2).bias(false)));
    seq->register_module("1", std::make_shared<DropoutImpl>(0.1));
    register_buffer("cache", zeros({3}), /*persistent=*/false);
    register_module("head", std::make_shared<Module>());
  }
  std::string type() const override { return "Net"; }
  Tensor forward(const Tensor& x) const {  // (N, 3) -> (N, 2)
    Tensor h = encoder->forward(x);
    auto layers = named_children()[1].second->named_children();
    h = std::static_pointer_cast<LinearImpl>(layers[0].second)->forward(h);
    auto seq = layers[1].second->named_children();
    h = std::static_pointer_cast<LinearImpl>(seq[0].second)->forward(h);
    return std::static_pointer_cast<DropoutImpl>(seq[1].second)->forward(h) * scale;
  }
  Tensor scale, steps;
  std::shared_ptr<LinearImpl> encoder;
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& items) {
  std::vector<std::string> out;
  for (const auto& [name, t] : items) out.push_back(name);
  return out;
}

// ---- registration and listing -----------------------------------------------------------

TEST(Module, NamesAndOrderMatchPyTorch) {
  Net net;
  // [k for k, _ in n.named_parameters()]
  EXPECT_EQ(names_of(net.named_parameters()),
            (std::vector<std::string>{"scale", "encoder.weight", "encoder.bias", "layers.0.weight",
                                      "layers.0.bias", "layers.1.0.weight"}));
  // [k for k, _ in n.named_buffers()]
  EXPECT_EQ(names_of(net.named_buffers()), (std::vector<std::string>{"steps", "cache"}));
  // list(n.state_dict().keys())
  EXPECT_EQ(net.state_dict().keys(),
            (std::vector<std::string>{"scale", "steps", "encoder.weight", "encoder.bias", "layers.0.weight",
                                      "layers.0.bias", "layers.1.0.weight"}));
  // [k for k, _ in n.named_modules()][1:] (loom does not list the root itself)
  std::vector<std::string> modules;
  for (const auto& [name, m] : net.named_modules()) modules.push_back(name);
  EXPECT_EQ(modules, (std::vector<std::string>{"encoder", "layers", "layers.0", "layers.1", "layers.1.0",
                                               "layers.1.1", "head"}));
  EXPECT_EQ(names_of(net.named_parameters(/*recurse=*/false)), (std::vector<std::string>{"scale"}));
  EXPECT_EQ(net.children().size(), 3u);
  EXPECT_EQ(net.parameters().size(), 6u);

  // Handles: the listed tensors are the registered ones, which require grad.
  EXPECT_TRUE(net.named_parameter("encoder.weight").is_same(net.encoder->weight));
  EXPECT_TRUE(net.named_parameter("scale").is_same(net.scale));
  EXPECT_FALSE(net.named_parameter("layers.1.0.bias").defined());  // bias=False: absent
  EXPECT_FALSE(net.named_parameter("nope.weight").defined());
  EXPECT_TRUE(net.named_buffer("steps").is_same(net.steps));
  for (const Tensor& p : net.parameters()) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
  }
  EXPECT_FALSE(net.steps.requires_grad());
}

TEST(Module, SharedModuleIsListedOnceButSavedUnderEveryName) {
  // shared = nn.Linear(2, 2); t.a = shared; t.b = shared
  // -> named_parameters: ['a.weight', 'a.bias'];
  //    state_dict: ['a.weight', 'a.bias', 'b.weight', 'b.bias']
  Module t;
  auto shared = std::make_shared<LinearImpl>(2, 2);
  t.register_module("a", shared);
  t.register_module("b", shared);
  EXPECT_EQ(names_of(t.named_parameters()), (std::vector<std::string>{"a.weight", "a.bias"}));
  EXPECT_EQ(t.state_dict().keys(), (std::vector<std::string>{"a.weight", "a.bias", "b.weight", "b.bias"}));
}

TEST(Module, RegistrationErrorsInPyTorchWords) {
  // Messages of m.register_parameter/register_buffer/add_module in torch 1.13 (KeyError texts).
  Module m;
  EXPECT_ERROR_TEXT(m.register_parameter("a.b", Tensor()), "parameter name can't contain \".\"");
  EXPECT_ERROR_TEXT(m.register_parameter("", Tensor()), "parameter name can't be empty string \"\"");
  EXPECT_ERROR_TEXT(m.register_buffer("a.b", Tensor()), "buffer name can't contain \".\"");
  EXPECT_ERROR_TEXT(m.register_buffer("", Tensor()), "buffer name can't be empty string \"\"");
  EXPECT_ERROR_TEXT(m.register_module("a.b", std::make_shared<Module>()),
                    "module name can't contain \".\", got: a.b");
  EXPECT_ERROR_TEXT(m.register_module("", std::make_shared<Module>()), "module name can't be empty string \"\"");
  m.register_buffer("buf", Tensor());
  EXPECT_ERROR_TEXT(m.register_parameter("buf", Tensor()), "attribute 'buf' already exists");
  EXPECT_ERROR_TEXT(m.register_module("buf", std::make_shared<Module>()), "attribute 'buf' already exists");
  // register_parameter of a non-leaf (torch 1.13, Module.register_parameter's ValueError).
  Tensor x = ones({2}, TensorOptions().requires_grad());
  EXPECT_ERROR_TEXT(m.register_parameter("p", x * 2.0),
                    "Cannot assign non-leaf Tensor to parameter 'p'. Model parameters must be created "
                    "explicitly. To express 'p' as a function of another Tensor, compute the value in the "
                    "forward() method.");
  // Re-registering a parameter's name replaces it (PyTorch allows it too).
  Tensor first = m.register_parameter("w", zeros({1}));
  Tensor second = m.register_parameter("w", ones({2}));
  EXPECT_TRUE(m.named_parameter("w").is_same(second));
  EXPECT_FALSE(m.named_parameter("w").is_same(first));
  EXPECT_EQ(m.parameters().size(), 1u);
}

// ---- modes ----------------------------------------------------------------------------------

TEST(Module, TrainEvalRecurse) {
  Net net;
  EXPECT_TRUE(net.is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  for (const auto& [name, m] : net.named_modules()) EXPECT_FALSE(m->is_training()) << name;
  net.train();
  for (const auto& [name, m] : net.named_modules()) EXPECT_TRUE(m->is_training()) << name;
  // train() on a child does not touch its parent.
  net.named_children()[0].second->train(false);
  EXPECT_TRUE(net.is_training());
  EXPECT_FALSE(net.encoder->is_training());
}

// ---- to(): in place, handles stay valid ------------------------------------------------------------

TEST(Module, ToDtypeKeepsHandlesAndGradients) {
  Net net;
  net.eval();  // no dropout
  Tensor w = net.encoder->weight;  // a handle, like an optimizer's
  std::vector<double> before = w.to_vector<double>();
  Tensor x = tensor({0.5, -1.0, 2.0, 1.5, 0.25, -0.75}, {2, 3});
  net.forward(x).sum().backward();
  ASSERT_TRUE(w.grad().defined());
  std::vector<double> grad_before = w.grad().to_vector<double>();

  net.to(kFloat64);
  EXPECT_EQ(w.dtype(), kFloat64);
  EXPECT_TRUE(w.is_same(net.named_parameter("encoder.weight")));
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  EXPECT_EQ(w.to_vector<double>(), before);  // float -> double is exact
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().dtype(), kFloat64);
  EXPECT_EQ(w.grad().to_vector<double>(), grad_before);
  EXPECT_EQ(net.steps.dtype(), kInt64);  // integer buffers keep their dtype, as in PyTorch
  EXPECT_EQ(net.named_buffer("cache").dtype(), kFloat64);
  for (const Tensor& p : net.parameters()) EXPECT_EQ(p.dtype(), kFloat64);

  // The same handles train in float64: a new backward accumulates float64 gradients.
  net.zero_grad();
  Tensor y = net.forward(x.to(kFloat64)).sum();
  y.backward();
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().dtype(), kFloat64);
  testing::expect_all_close(w.grad().to_vector<double>(), grad_before, 1e-5, 1e-6, "float64 grad");

  net.to(kFloat32);
  EXPECT_EQ(w.dtype(), kFloat32);
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(before.begin(), before.end()));
  EXPECT_ERROR_TEXT(net.to(kInt64),
                    "nn.Module.to only accepts floating point or complex dtypes, but got desired "
                    "dtype=torch.int64");
}

TEST(Module, ToCudaAndBackKeepsHandles) {
  LOOM_SKIP_WITHOUT_CUDA();
  Net net;
  Tensor w = net.encoder->weight;
  std::vector<float> before = w.to_vector<float>();
  net.to(kCUDA);
  EXPECT_TRUE(w.is_cuda());
  EXPECT_TRUE(net.steps.is_cuda());
  EXPECT_TRUE(w.requires_grad());
  Tensor x = tensor({0.5, -1.0, 2.0, 1.5, 0.25, -0.75}, {2, 3}).to(kCUDA);
  net.eval();
  net.forward(x).sum().backward();
  EXPECT_TRUE(w.grad().is_cuda());
  net.to(kCPU);
  EXPECT_FALSE(w.is_cuda());
  EXPECT_FALSE(w.grad().is_cuda());
  EXPECT_EQ(w.to_vector<float>(), before);
}

TEST(Module, ZeroGradSetsGradientsToNone) {
  Net net;
  net.eval();
  net.forward(ones({1, 3})).sum().backward();
  for (const auto& [name, p] : net.named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
  net.zero_grad();
  for (const auto& [name, p] : net.named_parameters()) EXPECT_FALSE(p.grad().defined()) << name;
}

// ---- state_dict ----------------------------------------------------------------------------------------

TEST(Module, StateDictRoundTrip) {
  Net a, b;
  a.steps.data<std::int64_t>()[0] = 7;
  StateDict sd = a.state_dict();
  for (const auto& [name, t] : sd) EXPECT_FALSE(t.requires_grad()) << name;
  // Values share storage with the live tensors (as PyTorch's state_dict()).
  EXPECT_EQ(sd.at("encoder.weight").data_ptr(), a.encoder->weight.data_ptr());

  Tensor handle = b.encoder->weight;
  LoadStateDictResult r = b.load_state_dict(sd);
  EXPECT_TRUE(r.missing_keys.empty());
  EXPECT_TRUE(r.unexpected_keys.empty());
  for (const auto& [name, p] : a.named_parameters())
    EXPECT_EQ(b.named_parameter(name).to_vector<float>(), p.to_vector<float>()) << name;
  EXPECT_EQ(b.steps.to_vector<std::int64_t>(), std::vector<std::int64_t>{7});
  // Copied in place: the old handle sees the values; b's storage is its own.
  EXPECT_TRUE(handle.is_same(b.encoder->weight));
  EXPECT_EQ(handle.to_vector<float>(), a.encoder->weight.to_vector<float>());
  EXPECT_NE(handle.data_ptr(), a.encoder->weight.data_ptr());
  EXPECT_TRUE(handle.requires_grad());
  EXPECT_TRUE(handle.is_leaf());

  // A float64 checkpoint loads into a float32 module (converted, as copy_ does).
  Linear l(2, 1);
  StateDict sd64{{"weight", tensor({0.25, -0.5}, {1, 2}, kFloat64)}, {"bias", tensor({1.5}, kFloat64)}};
  l->load_state_dict(sd64);
  EXPECT_EQ(l->weight.dtype(), kFloat32);
  EXPECT_EQ(l->weight.to_vector<double>(), (std::vector<double>{0.25, -0.5}));
  EXPECT_EQ(l->bias.to_vector<double>(), (std::vector<double>{1.5}));
}

TEST(Module, LoadStateDictErrorsInPyTorchWords) {
  {
    // l = nn.Linear(3, 4); sd = l->state_dict(); sd['weight'] = torch.zeros(3, 3)
    // sd['foo'] = torch.zeros(1); del sd['bias']; l->load_state_dict(sd)
    Linear l(3, 4);
    StateDict sd = l->state_dict();
    sd.insert("weight", zeros({3, 3}));
    sd.insert("foo", zeros({1}));
    sd.erase("bias");
    std::vector<float> before = l->weight.to_vector<float>();
    EXPECT_ERROR_TEXT(l->load_state_dict(sd),
                      "Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: \"bias\". "
                      "\n\tUnexpected key(s) in state_dict: \"foo\". \n\tsize mismatch for weight: copying a "
                      "param with shape torch.Size([3, 3]) from checkpoint, the shape in current model is "
                      "torch.Size([4, 3]).");
    // l->load_state_dict(sd, strict=False): only the size mismatch is an error.
    EXPECT_ERROR_TEXT(l->load_state_dict(sd, false),
                      "Error(s) in loading state_dict for Linear:\n\tsize mismatch for weight: copying a param "
                      "with shape torch.Size([3, 3]) from checkpoint, the shape in current model is "
                      "torch.Size([4, 3]).");
    EXPECT_EQ(l->weight.to_vector<float>(), before);  // nothing copied on error
  }
  {
    // sd['weight'] = torch.zeros(3, 3); sd['bias'] = torch.zeros(5): both mismatches, in order.
    Linear l(3, 4);
    StateDict sd{{"weight", zeros({3, 3})}, {"bias", zeros({5})}};
    EXPECT_ERROR_TEXT(l->load_state_dict(sd),
                      "Error(s) in loading state_dict for Linear:\n\tsize mismatch for weight: copying a param "
                      "with shape torch.Size([3, 3]) from checkpoint, the shape in current model is "
                      "torch.Size([4, 3]).\n\tsize mismatch for bias: copying a param with shape "
                      "torch.Size([5]) from checkpoint, the shape in current model is torch.Size([4]).");
  }
  {
    // n = Net(); sd = n.state_dict(); del sd['layers.0.bias']; del sd['scale']
    // sd['layers.2.weight'] = torch.zeros(1); sd['extra'] = torch.zeros(1); n.load_state_dict(sd)
    Net n;
    StateDict sd = n.state_dict();
    sd.erase("layers.0.bias");
    sd.erase("scale");
    sd.insert("layers.2.weight", zeros({1}));
    sd.insert("extra", zeros({1}));
    EXPECT_ERROR_TEXT(n.load_state_dict(sd),
                      "Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: \"scale\", "
                      "\"layers.0.bias\". \n\tUnexpected key(s) in state_dict: \"extra\", \"layers.2.weight\". ");
    // n.load_state_dict(sd, strict=False) -> _IncompatibleKeys(missing_keys=['scale',
    // 'layers.0.bias'], unexpected_keys=['extra', 'layers.2.weight']), and loads the rest.
    Net other;
    sd.insert("encoder.weight", other.encoder->weight);
    LoadStateDictResult r = n.load_state_dict(sd, false);
    EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"scale", "layers.0.bias"}));
    EXPECT_EQ(r.unexpected_keys, (std::vector<std::string>{"extra", "layers.2.weight"}));
    EXPECT_EQ(n.encoder->weight.to_vector<float>(), other.encoder->weight.to_vector<float>());
  }
}

// ---- printing -------------------------------------------------------------------------------------------

TEST(Module, PrintsLikePyTorch) {
  // print(repr(Net())) in torch 1.13.
  EXPECT_EQ(Net().str(),
            "Net(\n"
            "  (encoder): Linear(in_features=3, out_features=4, bias=True)\n"
            "  (layers): ModuleList(\n"
            "    (0): Linear(in_features=4, out_features=4, bias=True)\n"
            "    (1): Sequential(\n"
            "      (0): Linear(in_features=4, out_features=2, bias=False)\n"
            "      (1): Dropout(p=0.1, inplace=False)\n"
            "    )\n"
            "  )\n"
            "  (head): Module()\n"
            ")");
  EXPECT_EQ(Module().str(), "Module()");
  // A module with a multi-line extra_repr and no children prints it indented.
  struct Multi : Module {
    std::string type() const override { return "Multi"; }
    std::string extra_repr() const override { return "a=1\nb=2"; }
  };
  EXPECT_EQ(Multi().str(), "Multi(\n  a=1\n  b=2\n)");
  EXPECT_EQ(repr_float(0.5), "0.5");
  EXPECT_EQ(repr_float(1.0), "1.0");
  EXPECT_EQ(repr_float(0.1), "0.1");
  EXPECT_EQ(repr_float(1e-05), "1e-05");  // Python: repr(1e-05) == '1e-05'
}

}  // namespace
}  // namespace loom::nn
