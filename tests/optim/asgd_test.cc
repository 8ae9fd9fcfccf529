// optim::ASGD against PyTorch 1.13's torch.optim.ASGD: every parameter and
// every average ("ax") after every step of the trajectories in
// tests/data/optim/asgd_reference.txt (tests/fixtures/make_asgd_trajectories.py),
// in float64 and float32; state_dict and checkpoint round trips; the
// averages swapped in for evaluation; PyTorch's error messages.
#include <algorithm>
#include <cmath>

#include "core/native.h"
#include "nn/checkpoint.h"
#include "optim/asgd.h"
#include "optim_reference.h"
#include "testing.h"

namespace loom {
namespace {

namespace ref = testing::optim_reference;

constexpr double kRtol64 = 1e-12, kAtol64 = 1e-14;
constexpr double kRtol32 = 1e-5, kAtol32 = 1e-6;

const ref::Reference& asgd_reference() {
  static const ref::Reference r = ref::load("tests/data/optim/asgd_reference.txt");
  return r;
}

using ref::make_params;
using ref::set_grads;

// Parameters and averages after step t against PyTorch; returns the worst |error|.
double check_step(const ref::TrajectoryCase& c, const std::string& dtype, std::size_t t,
                  const std::vector<Tensor>& params, const optim::ASGD& opt) {
  const bool f64 = dtype == "float64";
  const double rtol = f64 ? kRtol64 : kRtol32, atol = f64 ? kAtol64 : kAtol32;
  double worst = 0;
  const auto& averaged = c.averaged.at(dtype).at(t - 1);
  for (std::size_t p = 0; p < params.size(); ++p) {
    const std::string what = fmt::format("{} {} step {} param {}", c.name, dtype, t, p);
    worst = std::max(worst, testing::expect_all_close(params[p].to_vector<double>(),
                                                      c.expected.at(dtype)[t - 1][p], rtol, atol, what));
    Tensor ax = opt.averaged(params[p]);
    auto it = averaged.find(static_cast<int>(p));
    if (it == averaged.end()) {
      EXPECT_FALSE(ax.defined()) << what << ": PyTorch has no state yet";
      continue;
    }
    EXPECT_TRUE(ax.defined()) << what;
    if (!ax.defined()) continue;
    EXPECT_EQ(ax.dtype(), params[p].dtype()) << what;
    worst = std::max(worst, testing::expect_all_close(ax.to_vector<double>(), it->second, rtol, atol,
                                                      what + " ax"));
  }
  return worst;
}

std::unique_ptr<optim::ASGD> make_case_asgd(const ref::TrajectoryCase& c, const std::vector<Tensor>& params) {
  auto base = ref::make_case_optimizer(c, params);
  return std::unique_ptr<optim::ASGD>(dynamic_cast<optim::ASGD*>(base.release()));
}

TEST(ASGDReference, TrajectoriesAndAveragesMatchPyTorch) {
  int count = 0;
  for (const auto& c : asgd_reference().cases) {
    SCOPED_TRACE(c.name);
    ASSERT_EQ(c.kind, "ASGD");
    ASSERT_EQ(c.grads.size(), 10u);
    ++count;
    for (const char* dtype : {"float64", "float32"}) {
      auto params = make_params(c, std::string(dtype) == "float64" ? kFloat64 : kFloat32);
      auto opt = make_case_asgd(c, params);
      ASSERT_TRUE(opt);
      double worst = 0;
      for (std::size_t t = 1; t <= 10; ++t) {
        set_grads(c, t, params);
        opt->step();
        worst = std::max(worst, check_step(c, dtype, t, params, *opt));
      }
      ::testing::Test::RecordProperty(c.name + "_worst_abs_err_" + dtype, fmt::format("{:.3g}", worst));
    }
  }
  EXPECT_GE(count, 6);
}

// Averaging really happens in the cases (mu < 1): the average differs from
// the iterate, so a test comparing only one of them could not pass by luck.
TEST(ASGDReference, CasesExerciseAveraging) {
  const auto& c = asgd_reference().find_case("asgd_t0_3");
  const auto& p10 = c.expected.at("float64")[9][0];
  const auto& a10 = c.averaged.at("float64").at(9).at(0);
  double diff = 0;
  for (std::size_t k = 0; k < p10.size(); ++k) diff = std::max(diff, std::abs(p10[k] - a10[k]));
  EXPECT_GT(diff, 1e-3);
}

// The state after 5 steps, through state_dict() and an HDF5 checkpoint, into
// a fresh ASGD built with other options: the continued run matches PyTorch
// and the original optimizer bit for bit.
class ASGDCheckpointTest : public testing::TempDirTest {};

TEST_F(ASGDCheckpointTest, StateDictAndCheckpointRoundTrip) {
  for (const char* name : {"asgd_t0_3", "asgd_skips", "asgd_groups", "asgd_weight_decay_maximize"}) {
    for (const char* dtype : {"float64", "float32"}) {
      SCOPED_TRACE(std::string(name) + " " + dtype);
      const auto& c = asgd_reference().find_case(name);
      auto params = make_params(c, std::string(dtype) == "float64" ? kFloat64 : kFloat32);
      auto opt = make_case_asgd(c, params);
      for (std::size_t t = 1; t <= 5; ++t) set_grads(c, t, params), opt->step();
      optim::StateDict saved = opt->state_dict();
      EXPECT_EQ(saved.scalars.at("state.0.step"), 5.0);
      EXPECT_TRUE(saved.scalars.count("state.0.eta"));
      EXPECT_TRUE(saved.scalars.count("state.0.mu"));
      EXPECT_TRUE(saved.tensors.count("state.0.ax"));
      const std::string path = file(std::string(name) + "_" + dtype + ".h5");
      nn::save_checkpoint(path, {{}, saved, {}, 5, {}});
      nn::Checkpoint loaded = nn::load_checkpoint(path);

      std::vector<Tensor> copies;
      for (const Tensor& p : params) copies.push_back(native::clone(p).requires_grad_(true));
      std::vector<optim::ParamGroup> groups;
      if (c.groups.empty()) {
        groups.emplace_back(copies);
      } else {
        for (const auto& g : c.groups) {
          std::vector<Tensor> ps;
          for (int i : g.indices) ps.push_back(copies[i]);
          groups.emplace_back(ps);
        }
      }
      optim::ASGD fresh(std::move(groups), optim::ASGDOptions(0.5).t0(100).lambd(0.3));
      fresh.load_state_dict(loaded.optimizer);
      for (std::size_t g = 0; g < opt->param_groups().size(); ++g)
        EXPECT_EQ(fresh.param_groups()[g].options->to_scalars(), opt->param_groups()[g].options->to_scalars());
      for (std::size_t t = 6; t <= 10; ++t) {
        set_grads(c, t, params);
        set_grads(c, t, copies);
        opt->step();
        fresh.step();
        check_step(c, dtype, t, copies, fresh);
        for (std::size_t p = 0; p < params.size(); ++p) {
          EXPECT_EQ(copies[p].to_vector<double>(), params[p].to_vector<double>()) << "step " << t;
          EXPECT_EQ(fresh.averaged(copies[p]).to_vector<double>(), opt->averaged(params[p]).to_vector<double>());
        }
      }
    }
  }
}

TEST(ASGDStateDict, MissingEntriesAreRefused) {
  const auto& c = asgd_reference().find_case("asgd_t0_3");
  auto params = make_params(c, kFloat64);
  auto opt = make_case_asgd(c, params);
  set_grads(c, 1, params);
  opt->step();
  for (const char* key : {"state.1.ax", "state.1.eta", "state.1.mu", "state.1.step"}) {
    optim::StateDict d = opt->state_dict();
    d.tensors.erase(key);
    d.scalars.erase(key);
    optim::ASGD other(params, optim::ASGDOptions());
    testing::expect_error_text([&] { other.load_state_dict(d); },
                               fmt::format("optimizer state entry '{}' is missing", key));
  }
}

// swap_with_averages: the parameters take the averages, and a second call
// restores the iterates exactly; the averages are not disturbed.
TEST(ASGDAverages, SwapForEvaluationAndBack) {
  const auto& c = asgd_reference().find_case("asgd_t0_3");
  auto params = make_params(c, kFloat64);
  auto opt = make_case_asgd(c, params);
  for (std::size_t t = 1; t <= 10; ++t) set_grads(c, t, params), opt->step();
  std::vector<std::vector<double>> iterates, averages;
  for (const Tensor& p : params) {
    iterates.push_back(p.to_vector<double>());
    averages.push_back(opt->averaged(p).to_vector<double>());
  }
  opt->swap_with_averages();
  for (std::size_t p = 0; p < params.size(); ++p) {
    EXPECT_EQ(params[p].to_vector<double>(), averages[p]);
    testing::expect_all_close(params[p].to_vector<double>(), c.averaged.at("float64").at(9).at(static_cast<int>(p)),
                              kRtol64, kAtol64, "swapped-in average against PyTorch's ax");
  }
  opt->swap_with_averages();
  for (std::size_t p = 0; p < params.size(); ++p) {
    EXPECT_EQ(params[p].to_vector<double>(), iterates[p]);
    EXPECT_EQ(opt->averaged(params[p]).to_vector<double>(), averages[p]);
  }
  Tensor stranger = native::zeros({2}).requires_grad_(true);
  testing::expect_error_containing([&] { opt->averaged(stranger); }, "not a parameter of this optimizer");
}

// A bfloat16 parameter with master weights follows, in its fp32 master and
// fp32 average, exactly the float32 run on the same (bf16-representable)
// start and gradients; the parameter holds the master rounded to bfloat16.
TEST(ASGDAverages, MasterWeightsFollowTheFloat32Run) {
  const auto& c = asgd_reference().find_case("asgd_t0_3");
  auto bf16 = [](const Tensor& x) { return native::to(native::to(x, kBFloat16), kFloat32); };
  Tensor init = bf16(tensor(c.init[0], c.shapes[0]));
  Tensor p32 = native::clone(init).requires_grad_(true);
  Tensor p16 = native::to(init, kBFloat16).requires_grad_(true);
  optim::ASGD a({p32}, optim::ASGDOptions(0.1).t0(3));
  optim::ASGD b({p16}, optim::ASGDOptions(0.1).t0(3).master_weights(true));
  for (std::size_t t = 1; t <= 10; ++t) {
    Tensor g = bf16(tensor(*c.grads[t - 1][0], c.shapes[0]));
    p32.set_grad(g);
    p16.set_grad(native::to(g, kBFloat16));
    a.step();
    b.step();
    const Tensor master = b.state(p16)->tensors.at("master_param");
    EXPECT_EQ(master.to_vector<double>(), p32.to_vector<double>()) << "step " << t;
    EXPECT_EQ(b.averaged(p16).dtype(), kFloat32);
    EXPECT_EQ(b.averaged(p16).to_vector<double>(), a.averaged(p32).to_vector<double>()) << "step " << t;
    EXPECT_EQ(p16.to_vector<double>(), native::to(master, kBFloat16).to_vector<double>());
  }
  b.swap_with_averages();
  EXPECT_EQ(b.state(p16)->tensors.at("master_param").to_vector<double>(), a.averaged(p32).to_vector<double>());
  EXPECT_EQ(p16.to_vector<double>(), native::to(a.averaged(p32), kBFloat16).to_vector<double>());
}

// ASGD on CUDA (loom's elementwise kernels) follows the CPU run, parameters
// and averages, in float64 and float32. Skipped without a GPU.
TEST(ASGDCuda, MatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (const char* name : {"asgd_weight_decay_maximize", "asgd_groups", "asgd_skips"}) {
    const auto& c = asgd_reference().find_case(name);
    for (DType dtype : {kFloat64, kFloat32}) {
      SCOPED_TRACE(fmt::format("{} {}", name, dtype));
      auto cpu = make_params(c, dtype);
      std::vector<Tensor> gpu;
      for (const Tensor& p : cpu) gpu.push_back(native::to(p.detach(), kCUDA).requires_grad_(true));
      auto a = make_case_asgd(c, cpu);
      auto b = make_case_asgd(c, gpu);
      for (std::size_t t = 1; t <= 10; ++t) {
        set_grads(c, t, cpu);
        for (std::size_t p = 0; p < gpu.size(); ++p)
          gpu[p].set_grad(cpu[p].grad().defined() ? native::to(cpu[p].grad(), kCUDA) : Tensor());
        a->step();
        b->step();
        const double rtol = dtype == kFloat64 ? 1e-13 : 1e-6, atol = dtype == kFloat64 ? 1e-15 : 1e-7;
        for (std::size_t p = 0; p < cpu.size(); ++p) {
          testing::expect_all_close(gpu[p].to_vector<double>(), cpu[p].to_vector<double>(), rtol, atol, "param");
          if (a->averaged(cpu[p]).defined())
            testing::expect_all_close(b->averaged(gpu[p]).to_vector<double>(), a->averaged(cpu[p]).to_vector<double>(),
                                      rtol, atol, "ax");
        }
      }
    }
  }
}

TEST(ASGDErrors, BadOptionsUsePyTorchWords) {
  int count = 0;
  for (const auto& e : asgd_reference().errors) {
    ++count;
    SCOPED_TRACE(e.message);
    auto o = ref::make_options("ASGD", e.options);
    Tensor p = native::zeros({2}).requires_grad_(true);
    testing::expect_error_text([&] { optim::ASGD({p}, dynamic_cast<const optim::ASGDOptions&>(*o)); }, e.message);
  }
  EXPECT_EQ(count, 3);
  // 16-bit parameters without master weights: refused, naming the option.
  Tensor h = native::zeros({2}, TensorOptions(kBFloat16)).requires_grad_(true);
  testing::expect_error_containing([&] { optim::ASGD({h}, optim::ASGDOptions()); },
                                   "ASGDOptions(lr).master_weights(true)");
}

}  // namespace
}  // namespace loom
