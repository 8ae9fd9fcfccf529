// End-to-end training parity with PyTorch 1.13: a small LSTM language model
// (Embedding(11, 6) -> LSTM(6, 8, 2 layers) -> Linear(8, 11) -> cross_entropy
// over every position) trained for 20 steps
//   - with SGD (momentum, dampening, weight_decay) on independent batches, and
//   - with Adam after clip_grad_norm_, with truncated BPTT: the detached (h, c)
//     of one batch is the initial state of the next,
// from the same initial weights and the same batches as PyTorch. The numbers
// (initial weights, token batches, the loss of every step, clip_grad_norm_'s
// total norm, the final parameters) were written by PyTorch:
//   /usr/bin/python3 tests/fixtures/make_training_trajectory.py
// into tests/data/training/lstm_lm_trajectory.h5 (committed: no torch needed
// here). The same test body runs on the CPU and, where a GPU is present, on
// CUDA, in float64 (tight), float32 and under bfloat16 autocast (stated
// tolerances below; PyTorch's bfloat16 run emulates loom::autocast where
// PyTorch 1.13's CPU autocast does not cover the LSTM, see the generator).
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "core/hdf5_file.h"
#include "core/tensor_io.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom {
namespace {

// float64: loom and PyTorch compute the same formulas in a different order
// (BLAS, reductions). Measured on the CPU after 20 steps (2026-11-25): losses
// 6.3e-16 relative, clip norms 2.2e-16 relative, final parameters 1.1e-15
// absolute. The tolerances leave room for other BLAS builds and for CUDA.
constexpr double kLossRtol64 = 1e-10, kParamRtol64 = 1e-10, kParamAtol64 = 1e-12;
// float32: rounding differences (~6e-8 relative per operation) compound over
// 20 updates, and Adam divides by sqrt(v) of small gradients. Measured on the
// CPU: losses 1.2e-7 relative, clip norms 2.0e-7 relative, final parameters
// 1.8e-6 absolute (Adam run). Tolerances: 10x (losses) and ~30x (parameters).
constexpr double kLossRtol32 = 2e-6, kParamRtol32 = 1e-4, kParamAtol32 = 5e-5;
// bfloat16 autocast (loom::autocast(kBFloat16), float32 parameters) against
// PyTorch's bfloat16 run of the same steps (the generator's forward_autocast).
// The two runs round differently inside the LSTM (PyTorch's CPU bfloat16 LSTM
// rounds its gate math to bfloat16, loom's keeps it in float32), so each is a
// different bfloat16 perturbation of the float32 trajectory, and they drift
// apart as far as each drifts from float64. Two checks:
//  - each step's loss within one bfloat16 unit, 2^-8 relative, of PyTorch's
//    (measured on the CPU, 2026-11-30: 8.5e-4 SGD, 1.1e-3 Adam);
//  - loom's worst distance from the float64 trajectory, for losses, final
//    parameters (relative L2 per tensor) and clip norms, at most 1.5x
//    PyTorch's own (measured ratios: losses 0.90 and 0.96, parameters 0.27
//    and 0.38, clip norms 0.46: loom's run is the closer one).
constexpr double kLossRtolBf16 = 1.0 / 256, kBf16NoWorseThanTorch = 1.5;
// float16 autocast with optim::GradScaler (default options) against loom's
// own float32 run (PyTorch 1.13 has no CPU float16 LSTM to compare with), in
// units of u = 2^-11: each loss within u, final parameters within 8u
// (relative L2 per tensor; 20 updates), clip norms within 4u. Measured on
// the CPU (2026-11-30): losses 8.9e-5 / 8.7e-5 (SGD / Adam, 0.18u), final
// parameters 3.0e-4 / 1.0e-3 (2.1u), clip norms 4.8e-4 (1.0u).
constexpr double kLossRtolFp16 = 1.0 / 2048, kParamRelFp16 = 8.0 / 2048, kNormRtolFp16 = 4.0 / 2048;

struct Tolerance {
  double loss_rtol, param_rtol, param_atol;
};

// The tolerance for PyTorch's run `tag` ("float64", "float32", "autocast_bfloat16").
Tolerance tolerance_for(const std::string& tag) {
  if (tag == "float64") return {kLossRtol64, kParamRtol64, kParamAtol64};
  if (tag == "float32") return {kLossRtol32, kParamRtol32, kParamAtol32};
  fail("no tolerance for PyTorch run '{}'", tag);
}

// The model of make_training_trajectory.py, with the same child names so that
// PyTorch's state_dict keys ("lstm.weight_ih_l0", ...) map one to one.
class LanguageModel : public nn::Module {
 public:
  LanguageModel(std::int64_t vocab, std::int64_t embed, std::int64_t hidden, std::int64_t layers) {
    embedding = register_module("embedding", std::make_shared<nn::EmbeddingImpl>(vocab, embed));
    lstm = register_module("lstm",
                           std::make_shared<nn::LSTMImpl>(nn::LSTMOptions(embed, hidden).num_layers(layers)));
    head = register_module("head", std::make_shared<nn::LinearImpl>(hidden, vocab));
  }
  // tokens Int64 [T, N] -> (logits [T, N, V], (h_n, c_n)).
  std::tuple<Tensor, nn::LSTMImpl::State> forward(const Tensor& tokens,
                                              const std::optional<nn::LSTMImpl::State>& state) {
    auto [out, new_state] = lstm->forward(embedding->forward(tokens), state);
    return {head->forward(out), new_state};
  }
  std::string type() const override { return "LanguageModel"; }
  std::shared_ptr<nn::EmbeddingImpl> embedding;
  std::shared_ptr<nn::LSTMImpl> lstm;
  std::shared_ptr<nn::LinearImpl> head;
};

const std::string& reference_path() {
  static const std::string path = testing::source_path("tests/data/training/lstm_lm_trajectory.h5");
  return path;
}

const std::map<std::string, Tensor>& reference() {
  static const std::map<std::string, Tensor> file = load_tensors(reference_path());
  return file;
}

// Root attributes of the reference file: hyperparameters (attr) and sizes
// (size_attr). Opened per use: a static Hdf5File would outlive the HDF5
// library at exit ("HDF5: infinite loop closing library").
Hdf5File reference_file() { return Hdf5File::open_read(reference_path()); }
double attr(const std::string& name) { return reference_file().attr_double("/", name); }
std::int64_t size_attr(const std::string& name) { return reference_file().attr_int("/", name); }

const Tensor& stored(const std::string& key) {
  auto it = reference().find(key);
  if (it == reference().end()) throw std::runtime_error("reference file lacks " + key);
  return it->second;
}

struct Trajectory {
  std::vector<double> losses;
  std::vector<double> grad_norms;  // adam run only
  int steps_taken = 0;             // optimizer steps not skipped by a GradScaler
  nn::StateDict final_state;
};

// Trains the model from init/ on run's batches ("sgd" or "adam") as the
// generator did, on `device` in `dtype`; with `autocast_type`, the forward
// and the loss run under loom::autocast(*autocast_type) (float32 parameters).
Trajectory train(const std::string& run, Device device, DType dtype,
                 std::optional<DType> autocast_type = std::nullopt,
                 optim::GradScaler* scaler = nullptr) {
  const std::int64_t steps = size_attr("steps"), T = size_attr("seq_len"), N = size_attr("batch");
  const std::int64_t V = size_attr("vocab");
  LanguageModel model(V, size_attr("embed"), size_attr("hidden"), size_attr("num_layers"));
  nn::StateDict init;
  for (const auto& [key, value] : reference())
    if (key.rfind("init/", 0) == 0) init.insert(key.substr(5), value);
  model.load_state_dict(init);  // float64 values; to() below rounds as PyTorch's .to(float32)
  model.to(dtype);
  model.to(device);
  std::vector<Tensor> params = model.parameters();

  std::unique_ptr<optim::Optimizer> opt;
  if (run == "sgd")
    opt = std::make_unique<optim::SGD>(params, optim::SGDOptions(attr("sgd_lr"))
                                                   .momentum(attr("sgd_momentum"))
                                                   .dampening(attr("sgd_dampening"))
                                                   .weight_decay(attr("sgd_weight_decay")));
  else
    opt = std::make_unique<optim::Adam>(params, optim::AdamOptions(attr("adam_lr"))
                                                    .betas({attr("adam_beta1"), attr("adam_beta2")})
                                                    .eps(attr("adam_eps")));

  Trajectory out;
  std::optional<nn::LSTMImpl::State> state;
  for (std::int64_t s = 0; s < steps; ++s) {
    Tensor x = stored(run + "/inputs").select(0, s).to(device);
    Tensor y = stored(run + "/targets").select(0, s).to(device);
    opt->zero_grad();
    Tensor loss;
    nn::LSTMImpl::State new_state;
    {
      autocast guard(autocast_type.value_or(kBFloat16), autocast_type.has_value());
      auto [logits, next] = model.forward(x, run == "adam" ? state : std::nullopt);
      loss = cross_entropy(logits.reshape({T * N, V}), y.reshape({T * N}));
      new_state = next;
    }
    if (scaler) {
      scaler->scale(loss).backward();
      scaler->unscale_(*opt);  // before clipping, as PyTorch's recipe
    } else {
      loss.backward();
    }
    if (run == "adam") {
      out.grad_norms.push_back(optim::clip_grad_norm_(params, attr("adam_clip_max_norm")).item());
      state = nn::LSTMImpl::State{std::get<0>(new_state).detach(), std::get<1>(new_state).detach()};
    }
    if (scaler) {
      out.steps_taken += scaler->step(*opt) ? 1 : 0;
      scaler->update();
    } else {
      opt->step();
      ++out.steps_taken;
    }
    out.losses.push_back(loss.item());
  }
  out.final_state = model.state_dict();
  return out;
}

// PyTorch's final parameters of `run` in `tag`, by state_dict name.
std::map<std::string, Tensor> stored_final(const std::string& run, const std::string& tag) {
  std::map<std::string, Tensor> out;
  const std::string prefix = run + "/final_" + tag + "/";
  for (const auto& [key, value] : reference())
    if (key.rfind(prefix, 0) == 0) out.emplace(key.substr(prefix.size()), value);
  return out;
}

struct Worst {
  double loss_rel = 0, norm_rel = 0, param_abs = 0;
};

double worst_relative(const std::vector<double>& a, const std::vector<double>& e) {
  double w = 0;
  for (std::size_t i = 0; i < a.size() && i < e.size(); ++i)
    w = std::max(w, std::abs(a[i] - e[i]) / std::abs(e[i]));
  return w;
}

// Compares a loom run against PyTorch's run in `tag` ("float64"/"float32").
Worst compare(const std::string& run, const Trajectory& got, const std::string& tag) {
  const Tolerance tol = tolerance_for(tag);
  const double loss_rtol = tol.loss_rtol;
  Worst w;
  std::vector<double> losses = stored(run + "/losses_" + tag).to_vector<double>();
  EXPECT_EQ(got.losses.size(), losses.size());
  testing::expect_all_close(got.losses, losses, loss_rtol, 0, run + " losses " + tag);
  w.loss_rel = worst_relative(got.losses, losses);
  if (run == "adam") {
    std::vector<double> norms = stored(run + "/grad_norm_" + tag).to_vector<double>();
    testing::expect_all_close(got.grad_norms, norms, loss_rtol, 0, run + " clip_grad_norm_ " + tag);
    w.norm_rel = worst_relative(got.grad_norms, norms);
  }
  int compared = 0;
  for (const auto& [name, value] : stored_final(run, tag)) {
    const Tensor* mine = got.final_state.find(name);
    if (mine == nullptr) {
      ADD_FAILURE() << "loom's model has no parameter " << name;
      continue;
    }
    EXPECT_EQ(mine->shape(), value.shape()) << name;
    w.param_abs = std::max(
        w.param_abs, testing::expect_all_close(mine->to_vector<double>(), value.to_vector<double>(),
                                               tol.param_rtol, tol.param_atol,
                                               run + " final " + name + " " + tag));
    ++compared;
  }
  EXPECT_EQ(compared, 11) << "parameters compared for " << run;
  return w;
}

class TrainingParity : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    if (GetParam().is_cuda()) LOOM_SKIP_WITHOUT_CUDA();
  }
  void check(const std::string& run, DType dtype, std::optional<DType> autocast_type = std::nullopt) {
    const std::string tag = autocast_type ? "autocast_" + std::string(dtype_name(*autocast_type))
                            : dtype == kFloat64 ? "float64" : "float32";
    Trajectory got = train(run, GetParam(), dtype, autocast_type);
    Worst w = compare(run, got, tag);
    // Sanity of the task itself: the model learned something in 20 steps.
    EXPECT_LT(got.losses.back(), got.losses.front()) << run;
    std::string line = fmt::format("{} {} {}: worst loss rel err {:.3g}, clip norm rel err {:.3g}, "
                                   "final param abs err {:.3g} (loss {:.6f} -> {:.6f})",
                                   run, tag, GetParam().str(), w.loss_rel, w.norm_rel, w.param_abs,
                                   got.losses.front(), got.losses.back());
    RecordProperty("worst", line);
    std::printf("%s\n", line.c_str());
  }
  // float16 autocast with a GradScaler (PyTorch's defaults) against loom's
  // own float32 run of the same steps (see kLossRtolFp16).
  void check_float16_scaler(const std::string& run) {
    optim::GradScaler scaler;
    Trajectory got = train(run, GetParam(), kFloat32, kFloat16, &scaler);
    Trajectory ref = train(run, GetParam(), kFloat32);
    const double loss_dist = worst_relative(got.losses, ref.losses);
    double param_dist = 0;
    for (const auto& [name, value] : ref.final_state) {
      const Tensor* mine = got.final_state.find(name);
      ASSERT_NE(mine, nullptr) << name;
      EXPECT_EQ(mine->dtype(), kFloat32);
      param_dist = std::max(param_dist, testing::relative_l2_error(mine->to_vector<double>(), value.to_vector<double>()));
    }
    const double norm_dist = run == "adam" ? worst_relative(got.grad_norms, ref.grad_norms) : 0.0;
    // No gradient overflows at the default scale 2^16 here: every step is
    // taken and the scale never backs off (nor grows: 20 < growth_interval).
    EXPECT_EQ(got.steps_taken, 20);
    EXPECT_EQ(scaler.get_scale(), 65536.0);
    EXPECT_LE(loss_dist, kLossRtolFp16) << run;
    EXPECT_LE(param_dist, kParamRelFp16) << run;
    EXPECT_LE(norm_dist, kNormRtolFp16) << run;
    EXPECT_LT(got.losses.back(), got.losses.front()) << run;
    std::string line = fmt::format(
        "{} autocast_float16 + GradScaler {}: worst relative distance from loom's float32 run: losses {:.3g}, "
        "final parameters (L2 per tensor) {:.3g}, clip norms {:.3g}; {} of 20 steps taken, final scale {}",
        run, GetParam().str(), loss_dist, param_dist, norm_dist, got.steps_taken, scaler.get_scale());
    RecordProperty("worst", line);
    std::printf("%s\n", line.c_str());
  }

  // bfloat16 autocast (see kLossRtolBf16): each step's loss against PyTorch's
  // bfloat16 run, and loom's distance from the exact (float64) trajectory
  // against PyTorch's own bfloat16 distance from it.
  void check_autocast(const std::string& run) {
    Trajectory got = train(run, GetParam(), kFloat32, kBFloat16);
    const std::string tag = "autocast_bfloat16";
    std::vector<double> torch16 = stored(run + "/losses_" + tag).to_vector<double>();
    std::vector<double> exact = stored(run + "/losses_float64").to_vector<double>();
    ASSERT_EQ(got.losses.size(), torch16.size());
    testing::expect_all_close(got.losses, torch16, kLossRtolBf16, 0, run + " losses " + tag);
    struct Distances {
      double loom_torch = 0, loom_exact = 0, torch_exact = 0;
    } loss, param, norm;
    loss = {worst_relative(got.losses, torch16), worst_relative(got.losses, exact),
            worst_relative(torch16, exact)};
    int compared = 0;
    for (const auto& [name, value] : stored_final(run, tag)) {
      const Tensor* mine = got.final_state.find(name);
      ASSERT_NE(mine, nullptr) << name;
      EXPECT_EQ(mine->dtype(), kFloat32) << name;
      std::vector<double> m = mine->to_vector<double>(), t16 = value.to_vector<double>();
      std::vector<double> ex = stored(run + "/final_float64/" + name).to_vector<double>();
      param.loom_torch = std::max(param.loom_torch, testing::relative_l2_error(m, t16));
      param.loom_exact = std::max(param.loom_exact, testing::relative_l2_error(m, ex));
      param.torch_exact = std::max(param.torch_exact, testing::relative_l2_error(t16, ex));
      ++compared;
    }
    EXPECT_EQ(compared, 11);
    if (run == "adam") {
      std::vector<double> n16 = stored(run + "/grad_norm_" + tag).to_vector<double>();
      std::vector<double> n64 = stored(run + "/grad_norm_float64").to_vector<double>();
      norm = {worst_relative(got.grad_norms, n16), worst_relative(got.grad_norms, n64),
              worst_relative(n16, n64)};
    }
    EXPECT_LE(loss.loom_exact, kBf16NoWorseThanTorch * loss.torch_exact) << run << " losses";
    EXPECT_LE(param.loom_exact, kBf16NoWorseThanTorch * param.torch_exact) << run << " parameters";
    EXPECT_LE(norm.loom_exact, kBf16NoWorseThanTorch * norm.torch_exact) << run << " clip norms";
    EXPECT_LT(got.losses.back(), got.losses.front()) << run;
    std::string line = fmt::format(
        "{} {} {}: worst relative distance loom-PyTorch / loom-float64 / PyTorch-float64: "
        "losses {:.3g} / {:.3g} / {:.3g}, final parameters (L2 per tensor) {:.3g} / {:.3g} / {:.3g}, "
        "clip norms {:.3g} / {:.3g} / {:.3g}",
        run, tag, GetParam().str(), loss.loom_torch, loss.loom_exact, loss.torch_exact,
        param.loom_torch, param.loom_exact, param.torch_exact, norm.loom_torch, norm.loom_exact,
        norm.torch_exact);
    RecordProperty("worst", line);
    std::printf("%s\n", line.c_str());
  }
};

TEST_P(TrainingParity, SgdMomentumFloat64) { check("sgd", kFloat64); }
TEST_P(TrainingParity, SgdMomentumFloat32) { check("sgd", kFloat32); }
TEST_P(TrainingParity, AdamClipTruncatedBpttFloat64) { check("adam", kFloat64); }
TEST_P(TrainingParity, AdamClipTruncatedBpttFloat32) { check("adam", kFloat32); }
TEST_P(TrainingParity, SgdMomentumAutocastBFloat16) { check_autocast("sgd"); }
TEST_P(TrainingParity, AdamClipTruncatedBpttAutocastBFloat16) { check_autocast("adam"); }
TEST_P(TrainingParity, SgdMomentumAutocastFloat16GradScaler) { check_float16_scaler("sgd"); }
TEST_P(TrainingParity, AdamClipTruncatedBpttAutocastFloat16GradScaler) { check_float16_scaler("adam"); }

// CUDA and CPU run the same test body; the CUDA instance skips without a GPU.
INSTANTIATE_TEST_SUITE_P(Devices, TrainingParity, ::testing::Values(kCPU, kCUDA),
                         [](const ::testing::TestParamInfo<Device>& info) {
                           return info.param.is_cuda() ? std::string("Cuda") : std::string("Cpu");
                         });

// The reference file is what the generator says it is (guards against a
// regenerated file with other sizes silently changing what is tested).
TEST(TrainingParityData, ReferenceFileLayout) {
  EXPECT_EQ(size_attr("steps"), 20);
  EXPECT_EQ(size_attr("num_layers"), 2);
  EXPECT_GT(attr("sgd_momentum"), 0);
  EXPECT_GT(attr("sgd_dampening"), 0);
  EXPECT_GT(attr("sgd_weight_decay"), 0);
  EXPECT_EQ(stored("sgd/inputs").shape(), (Shape{20, 7, 5}));
  EXPECT_EQ(stored("adam/targets").shape(), (Shape{20, 7, 5}));
  EXPECT_EQ(stored("sgd/inputs").dtype(), kInt64);
  EXPECT_EQ(stored("init/lstm.weight_ih_l0").shape(), (Shape{32, 6}));
  EXPECT_EQ(stored("init/lstm.weight_hh_l1").shape(), (Shape{32, 8}));
  EXPECT_EQ(stored("init/embedding.weight").dtype(), kFloat64);
  EXPECT_EQ(stored("adam/losses_float32").dtype(), kFloat32);
  EXPECT_EQ(stored("adam/losses_autocast_bfloat16").dtype(), kFloat32);
  EXPECT_EQ(stored("sgd/final_autocast_bfloat16/lstm.weight_hh_l1").dtype(), kFloat32);
  // Truncated BPTT batches are consecutive windows: the first target of
  // window s + 1 follows the last target of window s in the same stream.
  std::vector<std::int64_t> x = stored("adam/inputs").to_vector<std::int64_t>();
  std::vector<std::int64_t> y = stored("adam/targets").to_vector<std::int64_t>();
  EXPECT_EQ(x[1 * 35 + 0 * 5 + 2], y[0 * 35 + 6 * 5 + 2]);
  // Clipping is active on some steps and not on others.
  const double max_norm = attr("adam_clip_max_norm");
  std::vector<double> norms = stored("adam/grad_norm_float64").to_vector<double>();
  EXPECT_TRUE(std::any_of(norms.begin(), norms.end(), [&](double n) { return n > max_norm; }));
  EXPECT_TRUE(std::any_of(norms.begin(), norms.end(), [&](double n) { return n < max_norm; }));
}

}  // namespace
}  // namespace loom
