// Learning-rate schedules against PyTorch 1.13: the lr of two parameter
// groups over 30 steps (tests/data/optim/optim_reference.txt, written by
// tests/fixtures/make_optim_trajectories.py), state_dict round trips, errors.
#include <cmath>

#include "core/native.h"
#include "optim/optim.h"
#include "optim_reference.h"
#include "testing.h"

namespace loom {
namespace {

namespace ref = testing::optim_reference;

// An SGD optimizer with one group per initial lr.
std::unique_ptr<optim::SGD> make_sgd(const std::vector<double>& lrs) {
  std::vector<optim::ParamGroup> groups;
  for (double lr : lrs)
    groups.emplace_back(std::vector<Tensor>{native::zeros({2}, TensorOptions(kFloat64)).requires_grad_(true)},
                        optim::SGDOptions(lr));
  return std::make_unique<optim::SGD>(std::move(groups), optim::SGDOptions(lrs[0]));
}

std::int64_t int_option(const ref::Options& o, const char* name, std::int64_t fallback) {
  return o.count(name) ? std::stoll(o.at(name)) : fallback;
}
double num_option(const ref::Options& o, const char* name, double fallback) {
  return o.count(name) ? ref::to_number(o.at(name)) : fallback;
}

optim::ReduceLROnPlateauOptions plateau_options(const ref::Options& o) {
  optim::ReduceLROnPlateauOptions p;
  if (o.count("mode")) p.mode = o.at("mode");
  if (o.count("threshold_mode")) p.threshold_mode = o.at("threshold_mode");
  p.factor = num_option(o, "factor", p.factor);
  p.patience = int_option(o, "patience", p.patience);
  p.threshold = num_option(o, "threshold", p.threshold);
  p.cooldown = int_option(o, "cooldown", p.cooldown);
  p.eps = num_option(o, "eps", p.eps);
  if (o.count("min_lr")) {
    p.min_lr.clear();
    std::string s = o.at("min_lr");
    for (std::size_t start = 0; start <= s.size();) {
      std::size_t comma = s.find(',', start);
      if (comma == std::string::npos) comma = s.size();
      p.min_lr.push_back(ref::to_number(s.substr(start, comma - start)));
      start = comma + 1;
    }
  }
  return p;
}

std::unique_ptr<optim::LRScheduler> make_scheduler(const ref::ScheduleCase& c, optim::Optimizer& opt) {
  const auto& o = c.options;
  if (c.kind == "StepLR")
    return std::make_unique<optim::StepLR>(opt, int_option(o, "step_size", 0), num_option(o, "gamma", 0.1));
  if (c.kind == "ExponentialLR")
    return std::make_unique<optim::ExponentialLR>(opt, num_option(o, "gamma", 0));
  if (c.kind == "CosineAnnealingLR")
    return std::make_unique<optim::CosineAnnealingLR>(opt, int_option(o, "T_max", 0),
                                                      num_option(o, "eta_min", 0));
  throw std::runtime_error("unknown schedule " + c.kind);
}

void expect_lrs(const ref::ScheduleCase& c, int t, const std::vector<double>& last_lr,
                const optim::Optimizer& opt) {
  const auto& expected = c.steps.at(t).lrs;
  ASSERT_EQ(last_lr.size(), expected.size());
  for (std::size_t g = 0; g < expected.size(); ++g) {
    EXPECT_NEAR(last_lr[g], expected[g], 1e-15 * std::abs(expected[g]) + 1e-18)
        << c.name << " step " << t << " group " << g;
    EXPECT_EQ(opt.param_groups()[g].options->get_lr(), last_lr[g]);
  }
}

TEST(LRScheduler, EpochSchedulesMatchPyTorch) {
  int count = 0;
  for (const auto& c : ref::reference().schedules) {
    if (c.kind == "ReduceLROnPlateau") continue;
    SCOPED_TRACE(c.name);
    ++count;
    auto sgd = make_sgd(c.group_lrs);
    auto sched = make_scheduler(c, *sgd);
    expect_lrs(c, 0, sched->get_last_lr(), *sgd);
    for (int t = 1; t <= 30; ++t) {
      sched->step();
      EXPECT_EQ(sched->last_epoch(), t);
      expect_lrs(c, t, sched->get_last_lr(), *sgd);
    }
  }
  EXPECT_EQ(count, 5);
}

TEST(LRScheduler, ReduceLROnPlateauMatchesPyTorch) {
  int count = 0;
  for (const auto& c : ref::reference().schedules) {
    if (c.kind != "ReduceLROnPlateau") continue;
    SCOPED_TRACE(c.name);
    ++count;
    auto sgd = make_sgd(c.group_lrs);
    optim::ReduceLROnPlateau sched(*sgd, plateau_options(c.options));
    expect_lrs(c, 0, sched.get_last_lr(), *sgd);
    for (int t = 1; t <= 30; ++t) {
      sched.step(c.steps[t].metric);
      expect_lrs(c, t, sched.get_last_lr(), *sgd);
    }
  }
  EXPECT_EQ(count, 4);
}

TEST(LRScheduler, StateDictRoundTripContinuesSchedule) {
  for (const auto& c : ref::reference().schedules) {
    SCOPED_TRACE(c.name);
    const bool plateau = c.kind == "ReduceLROnPlateau";
    auto sgd = make_sgd(c.group_lrs);
    auto sgd2 = make_sgd({0.7, 0.7});
    std::unique_ptr<optim::LRScheduler> sched, sched2;
    std::unique_ptr<optim::ReduceLROnPlateau> plat, plat2;
    if (plateau) {
      plat = std::make_unique<optim::ReduceLROnPlateau>(*sgd, plateau_options(c.options));
      plat2 = std::make_unique<optim::ReduceLROnPlateau>(*sgd2);
    } else {
      sched = make_scheduler(c, *sgd);
      // Built with other options: load_state_dict restores them.
      ref::ScheduleCase other = c;
      for (auto& [k, v] : other.options) v = k == "gamma" || k == "eta_min" ? "0.3" : "4";
      sched2 = make_scheduler(other, *sgd2);
    }
    for (int t = 1; t <= 12; ++t) plateau ? plat->step(c.steps[t].metric) : sched->step();
    sgd2->load_state_dict(sgd->state_dict());
    if (plateau) {
      plat2->load_state_dict(plat->state_dict());
      EXPECT_EQ(plat2->best(), plat->best());
    } else {
      sched2->load_state_dict(sched->state_dict());
      EXPECT_EQ(sched2->last_epoch(), 12);
    }
    for (int t = 13; t <= 30; ++t) {
      if (plateau) {
        plat2->step(c.steps[t].metric);
        expect_lrs(c, t, plat2->get_last_lr(), *sgd2);
      } else {
        sched2->step();
        expect_lrs(c, t, sched2->get_last_lr(), *sgd2);
      }
    }
  }
}

TEST(LRScheduler, StateDictNames) {
  auto sgd = make_sgd({0.1, 0.05});
  optim::CosineAnnealingLR cos(*sgd, 10, 0.001);
  cos.step();
  optim::StateDict d = cos.state_dict();
  EXPECT_EQ(d.scalars.at("last_epoch"), 1.0);
  EXPECT_EQ(d.scalars.at("_step_count"), 2.0);  // PyTorch counts the initial step
  EXPECT_EQ(d.scalars.at("base_lrs.1"), 0.05);
  EXPECT_EQ(d.scalars.at("T_max"), 10.0);
  EXPECT_EQ(d.scalars.at("eta_min"), 0.001);
  EXPECT_EQ(d.scalars.at("_last_lr.0"), cos.get_last_lr()[0]);
  optim::StateDict bad = d;
  bad.scalars["gamma"] = 0.5;
  optim::CosineAnnealingLR other(*sgd, 3);
  EXPECT_THROW(other.load_state_dict(bad), Error);
  bad = d;
  bad.scalars.erase("T_max");
  EXPECT_THROW(other.load_state_dict(bad), Error);
  EXPECT_EQ(other.last_epoch(), 0);
}

TEST(LRScheduler, ErrorsUsePyTorchWords) {
  int count = 0;
  for (const auto& e : ref::reference().errors) {
    if (e.kind != "ReduceLROnPlateau") continue;
    ++count;
    SCOPED_TRACE(e.message);
    auto sgd = make_sgd({0.1, 0.1});  // two groups, as the generator's optimizer
    try {
      optim::ReduceLROnPlateau sched(*sgd, plateau_options(e.options));
      ADD_FAILURE() << "expected loom::Error";
    } catch (const Error& err) {
      EXPECT_EQ(std::string(err.what()), e.message);
    }
  }
  EXPECT_EQ(count, 4);
  auto sgd = make_sgd({0.1});
  EXPECT_THROW(optim::StepLR(*sgd, 0), Error);
  EXPECT_THROW(optim::CosineAnnealingLR(*sgd, 0), Error);
}

// loom-fuzz-readers (checkpoint seed 1, index 440: zeroed bytes in a
// checkpoint) found a CosineAnnealingLR state with T_max = 0 accepted, and
// the next step() dividing by zero (SIGFPE). Periods and epoch counts from a
// state_dict must be whole numbers in range; a refusal changes nothing.
TEST(LRScheduler, LoadStateDictRefusesDamagedCounts) {
  auto sgd = make_sgd({0.1});
  optim::CosineAnnealingLR cosine(*sgd, 10);
  optim::StepLR steplr(*sgd, 3);
  optim::ReduceLROnPlateau plateau(*sgd);
  struct Bad { std::string name; double value; };
  for (const Bad& bad : {Bad{"T_max", 0}, Bad{"T_max", -4}, Bad{"T_max", 2.5}, Bad{"last_epoch", NAN},
                         Bad{"last_epoch", 1e300}, Bad{"_step_count", -1}}) {
    SCOPED_TRACE(bad.name + " = " + std::to_string(bad.value));
    optim::StateDict d = cosine.state_dict();
    d.scalars[bad.name] = bad.value;
    testing::expect_error_containing([&] { cosine.load_state_dict(d); }, "'" + bad.name + "' must be a whole number");
    EXPECT_EQ(cosine.state_dict().scalars, optim::CosineAnnealingLR(*make_sgd({0.1}), 10).state_dict().scalars);
  }
  optim::StateDict d = steplr.state_dict();
  d.scalars["step_size"] = 0;
  testing::expect_error_containing([&] { steplr.load_state_dict(d); }, "'step_size' must be a whole number >= 1");
  d = plateau.state_dict();
  d.scalars["patience"] = INFINITY;
  testing::expect_error_containing([&] { plateau.load_state_dict(d); }, "'patience' must be a whole number >= 0");
  cosine.step();  // still usable
}

}  // namespace
}  // namespace loom
