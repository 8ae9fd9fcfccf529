// Optimizers against PyTorch 1.13: every parameter after every step of the
// trajectories in tests/data/optim/optim_reference.txt (written by
// tests/fixtures/make_optim_trajectories.py with torch), in float64 and float32;
// state_dict round trips; parameter groups; PyTorch's error messages.
#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "core/native.h"
#include "optim/optim.h"
#include "optim/python_float.h"
#include "optim_reference.h"
#include "testing.h"

namespace loom {
namespace {

namespace ref = testing::optim_reference;

constexpr double kRtol64 = 1e-12, kAtol64 = 1e-14;
constexpr double kRtol32 = 1e-5, kAtol32 = 1e-6;

using ref::make_params;
using ref::set_grads;

// Compares every parameter with the reference after step t; returns the worst |error|.
double check_step(const ref::TrajectoryCase& c, const std::string& dtype, std::size_t t,
                  const std::vector<Tensor>& params) {
  const bool f64 = dtype == "float64";
  double worst = 0;
  for (std::size_t p = 0; p < params.size(); ++p) {
    const std::vector<double>& expected = c.expected.at(dtype)[t - 1][p];
    std::vector<double> actual = params[p].to_vector<double>();
    std::string what = fmt::format("{} {} step {} param {}", c.name, dtype, t, p);
    worst = std::max(worst, testing::expect_all_close(actual, expected, f64 ? kRtol64 : kRtol32,
                                                      f64 ? kAtol64 : kAtol32, what));
  }
  return worst;
}

// Runs the whole trajectory of case c in `dtype`; returns the worst |error|.
double run_trajectory(const ref::TrajectoryCase& c, const std::string& dtype) {
  auto params = make_params(c, dtype == "float64" ? kFloat64 : kFloat32);
  auto opt = ref::make_case_optimizer(c, params);
  double worst = 0;
  for (std::size_t t = 1; t <= c.grads.size(); ++t) {
    set_grads(c, t, params);
    opt->step();
    worst = std::max(worst, check_step(c, dtype, t, params));
  }
  return worst;
}

void run_kind(const std::string& kind) {
  int count = 0;
  for (const auto& c : ref::reference().cases) {
    if (c.kind != kind) continue;
    ++count;
    SCOPED_TRACE(c.name);
    ASSERT_EQ(c.grads.size(), 10u);
    double w64 = run_trajectory(c, "float64");
    double w32 = run_trajectory(c, "float32");
    ::testing::Test::RecordProperty(c.name + "_worst_abs_err_f64", fmt::format("{:.3g}", w64));
    ::testing::Test::RecordProperty(c.name + "_worst_abs_err_f32", fmt::format("{:.3g}", w32));
  }
  EXPECT_GE(count, 4) << "too few " << kind << " cases in the reference file";
}

TEST(OptimReference, SGDTrajectoriesMatchPyTorch) { run_kind("SGD"); }
TEST(OptimReference, AdamTrajectoriesMatchPyTorch) { run_kind("Adam"); }
TEST(OptimReference, AdamWTrajectoriesMatchPyTorch) { run_kind("AdamW"); }
TEST(OptimReference, RMSpropTrajectoriesMatchPyTorch) { run_kind("RMSprop"); }

// The state_dict after 5 steps, loaded into a fresh optimizer (built with other
// options) over copies of the parameters, continues the PyTorch trajectory, and
// bit for bit like the original optimizer.
void check_round_trip(const std::string& name, const std::string& dtype) {
  SCOPED_TRACE(name + " " + dtype);
  const auto& c = ref::reference().find_case(name);
  const DType dt = dtype == "float64" ? kFloat64 : kFloat32;
  auto params = make_params(c, dt);
  auto opt = ref::make_case_optimizer(c, params);
  for (std::size_t t = 1; t <= 5; ++t) {
    set_grads(c, t, params);
    opt->step();
  }
  optim::StateDict saved = opt->state_dict();

  std::vector<Tensor> copies;
  for (const Tensor& p : params) copies.push_back(native::clone(p).requires_grad_(true));
  // Other options than the case's: load_state_dict must restore them.
  auto other_defaults = ref::make_options(c.kind, {{"lr", "0.5"}});
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
  auto fresh = ref::make_optimizer(c.kind, std::move(groups), *other_defaults);
  fresh->load_state_dict(saved);
  for (std::size_t g = 0; g < opt->param_groups().size(); ++g)
    EXPECT_EQ(fresh->param_groups()[g].options->to_scalars(), opt->param_groups()[g].options->to_scalars());

  for (std::size_t t = 6; t <= 10; ++t) {
    set_grads(c, t, params);
    set_grads(c, t, copies);
    opt->step();
    fresh->step();
    check_step(c, dtype, t, copies);
    for (std::size_t p = 0; p < params.size(); ++p)
      EXPECT_EQ(copies[p].to_vector<double>(), params[p].to_vector<double>()) << "step " << t << " param " << p;
  }
  // The saved dict is a snapshot: stepping on did not change it.
  EXPECT_EQ(opt->state_dict().scalars.count("state.0.step") ? opt->state_dict().scalars.at("state.0.step") : 10.0, 10.0);
  if (saved.scalars.count("state.0.step")) EXPECT_EQ(saved.scalars.at("state.0.step"), 5.0);
}

TEST(OptimStateDict, RoundTripContinuesTrajectory) {
  for (const char* name : {"sgd_momentum", "sgd_groups", "adam_amsgrad_weight_decay_maximize",
                           "adam_groups", "adamw_weight_decay_amsgrad",
                           "rmsprop_centered_momentum_maximize", "rmsprop_skips", "sgd_skips"})
    for (const char* dtype : {"float64", "float32"}) check_round_trip(name, dtype);
}

TEST(OptimStateDict, NamesFollowPyTorchStateKeys) {
  const auto& c = ref::reference().find_case("adam_groups");
  auto params = make_params(c, kFloat64);
  auto opt = ref::make_case_optimizer(c, params);
  set_grads(c, 1, params);
  opt->step();
  set_grads(c, 2, params);
  opt->step();
  optim::StateDict d = opt->state_dict();
  // Group 0 holds param 0; group 1 params 1 and 2 (amsgrad on).
  EXPECT_EQ(d.tensors.at("param_groups.0.params").to_vector<std::int64_t>(), (std::vector<std::int64_t>{0}));
  EXPECT_EQ(d.tensors.at("param_groups.1.params").to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(d.scalars.at("param_groups.0.lr"), 0.01);
  EXPECT_EQ(d.scalars.at("param_groups.1.lr"), 0.05);
  EXPECT_EQ(d.scalars.at("param_groups.1.weight_decay"), 0.1);
  EXPECT_EQ(d.scalars.at("param_groups.1.amsgrad"), 1.0);
  EXPECT_EQ(d.scalars.at("param_groups.0.amsgrad"), 0.0);
  EXPECT_EQ(d.scalars.at("param_groups.0.betas.0"), 0.9);
  EXPECT_EQ(d.scalars.at("param_groups.0.betas.1"), 0.999);
  EXPECT_EQ(d.scalars.at("param_groups.0.eps"), 1e-8);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d.scalars.at(fmt::format("state.{}.step", i)), 2.0);
    EXPECT_EQ(d.tensors.at(fmt::format("state.{}.exp_avg", i)).shape(), c.shapes[i]);
    EXPECT_EQ(d.tensors.at(fmt::format("state.{}.exp_avg_sq", i)).dtype(), kFloat64);
  }
  EXPECT_EQ(d.tensors.count("state.0.max_exp_avg_sq"), 0u);
  EXPECT_EQ(d.tensors.count("state.1.max_exp_avg_sq"), 1u);
  EXPECT_EQ(d.tensors.count("state.2.max_exp_avg_sq"), 1u);
  // exp_avg after two steps from zero: (1 - b1) * (b1 * g1 + g2), PyTorch's recurrence.
  const auto& g1 = *c.grads[0][0];
  const auto& g2 = *c.grads[1][0];
  std::vector<double> m = d.tensors.at("state.0.exp_avg").to_vector<double>();
  for (std::size_t k = 0; k < m.size(); ++k) {
    double m1 = 0.9 * 0 + (1 - 0.9) * g1[k];
    EXPECT_NEAR(m[k], 0.9 * m1 + (1 - 0.9) * g2[k], 1e-15);
  }
}

TEST(OptimStateDict, LoadIntoFloat32OptimizerCastsState) {
  // A float64 optimizer's state loads into a float32 one (PyTorch casts state
  // tensors to the parameter's dtype); the continued trajectory matches the
  // float32 reference within float32 tolerance.
  const auto& c = ref::reference().find_case("adam_amsgrad");
  auto p64 = make_params(c, kFloat64);
  auto opt64 = ref::make_case_optimizer(c, p64);
  for (std::size_t t = 1; t <= 5; ++t) set_grads(c, t, p64), opt64->step();
  std::vector<Tensor> p32;
  for (const Tensor& p : p64) p32.push_back(native::to(p.detach(), kFloat32).requires_grad_(true));
  auto opt32 = ref::make_case_optimizer(c, p32);
  opt32->load_state_dict(opt64->state_dict());
  EXPECT_EQ(opt32->state(p32[0])->tensors.at("exp_avg").dtype(), kFloat32);
  for (std::size_t t = 6; t <= 10; ++t) {
    set_grads(c, t, p32);
    opt32->step();
    check_step(c, "float32", t, p32);
  }
}

TEST(OptimStateDict, MismatchedGroupsAreRejectedWithPyTorchWords) {
  const auto& c = ref::reference().find_case("sgd_groups");
  auto params = make_params(c, kFloat64);
  auto two_groups = ref::make_case_optimizer(c, params);
  set_grads(c, 1, params);
  two_groups->step();
  optim::StateDict d = two_groups->state_dict();

  auto q = make_params(c, kFloat64);
  optim::SGD one_group(q, optim::SGDOptions(0.1));
  // PyTorch 1.13's messages (torch/optim/optimizer.py, load_state_dict).
  testing::expect_error_text([&] { one_group.load_state_dict(d); },
               "loaded state dict has a different number of parameter groups");
  optim::SGD other_sizes({optim::ParamGroup({q[0]}), optim::ParamGroup({q[1], q[2]})},
                         optim::SGDOptions(0.1));
  testing::expect_error_text([&] { other_sizes.load_state_dict(d); },
               "loaded state dict contains a parameter group that doesn't match the size of "
               "optimizer's group");
  // A state tensor of the wrong shape, and an unknown option, leave the optimizer untouched.
  optim::SGD same({optim::ParamGroup({q[0], q[1]}), optim::ParamGroup({q[2]})}, optim::SGDOptions(0.1));
  optim::StateDict bad = d;
  bad.tensors["state.0.momentum_buffer"] = native::zeros({7}, TensorOptions(kFloat64));
  testing::expect_error_text([&] { same.load_state_dict(bad); },
               "load_state_dict: 'state.0.momentum_buffer' has shape [7], but its parameter has shape [3]");
  bad = d;
  bad.scalars["param_groups.0.betas.0"] = 0.5;
  testing::expect_error_text([&] { same.load_state_dict(bad); }, "SGD has no option 'betas.0'");
  EXPECT_EQ(same.state(q[0]), nullptr);
  EXPECT_EQ(same.param_groups()[0].options->get_lr(), 0.1);
  // The good dict loads.
  same.load_state_dict(d);
  EXPECT_EQ(same.param_groups()[0].options->get_lr(), 0.1);
  EXPECT_EQ(same.param_groups()[1].options->get_lr(), 0.01);
  EXPECT_NE(same.state(q[0]), nullptr);
}

TEST(OptimParamGroups, AddParamGroupMatchesGroupsGivenAtConstruction) {
  // sgd_groups: {p0, p1} with lr 0.1, momentum 0.9; {p2} with the defaults (lr 0.01).
  const auto& c = ref::reference().find_case("sgd_groups");
  auto params = make_params(c, kFloat64);
  optim::SGD sgd(std::vector<optim::ParamGroup>{optim::ParamGroup(
                     {params[0], params[1]}, optim::SGDOptions(0.1).momentum(0.9))},
                 optim::SGDOptions(0.01));
  sgd.add_param_group(optim::ParamGroup({params[2]}));
  ASSERT_EQ(sgd.param_groups().size(), 2u);
  EXPECT_EQ(sgd.param_groups()[1].options_as<optim::SGDOptions>().lr(), 0.01);
  EXPECT_EQ(sgd.param_groups()[1].options_as<optim::SGDOptions>().momentum(), 0.0);
  for (std::size_t t = 1; t <= 10; ++t) {
    set_grads(c, t, params);
    sgd.step();
    check_step(c, "float64", t, params);
  }
}

TEST(OptimParamGroups, ChangingAGroupLrTakesEffectNextStep) {
  Tensor w = tensor({1.0, 2.0}, kFloat64).requires_grad_(true);
  Tensor b = tensor({3.0}, kFloat64).requires_grad_(true);
  optim::SGD sgd({optim::ParamGroup({w}), optim::ParamGroup({b}, optim::SGDOptions(0.5))},
                 optim::SGDOptions(0.1));
  w.set_grad(tensor({1.0, -1.0}, kFloat64));
  b.set_grad(tensor({2.0}, kFloat64));
  sgd.step();
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{1.0 - 0.1, 2.0 + 0.1}));
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{3.0 - 0.5 * 2.0}));
  sgd.param_groups()[0].options->set_lr(1.0);
  sgd.step();
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{0.9 - 1.0, 2.1 + 1.0}));
}

TEST(OptimZeroGrad, SetToNoneOrZeros) {
  Tensor w = tensor({1.0, 2.0}).requires_grad_(true);
  Tensor b = tensor({3.0}).requires_grad_(true);
  optim::Adam adam({w, b});
  w.set_grad(tensor({0.5, 0.5}));
  adam.zero_grad(/*set_to_none=*/false);
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{0, 0}));
  EXPECT_FALSE(b.grad().defined());
  adam.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(OptimStep, ParametersWithoutGradAreSkippedAndGetNoState) {
  Tensor w = tensor({1.0, 2.0}, kFloat64).requires_grad_(true);
  Tensor b = tensor({3.0}, kFloat64).requires_grad_(true);
  optim::Adam adam({w, b}, optim::AdamOptions(0.1));
  w.set_grad(tensor({1.0, 1.0}, kFloat64));
  adam.step();
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{3.0}));
  EXPECT_EQ(adam.state(b), nullptr);
  ASSERT_NE(adam.state(w), nullptr);
  EXPECT_EQ(adam.state(w)->scalars.at("step"), 1.0);
  // First Adam step moves each element by lr * g / (|g| + eps): here -0.1.
  EXPECT_NEAR(w.to_vector<double>()[0], 0.9, 1e-9);
}

TEST(OptimStep, NonContiguousParameterIsUpdatedInPlace) {
  // A transposed leaf: the update must land in its own storage, as for the
  // contiguous equivalent.
  Tensor base = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, TensorOptions(kFloat64));
  Tensor wt = make_view(base, {3, 2}, {1, 3}, 0).requires_grad_(true);
  Tensor w = native::contiguous(wt).requires_grad_(true);
  ASSERT_FALSE(wt.is_contiguous());
  Tensor g = tensor({0.1, -0.2, 0.3, -0.4, 0.5, -0.6}, {3, 2}, TensorOptions(kFloat64));
  optim::RMSprop a({wt}, optim::RMSpropOptions(0.01).momentum(0.5).centered(true));
  optim::RMSprop b({w}, optim::RMSpropOptions(0.01).momentum(0.5).centered(true));
  for (int t = 0; t < 3; ++t) {
    wt.set_grad(g);
    w.set_grad(g);
    a.step();
    b.step();
  }
  EXPECT_EQ(wt.to_vector<double>(), w.to_vector<double>());
  EXPECT_NE(w.to_vector<double>()[0], 1.0);
  // base shares storage with wt.
  EXPECT_EQ(make_view(base, {3, 2}, {1, 3}, 0).to_vector<double>(), w.to_vector<double>());
}

std::unique_ptr<optim::Optimizer> construct(const std::string& kind, const ref::Options& options,
                                            const std::vector<Tensor>& params) {
  auto o = ref::make_options(kind, options);
  std::vector<optim::ParamGroup> groups;
  groups.emplace_back(params);
  return ref::make_optimizer(kind, std::move(groups), *o);
}

TEST(OptimErrors, InvalidOptionsUsePyTorchWords) {
  int count = 0;
  for (const auto& e : ref::reference().errors) {
    if (e.kind == "ReduceLROnPlateau") continue;
    ++count;
    SCOPED_TRACE(e.kind + " " + e.message);
    Tensor p = native::zeros({2}).requires_grad_(true);
    ref::Options o = e.options;
    if (e.kind == "SGD" && !o.count("lr")) o["lr"] = "0.1";
    testing::expect_error_text([&] { construct(e.kind, o, {p}); }, e.message);
  }
  EXPECT_GE(count, 15);
}

TEST(OptimErrors, ParameterListsUsePyTorchWords) {
  // PyTorch 1.13's words (torch/optim/optimizer.py) where it has them.
  testing::expect_error_text([] { optim::SGD(std::vector<Tensor>{}, optim::SGDOptions(0.1)); },
               "optimizer got an empty parameter list");
  testing::expect_error_text([] { optim::Adam(std::vector<optim::ParamGroup>{}); },
               "optimizer got an empty parameter list");
  Tensor w = native::ones({2}).requires_grad_(true);
  Tensor nonleaf = mul(w, 2.0);
  testing::expect_error_text([&] { optim::SGD({nonleaf}, optim::SGDOptions(0.1)); }, "can't optimize a non-leaf Tensor");
  Tensor b = native::ones({1}).requires_grad_(true);
  optim::SGD sgd({w}, optim::SGDOptions(0.1));
  testing::expect_error_text([&] { sgd.add_param_group(optim::ParamGroup({b, w})); },
               "some parameters appear in more than one parameter group");
  testing::expect_error_text([&] { sgd.add_param_group(optim::ParamGroup({b, b})); },
               "optimizer contains a parameter group with duplicate parameters");
  testing::expect_error_text([&] { sgd.add_param_group(optim::ParamGroup({b}, optim::AdamOptions())); },
               "SGD: a parameter group was given the options of Adam");
  testing::expect_error_text([&] { sgd.add_param_group(optim::ParamGroup({b}, optim::SGDOptions(-1.0))); },
               "Invalid learning rate: -1.0");
  testing::expect_error_text([&] { sgd.add_param_group(optim::ParamGroup({Tensor()})); },
               "optimizer can only optimize Tensors, but one of the params is undefined");
  Tensor idx = tensor_int64({1, 2}, {2});
  testing::expect_error_text([&] { sgd.add_param_group(optim::ParamGroup({idx})); },
               "optimizer can only optimize floating-point Tensors, but one of the params has dtype int64");
  EXPECT_EQ(sgd.param_groups().size(), 1u);
  sgd.add_param_group(optim::ParamGroup({b}));
  EXPECT_EQ(sgd.param_groups().size(), 2u);
  // SGD's lr < 0 check lets NaN through, Adam's 0 <= lr check does not (as in Python).
  EXPECT_NO_THROW(optim::SGD({native::ones({1}).requires_grad_(true)}, optim::SGDOptions(NAN)));
  testing::expect_error_text([] { optim::Adam({native::ones({1}).requires_grad_(true)}, optim::AdamOptions(NAN)); },
               "Invalid learning rate: nan");
}

TEST(OptimErrors, PythonFloatFormatting) {
  EXPECT_EQ(optim::python_float(-0.1), "-0.1");
  EXPECT_EQ(optim::python_float(2.0), "2.0");
  EXPECT_EQ(optim::python_float(-1e-8), "-1e-08");
  EXPECT_EQ(optim::python_float(1e16), "1e+16");
  EXPECT_EQ(optim::python_float(1e15), "1000000000000000.0");
  EXPECT_EQ(optim::python_float(INFINITY), "inf");
  EXPECT_EQ(optim::python_float(-INFINITY), "-inf");
  EXPECT_EQ(optim::python_float(NAN), "nan");
}

}  // namespace
}  // namespace loom
