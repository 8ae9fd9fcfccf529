// Recurrent layers and cells fed NaN and +-inf behave as PyTorch 1.13's: the
// same elements of the output, final states and every gradient are NaN,
// +inf, -inf or finite, and the finite ones agree to tolerance. The numbers
// were written by PyTorch:
//   /usr/bin/python3 tests/fixtures/make_nonfinite_reference.py
// into tests/data/nonfinite/rnn_nonfinite.h5 (committed; layout in the script):
// nn.RNN (tanh, relu), nn.LSTM, nn.GRU (1 layer; LSTM and GRU also 2 layers,
// bidirectional) and nn.RNNCell/LSTMCell/GRUCell unrolled over 5 steps, with
// input[3, 2, 1] = +inf and input[3, 1, 0] = -inf, and additionally
// input[1, 0, 2] = nan; float64 and float32, CPU and (when present) CUDA.
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "core/hdf5_file.h"
#include "core/tensor_io.h"
#include "nn/cells.h"
#include "nn/rnn.h"
#include "nonfinite_testing.h"
#include "testing.h"

namespace loom {
namespace {

// The tolerances of the project's PyTorch reference cases (README): float64
// rtol 1e-9, atol 1e-11; float32 rtol 1e-4, atol 1e-5.
constexpr double kRtol64 = 1e-9, kAtol64 = 1e-11, kRtol32 = 1e-4, kAtol32 = 1e-5;

const std::string& reference_path() {
  static const std::string path = testing::source_path("tests/data/nonfinite/rnn_nonfinite.h5");
  return path;
}

const std::map<std::string, Tensor>& reference() {
  static const std::map<std::string, Tensor> file = load_tensors(reference_path());
  return file;
}

struct CaseInfo {
  std::string name, mode, kind;
  std::int64_t input_size, hidden_size, num_layers;
  bool bidirectional;
};

std::vector<CaseInfo> cases() {
  const Hdf5File f = Hdf5File::open_read(reference_path());
  std::vector<CaseInfo> out;
  for (const std::string& name : f.list("/")) {
    const std::string g = "/" + name;
    out.push_back({name, f.attr_string(g, "mode"), f.attr_string(g, "kind"),
                   f.attr_int(g, "input_size"), f.attr_int(g, "hidden_size"),
                   f.attr_int(g, "num_layers"), f.attr_int(g, "bidirectional") != 0});
  }
  return out;
}

// What one run produced, by the reference file's dataset names.
using Results = std::map<std::string, Tensor>;

// The loom module of a case, its parameters loaded from params/.
std::shared_ptr<nn::Module> make_module(const CaseInfo& c, const std::map<std::string, Tensor>& params,
                                        DType dtype) {
  std::shared_ptr<nn::Module> m;
  const std::string act = c.mode == "rnn_relu" ? "relu" : "tanh";
  if (c.kind == "layer") {
    auto o = nn::RNNOptions(c.input_size, c.hidden_size).num_layers(c.num_layers).bidirectional(c.bidirectional);
    if (c.mode == "lstm") m = std::make_shared<nn::LSTMImpl>(o);
    else if (c.mode == "gru") m = std::make_shared<nn::GRUImpl>(o);
    else m = std::make_shared<nn::RNNImpl>(o.nonlinearity(act));
  } else {
    if (c.mode == "lstm") m = std::make_shared<nn::LSTMCellImpl>(c.input_size, c.hidden_size);
    else if (c.mode == "gru") m = std::make_shared<nn::GRUCellImpl>(c.input_size, c.hidden_size);
    else m = std::make_shared<nn::RNNCellImpl>(nn::RNNCellOptions(c.input_size, c.hidden_size).nonlinearity(act));
  }
  m->to(dtype);  // first, so that loading keeps every stored bit
  nn::StateDict state;
  for (const auto& [name, value] : params) state.insert(name, value);
  m->load_state_dict(state);
  return m;
}

// Runs case c from the stored inputs on `device` in `dtype`: forward, then
// backward of sum(output * grad_output) + sum(h_n * grad_h_n) (+ c_n).
Results run_case(const CaseInfo& c, const std::string& dtype_name, Device device) {
  const DType dtype = dtype_name == "float64" ? kFloat64 : kFloat32;
  const std::string prefix = c.name + "/" + dtype_name + "/";
  auto stored = [&](const std::string& key) {
    auto it = reference().find(prefix + key);
    if (it == reference().end()) throw std::runtime_error("reference lacks " + prefix + key);
    EXPECT_EQ(it->second.dtype(), dtype) << prefix + key;
    // A fresh leaf: on the CPU `to` returns the stored tensor itself, and
    // requires_grad_/backward on it would leak into the next run (the CUDA
    // variant then got a non-leaf copy and no x.grad: seen on the H200).
    return to(it->second, device).detach();
  };
  std::map<std::string, Tensor> params;
  for (const auto& [key, value] : reference())
    if (key.rfind(prefix + "params/", 0) == 0) params[key.substr(prefix.size() + 7)] = value;
  auto module = make_module(c, params, dtype);
  module->to(device);
  const bool lstm = c.mode == "lstm";
  Tensor x = stored("input").requires_grad_();
  Tensor h0 = stored("h0").requires_grad_();
  Tensor c0 = lstm ? stored("c0").requires_grad_() : Tensor();
  Tensor out, h_n, c_n;
  if (c.kind == "layer") {
    if (lstm) {
      auto [o, state] = static_cast<nn::LSTMImpl&>(*module).forward(x, nn::LSTMImpl::State{h0, c0});
      out = o, h_n = std::get<0>(state), c_n = std::get<1>(state);
    } else if (c.mode == "gru") {
      std::tie(out, h_n) = static_cast<nn::GRUImpl&>(*module).forward(x, h0);
    } else {
      std::tie(out, h_n) = static_cast<nn::RNNImpl&>(*module).forward(x, h0);
    }
  } else {
    Tensor h = select(h0, 0, 0), cs = lstm ? select(c0, 0, 0) : Tensor();
    std::vector<Tensor> hs;
    for (std::int64_t t = 0; t < x.size(0); ++t) {
      Tensor xt = select(x, 0, t);
      if (lstm) std::tie(h, cs) = static_cast<nn::LSTMCellImpl&>(*module).forward(xt, nn::LSTMCellImpl::State{h, cs});
      else if (c.mode == "gru") h = static_cast<nn::GRUCellImpl&>(*module).forward(xt, h);
      else h = static_cast<nn::RNNCellImpl&>(*module).forward(xt, h);
      hs.push_back(h);
    }
    out = stack(hs);
    h_n = unsqueeze(h, 0);
    if (lstm) c_n = unsqueeze(cs, 0);
  }
  Tensor loss = (out * stored("grad_output")).sum() + (h_n * stored("grad_h_n")).sum();
  if (lstm) loss = loss + (c_n * stored("grad_c_n")).sum();
  loss.backward();
  Results r = {{"output", out}, {"h_n", h_n}, {"grad/input", x.grad()}, {"grad/h0", h0.grad()}};
  if (lstm) r["c_n"] = c_n, r["grad/c0"] = c0.grad();
  for (const auto& [name, p] : module->named_parameters()) r["grad/" + name] = p.grad();
  return r;
}

// Compares every result of case c with PyTorch's; returns the worst finite error.
double check_case(const CaseInfo& c, const std::string& dtype, Device device) {
  SCOPED_TRACE(fmt::format("{} {} {}", c.name, dtype, device));
  const bool f64 = dtype == "float64";
  const Results r = run_case(c, dtype, device);
  const std::string prefix = c.name + "/" + dtype + "/";
  std::size_t compared = 0;
  double worst = 0;
  for (const auto& [key, expected] : reference()) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string name = key.substr(prefix.size());
    const bool is_result = name == "output" || name == "h_n" || name == "c_n" || name.rfind("grad/", 0) == 0;
    if (!is_result) continue;
    auto it = r.find(name);
    if (it == r.end() || !it->second.defined()) {
      ADD_FAILURE() << "loom produced no " << name;
      continue;
    }
    EXPECT_EQ(it->second.shape(), expected.shape()) << name;
    worst = std::max(worst, testing::expect_same_nonfinite(
                                it->second.to_vector<double>(), expected.to_vector<double>(),
                                f64 ? kRtol64 : kRtol32, f64 ? kAtol64 : kAtol32, name));
    ++compared;
  }
  EXPECT_EQ(compared, r.size()) << "every result compared against a stored one";
  return worst;
}

void check_all(Device device) {
  const std::vector<CaseInfo> all = cases();
  ASSERT_EQ(all.size(), 20u) << "cases in " << reference_path();
  double worst64 = 0, worst32 = 0;
  for (const CaseInfo& c : all) {
    worst64 = std::max(worst64, check_case(c, "float64", device));
    worst32 = std::max(worst32, check_case(c, "float32", device));
  }
  ::testing::Test::RecordProperty("worst_abs_err_f64", fmt::format("{:.3g}", worst64));
  ::testing::Test::RecordProperty("worst_abs_err_f32", fmt::format("{:.3g}", worst32));
  std::printf("worst finite |loom - PyTorch|: float64 %.3g, float32 %.3g\n", worst64, worst32);
}

// The file itself: it must hold non-finite values where the test needs them
// (a generator that silently lost the poisoning would make every check easy).
TEST(NonfiniteReference, FileHoldsNanAndInfinities) {
  for (const CaseInfo& c : cases()) {
    for (const char* dtype : {"float64", "float32"}) {
      const std::string prefix = c.name + "/" + dtype + "/";
      const std::vector<double> x = reference().at(prefix + "input").to_vector<double>();
      const std::int64_t N = 3, C = c.input_size;
      EXPECT_EQ(x[(3 * N + 2) * C + 1], INFINITY) << prefix;
      EXPECT_EQ(x[(3 * N + 1) * C + 0], -INFINITY) << prefix;
      EXPECT_EQ(std::isnan(x[(1 * N + 0) * C + 2]), c.name.find("nan") != std::string::npos) << prefix;
      const std::string w = prefix + (c.kind == "layer" ? "grad/weight_ih_l0" : "grad/weight_ih");
      bool any_nonfinite = false;
      for (double v : reference().at(w).to_vector<double>()) any_nonfinite |= !std::isfinite(v);
      EXPECT_TRUE(any_nonfinite) << w << " should be poisoned";
    }
  }
}

TEST(NonfiniteReference, LayersAndCellsMatchPyTorchCpu) { check_all(kCPU); }

TEST(NonfiniteReference, LayersAndCellsMatchPyTorchCuda) {
  LOOM_SKIP_WITHOUT_CUDA();
  check_all(kCUDA);
}

}  // namespace
}  // namespace loom
