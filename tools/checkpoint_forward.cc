// loom-checkpoint-forward: builds an RNN/LSTM/GRU from command-line options,
// loads its weights from a loom checkpoint (or draws them from a seed and
// saves them as one), runs an input through it and writes the results. The
// C++ half of the PyTorch interchange test (tests/torch_hdf5_test.py).
//
//   loom-checkpoint-forward --mode lstm --input-size 5 --hidden-size 7
//       [--num-layers 2] [--bidirectional] [--proj-size 3] [--no-bias]
//       [--batch-first] [--dtype float32|float64]
//       (--load CKPT.h5 | --save CKPT.h5 [--seed S])
//       --input IN.h5 --output OUT.h5
//
// IN.h5 holds the dataset "input" and optionally "h0" (and "c0" for an LSTM),
// in PyTorch's shapes; OUT.h5 receives "output", "h_n" (and "c_n"), in the
// module's dtype. --mode is rnn_tanh, rnn_relu, lstm or gru. The module runs
// in eval mode without gradients. Exit status: 0 done, 1 refused (the message
// says why), 2 bad usage.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "autograd/node.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/tensor_io.h"
#include "nn/checkpoint.h"
#include "nn/rnn.h"

namespace {

using namespace loom;

constexpr const char* kUsage =
    "usage: loom-checkpoint-forward --mode rnn_tanh|rnn_relu|lstm|gru --input-size C "
    "--hidden-size H [--num-layers K] [--bidirectional] [--proj-size P] [--no-bias] "
    "[--batch-first] [--dtype float32|float64] (--load CKPT.h5 | --save CKPT.h5 [--seed S]) "
    "--input IN.h5 --output OUT.h5\n";

struct Args {
  std::string mode;
  std::int64_t input_size = -1, hidden_size = -1, num_layers = 1, proj_size = 0;
  bool bidirectional = false, bias = true, batch_first = false;
  DType dtype = kFloat32;
  std::string load, save, input, output;
  std::uint64_t seed = 0;
};

std::int64_t to_int(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  std::int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  LOOM_CHECK(used == text.size() && !text.empty(), "{} expects an integer, got '{}'", flag, text);
  return v;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      LOOM_CHECK(i + 1 < argc, "{} needs a value", flag);
      return argv[++i];
    };
    if (flag == "--mode") a.mode = value();
    else if (flag == "--input-size") a.input_size = to_int(flag, value());
    else if (flag == "--hidden-size") a.hidden_size = to_int(flag, value());
    else if (flag == "--num-layers") a.num_layers = to_int(flag, value());
    else if (flag == "--proj-size") a.proj_size = to_int(flag, value());
    else if (flag == "--bidirectional") a.bidirectional = true;
    else if (flag == "--no-bias") a.bias = false;
    else if (flag == "--batch-first") a.batch_first = true;
    else if (flag == "--dtype") {
      std::string d = value();
      LOOM_CHECK(d == "float32" || d == "float64", "--dtype must be float32 or float64, got '{}'", d);
      a.dtype = d == "float32" ? kFloat32 : kFloat64;
    } else if (flag == "--load") a.load = value();
    else if (flag == "--save") a.save = value();
    else if (flag == "--seed") a.seed = static_cast<std::uint64_t>(to_int(flag, value()));
    else if (flag == "--input") a.input = value();
    else if (flag == "--output") a.output = value();
    else fail("unknown argument '{}'", flag);
  }
  LOOM_CHECK(a.mode == "rnn_tanh" || a.mode == "rnn_relu" || a.mode == "lstm" || a.mode == "gru",
             "--mode must be rnn_tanh, rnn_relu, lstm or gru, got '{}'", a.mode);
  LOOM_CHECK(a.input_size > 0 && a.hidden_size > 0, "--input-size and --hidden-size are required");
  LOOM_CHECK(a.load.empty() != a.save.empty(), "give exactly one of --load and --save");
  LOOM_CHECK(!a.input.empty() && !a.output.empty(), "--input and --output are required");
  return a;
}

// The optional dataset `name` of `tensors`, converted to `dtype`.
Tensor optional_tensor(const std::map<std::string, Tensor>& tensors, const std::string& name,
                       DType dtype) {
  auto it = tensors.find(name);
  return it == tensors.end() ? Tensor() : it->second.to(dtype);
}

int run(const Args& a) {
  nn::RNNOptions options(a.input_size, a.hidden_size);
  options.num_layers(a.num_layers).bidirectional(a.bidirectional).proj_size(a.proj_size)
      .bias(a.bias).batch_first(a.batch_first);
  if (a.mode == "rnn_relu") options.nonlinearity("relu");
  manual_seed(a.seed);
  std::shared_ptr<nn::RNNBase> module;
  if (a.mode == "lstm") module = std::make_shared<nn::LSTMImpl>(options);
  else if (a.mode == "gru") module = std::make_shared<nn::GRUImpl>(options);
  else module = std::make_shared<nn::RNNImpl>(options);
  module->to(a.dtype);
  module->eval();

  if (!a.load.empty()) nn::restore(nn::load_checkpoint(a.load), *module);
  else nn::save_checkpoint(a.save, {module->state_dict(), {}, {}, 0, {}});

  std::map<std::string, Tensor> in = load_tensors(a.input);
  LOOM_CHECK(in.count("input"), "'{}' has no dataset 'input'", a.input);
  Tensor x = in.at("input").to(a.dtype);
  Tensor h0 = optional_tensor(in, "h0", a.dtype);
  Tensor c0 = optional_tensor(in, "c0", a.dtype);

  NoGradGuard no_grad;
  std::map<std::string, Tensor> out;
  if (auto* lstm = dynamic_cast<nn::LSTMImpl*>(module.get())) {
    std::optional<nn::LSTMImpl::State> state;
    if (h0.defined() || c0.defined()) {
      LOOM_CHECK(h0.defined() && c0.defined(), "'{}': an LSTM needs both h0 and c0, or neither",
                 a.input);
      state = nn::LSTMImpl::State{h0, c0};
    }
    auto [y, hc] = lstm->forward(x, state);
    out = {{"output", y}, {"h_n", std::get<0>(hc)}, {"c_n", std::get<1>(hc)}};
  } else {
    LOOM_CHECK(!c0.defined(), "'{}': c0 is for an LSTM only", a.input);
    auto [y, h] = a.mode == "gru" ? static_cast<nn::GRUImpl&>(*module).forward(x, h0)
                                  : static_cast<nn::RNNImpl&>(*module).forward(x, h0);
    out = {{"output", y}, {"h_n", h}};
  }
  save_tensors(a.output, out);
  fmt::print("{} -> {}: output {}\n", module->str(), a.output, shape_str(out.at("output").shape()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    }
  }
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "loom-checkpoint-forward: {}\n{}", e.what(), kUsage);
    return 2;
  }
  try {
    return run(args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "loom-checkpoint-forward: {}\n", e.what());
    return 1;
  }
}
