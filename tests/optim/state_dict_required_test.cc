// Optimizer::load_state_dict and the schedules' load_state_dict require every
// entry they need: for SGD (momentum), Adam and AdamW (amsgrad) and RMSprop
// (centered, momentum), and StepLR / CosineAnnealingLR / ReduceLROnPlateau,
// deleting any one entry of a real state_dict is refused with the entry's
// name, and the refused load changes nothing.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/native.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom {
namespace {

// Three parameters of different shapes, in two groups' worth of tensors.
std::vector<Tensor> make_params() {
  std::vector<Tensor> ps = {testing::random_tensor({3, 2}, 1), testing::random_tensor({4}, 2),
                            testing::random_tensor({2, 2}, 3)};
  for (Tensor& p : ps) p.requires_grad_(true);
  return ps;
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Two steps with gradients on every parameter; a state_dict with full state.
optim::StateDict stepped_state(const MakeOptimizer& make) {
  std::vector<Tensor> ps = make_params();
  auto opt = make(ps);
  for (int s = 0; s < 2; ++s) {
    for (std::size_t i = 0; i < ps.size(); ++i)
      ps[i].set_grad(testing::random_tensor(ps[i].shape(), static_cast<unsigned>(10 * s + i)));
    opt->step();
  }
  return opt->state_dict();
}

struct Case {
  const char* name;
  MakeOptimizer make;
};

std::vector<Case> cases() {
  return {
      {"SGD", [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(
             std::vector<optim::ParamGroup>{optim::ParamGroup({p[0], p[1]}), optim::ParamGroup({p[2]})},
             optim::SGDOptions(0.1).momentum(0.9));
       }},
      {"Adam", [](std::vector<Tensor> p) {
         return std::make_unique<optim::Adam>(p, optim::AdamOptions(0.01).amsgrad(true));
       }},
      {"AdamW", [](std::vector<Tensor> p) { return std::make_unique<optim::AdamW>(p); }},
      {"RMSprop", [](std::vector<Tensor> p) {
         return std::make_unique<optim::RMSprop>(
             p, optim::RMSpropOptions().centered(true).momentum(0.5));
       }},
  };
}

TEST(OptimizerStateRequired, EveryEntryIsRequiredByName) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const optim::StateDict full = stepped_state(c.make);
    // The full dict loads.
    {
      auto fresh = c.make(make_params());
      fresh->load_state_dict(full);
    }
    int refused = 0;
    for (const auto& [key, value] : full.scalars) {
      optim::StateDict d = full;
      d.scalars.erase(key);
      std::vector<Tensor> ps = make_params();
      auto fresh = c.make(ps);
      EXPECT_ERROR_TEXT(fresh->load_state_dict(d), "optimizer state entry '" + key + "' is missing");
      EXPECT_EQ(fresh->state(ps[0]), nullptr) << "a refused load changed the state";
      ++refused;
    }
    for (const auto& [key, value] : full.tensors) {
      if (key.rfind("param_groups.", 0) == 0) continue;  // the group layout: PyTorch's own messages
      optim::StateDict d = full;
      d.tensors.erase(key);
      auto fresh = c.make(make_params());
      if (std::string(c.name) == "SGD") {
        // momentum_buffer is SGD's only entry: without it the parameter has
        // no state at all, which is what a parameter never updated has.
        EXPECT_NO_THROW(fresh->load_state_dict(d)) << key;
        continue;
      }
      EXPECT_ERROR_TEXT(fresh->load_state_dict(d), "optimizer state entry '" + key + "' is missing");
      ++refused;
    }
    EXPECT_GT(refused, 8);
  }
}

TEST(OptimizerStateRequired, AScalarStoredAsATensorCountsAsMissing) {
  const Case c = cases()[1];  // Adam
  optim::StateDict d = stepped_state(c.make);
  // A tensor of the parameter's shape, so that only the missing scalar is wrong.
  d.tensors["state.1.step"] = native::full({4}, d.scalars.at("state.1.step"), TensorOptions(kFloat64));
  d.scalars.erase("state.1.step");
  auto fresh = c.make(make_params());
  EXPECT_ERROR_TEXT(fresh->load_state_dict(d), "optimizer state entry 'state.1.step' is missing");
}

TEST(OptimizerStateRequired, AParameterNeverUpdatedNeedsNoState) {
  // Only p[1] gets gradients: the others have no state, and that loads.
  std::vector<Tensor> ps = make_params();
  optim::Adam adam(ps);
  ps[1].set_grad(testing::random_tensor({4}, 5));
  adam.step();
  optim::StateDict d = adam.state_dict();
  EXPECT_EQ(d.scalars.count("state.0.step"), 0u);
  EXPECT_EQ(d.scalars.at("state.1.step"), 1.0);
  std::vector<Tensor> qs = make_params();
  optim::Adam fresh(qs);
  fresh.load_state_dict(d);
  EXPECT_EQ(fresh.state(qs[0]), nullptr);
  ASSERT_NE(fresh.state(qs[1]), nullptr);
  EXPECT_EQ(fresh.state(qs[1])->scalars.at("step"), 1.0);
}

TEST(ScheduleStateRequired, EveryEntryIsRequiredByName) {
  std::vector<Tensor> ps = make_params();
  optim::SGD sgd(ps, optim::SGDOptions(0.1));
  optim::StepLR step(sgd, 2, 0.5);
  optim::CosineAnnealingLR cosine(sgd, 10, 0.001);
  optim::ReduceLROnPlateau plateau(sgd);
  step.step();
  cosine.step();
  plateau.step(1.0);
  struct Named {
    const char* kind;
    optim::StateDict dict;
    std::function<void(const optim::StateDict&)> load;
  };
  std::vector<Named> all = {
      {"LRScheduler", step.state_dict(), [&](const optim::StateDict& d) { step.load_state_dict(d); }},
      {"LRScheduler", cosine.state_dict(), [&](const optim::StateDict& d) { cosine.load_state_dict(d); }},
      {"ReduceLROnPlateau", plateau.state_dict(),
       [&](const optim::StateDict& d) { plateau.load_state_dict(d); }},
  };
  for (const Named& n : all) {
    ASSERT_GE(n.dict.scalars.size(), 6u);
    for (const auto& [key, value] : n.dict.scalars) {
      optim::StateDict d = n.dict;
      d.scalars.erase(key);
      EXPECT_ERROR_TEXT(n.load(d), std::string(n.kind) + ".load_state_dict: schedule state entry '" +
                                       key + "' is missing");
    }
  }
  EXPECT_EQ(step.last_epoch(), 1);  // nothing changed
}

}  // namespace
}  // namespace loom
