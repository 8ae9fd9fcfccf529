// fp32 master weights for bfloat16 / float16 parameters (the options'
// master_weights(true)), on the CPU.
//
// The oracle: the same optimizer run in float32 (already checked against
// PyTorch 1.13 by the trajectory tests) on the master's values, with each
// 16-bit gradient converted to float32 (exact). Its parameter must equal the
// master bit for bit (same per-element math, kernels/optim.h), its state must
// equal the master path's state bit for bit, and the 16-bit parameter must be
// the master rounded to nearest even (kernels/half.h), bit for bit.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>

#include "autograd/functions.h"
#include "core/native.h"
#include "kernels/half.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom {
namespace {

// Deterministic values in about [-scale, scale], as a float32 tensor.
Tensor wave(std::int64_t n, double phase, double scale) {
  std::vector<double> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.61 * static_cast<double>(i) + phase);
  return tensor(v, {n}, TensorOptions(kFloat32));
}

// The raw bytes of a contiguous CPU tensor.
std::vector<std::uint8_t> bytes(const Tensor& t) {
  Tensor c = native::contiguous(t);
  const auto* p = static_cast<const std::uint8_t*>(c.data_ptr());
  return std::vector<std::uint8_t>(p, p + c.numel() * element_size(c.dtype()));
}

// Expects a and b to have the same dtype, shape and bits.
void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_TRUE(bytes(a) == bytes(b)) << what << ": bits differ";
}

// An optimizer over `params` with or without master weights.
using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>, bool master)>;

// Runs `steps` updates of a 16-bit parameter through master weights and of its
// float32 twin without, with the same (16-bit) gradients, and checks the
// master, the state and the rounded 16-bit copy after every step.
void check_against_fp32(const char* what, DType half, const Factory& make, int steps = 6) {
  for (std::int64_t n : {1, 7, 1001}) {
    SCOPED_TRACE(fmt::format("{} {} n={}", what, half, n));
    Tensor p16 = native::to(wave(n, 0.3, 1.5), half).requires_grad_(true);
    Tensor p32 = native::to(p16, kFloat32).requires_grad_(true);  // exact
    auto with_master = make({p16}, true);
    auto reference = make({p32}, false);
    for (int t = 0; t < steps; ++t) {
      Tensor g16 = native::to(wave(n, 1.7 * t + 0.2, 0.8), half);
      p16.set_grad(g16);
      p32.set_grad(native::to(g16, kFloat32));
      with_master->step();
      reference->step();
      const optim::ParamState* s16 = with_master->state(p16);
      const optim::ParamState* s32 = reference->state(p32);
      ASSERT_NE(s16, nullptr);
      ASSERT_NE(s32, nullptr);
      ASSERT_TRUE(s16->tensors.count("master_param"));
      expect_same_bits(s16->tensors.at("master_param"), p32.detach(), "master_param");
      expect_same_bits(p16.detach(), native::to(p32.detach(), half), "16-bit copy");
      // The same state entries besides the master, all float32, the same bits.
      EXPECT_EQ(s16->tensors.size(), s32->tensors.size() + 1);
      for (const auto& [name, t32] : s32->tensors) {
        ASSERT_TRUE(s16->tensors.count(name)) << name;
        expect_same_bits(s16->tensors.at(name), t32, name);
      }
      EXPECT_EQ(s16->scalars, s32->scalars);
    }
    // The update did move the parameter (a test of a no-op would pass too).
    EXPECT_FALSE(bytes(p16.detach()) == bytes(native::to(wave(n, 0.3, 1.5), half)));
  }
}

void check_both_halves(const char* what, const Factory& make) {
  check_against_fp32(what, kBFloat16, make);
  check_against_fp32(what, kFloat16, make);
}

TEST(MasterWeights, SGDMatchesFloat32OnTheMaster) {
  check_both_halves("sgd plain", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.1).master_weights(m));
  });
  check_both_halves("sgd momentum dampening wd", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::SGD>(
        p, optim::SGDOptions(0.05).momentum(0.9).dampening(0.2).weight_decay(0.01).master_weights(m));
  });
  check_both_halves("sgd nesterov wd maximize", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::SGD>(
        p, optim::SGDOptions(0.05).momentum(0.8).nesterov(true).weight_decay(0.02).maximize(true).master_weights(m));
  });
}

TEST(MasterWeights, AdamMatchesFloat32OnTheMaster) {
  check_both_halves("adam", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::Adam>(p, optim::AdamOptions(0.01).master_weights(m));
  });
  check_both_halves("adam amsgrad wd maximize", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::Adam>(
        p, optim::AdamOptions(0.01).amsgrad(true).weight_decay(0.1).maximize(true).betas({0.8, 0.99}).master_weights(m));
  });
}

TEST(MasterWeights, AdamWMatchesFloat32OnTheMaster) {
  check_both_halves("adamw", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(0.01).master_weights(m));
  });
  check_both_halves("adamw amsgrad", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(0.02).amsgrad(true).weight_decay(0.2).master_weights(m));
  });
}

TEST(MasterWeights, RMSpropMatchesFloat32OnTheMaster) {
  check_both_halves("rmsprop", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions(0.01).master_weights(m));
  });
  check_both_halves("rmsprop centered momentum wd", [](std::vector<Tensor> p, bool m) {
    return std::make_unique<optim::RMSprop>(
        p, optim::RMSpropOptions(0.01).centered(true).momentum(0.5).weight_decay(0.02).alpha(0.9).master_weights(m));
  });
}

// PyTorch 1.13's own optimizer run on a float32 master of a bfloat16
// parameter, bfloat16 gradients converted to float32 (literals printed by
// tests/fixtures/print_master_weights_reference.py: torch.optim.AdamW /
// torch.optim.SGD with foreach=False, then master.bfloat16()).
TEST(MasterWeights, MatchesPyTorchOnAFloat32Master) {
  const std::vector<double> start{0.5, -1.25, 2.0, 0.3, -0.7};
  const std::vector<std::vector<double>> grads{{0.1, -0.2, 0.3, -0.4, 0.05},
                                               {-0.3, 0.25, 0.1, 0.2, -0.15},
                                               {0.2, 0.1, -0.5, 0.3, 0.4}};
  struct Expected {
    std::vector<double> master;  // float32, printed with float.hex()
    std::vector<double> bf16;    // master.bfloat16()
  };
  auto run = [&](optim::Optimizer& opt, const Tensor& p, const Expected& e) {
    for (const auto& g : grads) {
      p.set_grad(native::to(tensor(g, {5}, TensorOptions(kFloat32)), kBFloat16));
      opt.step();
    }
    const std::vector<double> m = opt.state(p)->tensors.at("master_param").to_vector<double>();
    // Stated tolerance: 4 float32 ulps relative (seen: AdamW bit for bit, SGD
    // one element 1 ulp apart); the bfloat16 copies must be the same values.
    testing::expect_all_close(m, e.master, 4 * std::ldexp(1.0, -23), 0, "master vs PyTorch");
    EXPECT_EQ(p.to_vector<double>(), e.bf16);
  };
  {
    Tensor p = native::to(tensor(start, {5}, TensorOptions(kFloat32)), kBFloat16).requires_grad_(true);
    optim::AdamW opt({p}, optim::AdamWOptions(0.01).weight_decay(0.1).amsgrad(true).master_weights(true));
    run(opt, p, {{0x1.f91f0ep-2, -0x1.3db21ap+0, 0x1.fa249ep+0, 0x1.3e1eb4p-2, -0x1.69d4p-1},
                 {0.494140625, -1.2421875, 1.9765625, 0.310546875, -0.70703125}});
  }
  {
    Tensor p = native::to(tensor(start, {5}, TensorOptions(kFloat32)), kBFloat16).requires_grad_(true);
    optim::SGD opt({p}, optim::SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.01).master_weights(true));
    run(opt, p, {{0x1.029304p-1, -0x1.420bd8p+0, 0x1.f2deaep+0, 0x1.4c19eap-2, -0x1.7e0532p-1},
                 {0.50390625, -1.2578125, 1.9453125, 0.32421875, -0.74609375}});
  }
}

// lr * grad = 1e-3 is below half an ulp of bfloat16 at 1.0 (2^-8 = 0.00390625):
// a pure bfloat16 update rounds back to 1.0 every time and never moves, while
// the fp32 master accumulates every step and the bfloat16 copy follows it.
TEST(MasterWeights, SmallUpdatesMoveTheMasterWhereBfloat16Stalls) {
  const std::int64_t n = 3;
  Tensor p = native::to(native::full({n}, 1.0, TensorOptions(kFloat32)), kBFloat16).requires_grad_(true);
  optim::SGD sgd({p}, optim::SGDOptions(1e-3).master_weights(true));
  bfloat16 pure(1.0f);  // the same SGD step done in bfloat16 storage: p = bf16(p - lr * g)
  for (int step = 1; step <= 200; ++step) {
    p.set_grad(native::to(native::full({n}, -1.0, TensorOptions(kFloat32)), kBFloat16));
    sgd.step();
    pure = bfloat16(static_cast<float>(pure) + (-1e-3f) * -1.0f);
    const Tensor& master = sgd.state(p)->tensors.at("master_param");
    const std::vector<double> m = master.to_vector<double>();
    const std::vector<double> copy = p.to_vector<double>();
    // Each float32 addition rounds by at most half an ulp (2^-24 near 1..2).
    const double expected = 1.0 + 1e-3 * step;
    for (std::int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(m[i], expected, step * std::ldexp(1.0, -23)) << "step " << step;
      EXPECT_EQ(copy[i], static_cast<float>(bfloat16(static_cast<float>(m[i])))) << "step " << step;
    }
    // The copy moves first at step 4: 1.004 passes the midpoint 1.00390625.
    if (step == 3) EXPECT_EQ(copy[0], 1.0);
    if (step == 4) EXPECT_EQ(copy[0], 1.0078125);
  }
  EXPECT_EQ(static_cast<float>(pure), 1.0f);  // stalled
  EXPECT_EQ(p.to_vector<double>()[0], 1.203125);  // bf16(1.2): the master's ~1.2 rounded
}

TEST(MasterWeights, SixteenBitParametersNeedTheOption) {
  Tensor b = native::to(wave(4, 0.0, 1.0), kBFloat16).requires_grad_(true);
  Tensor h = native::to(wave(4, 0.0, 1.0), kFloat16).requires_grad_(true);
  EXPECT_ERROR_TEXT(optim::SGD({b}, optim::SGDOptions(0.1)),
                    "SGD: a parameter has dtype bfloat16; SGD updates bfloat16 and float16 parameters "
                    "only through fp32 master weights, which it keeps when asked: "
                    "SGDOptions(lr).master_weights(true) (or give it float32 parameters)");
  testing::expect_error_containing([&] { optim::Adam({h}, optim::AdamOptions()); },
                                   "AdamOptions(lr).master_weights(true)");
  testing::expect_error_containing([&] { optim::AdamW({h}, optim::AdamWOptions()); },
                                   "AdamWOptions(lr).master_weights(true)");
  testing::expect_error_containing([&] { optim::RMSprop({b}, optim::RMSpropOptions()); },
                                   "RMSpropOptions(lr).master_weights(true)");
  // A group of its own without the option, in an optimizer whose defaults have it.
  Tensor f = wave(4, 0.0, 1.0).requires_grad_(true);
  testing::expect_error_containing(
      [&] {
        optim::Adam({optim::ParamGroup({f}), optim::ParamGroup({b}, optim::AdamOptions(1e-2))},
                    optim::AdamOptions().master_weights(true));
      },
      "AdamOptions(lr).master_weights(true)");
  // A parameter converted to 16 bits after construction is refused at step().
  nn::Linear lin(3, 2);
  optim::SGD sgd(lin->parameters(), optim::SGDOptions(0.1));
  lin->to(kBFloat16);
  for (Tensor& q : lin->parameters()) q.set_grad(native::zeros(q.shape(), TensorOptions(kBFloat16)));
  testing::expect_error_containing([&] { sgd.step(); }, "SGDOptions(lr).master_weights(true)");
}

// float32 / float64 parameters are untouched by the option: no master, the same bits.
TEST(MasterWeights, OptionDoesNothingForFloat32AndFloat64) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor a = native::to(wave(9, 0.1, 1.0), dtype).requires_grad_(true);
    Tensor b = native::to(wave(9, 0.1, 1.0), dtype).requires_grad_(true);
    optim::Adam with({a}, optim::AdamOptions(0.01).master_weights(true));
    optim::Adam without({b}, optim::AdamOptions(0.01));
    for (int t = 0; t < 3; ++t) {
      a.set_grad(native::to(wave(9, t, 0.5), dtype));
      b.set_grad(native::to(wave(9, t, 0.5), dtype));
      with.step();
      without.step();
    }
    expect_same_bits(a.detach(), b.detach(), "param");
    EXPECT_FALSE(with.state(a)->tensors.count("master_param"));
    EXPECT_EQ(with.state(a)->tensors.at("exp_avg").dtype(), dtype);
  }
}

// A model with a float32 and a bfloat16 parameter, and its optimizer with masters.
struct MixedRun {
  Tensor f = wave(5, 0.4, 1.0).requires_grad_(true);
  Tensor b = native::to(wave(6, 0.9, 1.0), kBFloat16).requires_grad_(true);
  optim::AdamW opt{std::vector<Tensor>{f, b}, optim::AdamWOptions(0.05).amsgrad(true).master_weights(true)};
  void step(int t) {
    f.set_grad(wave(5, 0.3 * t, 0.7));
    b.set_grad(native::to(wave(6, 0.5 * t, 0.7), kBFloat16));
    opt.step();
  }
};

TEST(MasterWeights, StateDictHoldsTheMasterAndRoundTrips) {
  MixedRun run;
  for (int t = 0; t < 3; ++t) run.step(t);
  optim::StateDict dict = run.opt.state_dict();
  ASSERT_TRUE(dict.tensors.count("state.1.master_param"));
  EXPECT_FALSE(dict.tensors.count("state.0.master_param"));  // float32: none
  EXPECT_EQ(dict.tensors.at("state.1.master_param").dtype(), kFloat32);
  EXPECT_EQ(dict.tensors.at("state.1.exp_avg").dtype(), kFloat32);
  EXPECT_FALSE(dict.scalars.count("param_groups.0.master_weights"));  // not a hyper-parameter

  // A fresh optimizer (same parameter values) restored from the dict continues bit for bit.
  MixedRun other;
  native::copy_(other.f.detach(), run.f.detach());
  native::copy_(other.b.detach(), run.b.detach());
  other.opt.load_state_dict(dict);
  // Loaded in float32, not rounded to the parameter's bfloat16.
  expect_same_bits(other.opt.state(other.b)->tensors.at("master_param"), dict.tensors.at("state.1.master_param"),
                   "loaded master");
  expect_same_bits(other.opt.state(other.b)->tensors.at("max_exp_avg_sq"),
                   dict.tensors.at("state.1.max_exp_avg_sq"), "loaded max_exp_avg_sq");
  for (int t = 3; t < 6; ++t) {
    run.step(t);
    other.step(t);
  }
  expect_same_bits(other.b.detach(), run.b.detach(), "bf16 param after resuming");
  expect_same_bits(other.f.detach(), run.f.detach(), "fp32 param after resuming");
  expect_same_bits(other.opt.state(other.b)->tensors.at("master_param"),
                   run.opt.state(run.b)->tensors.at("master_param"), "master after resuming");
}

TEST(MasterWeights, LoadingAStateWithoutMastersIsRefused) {
  MixedRun run;
  run.step(0);
  // The master entry removed.
  optim::StateDict dict = run.opt.state_dict();
  dict.tensors.erase("state.1.master_param");
  MixedRun other;
  const optim::StateDict before = other.opt.state_dict();
  EXPECT_ERROR_TEXT(other.opt.load_state_dict(dict),
                    "optimizer state entry 'state.1.master_param' is missing: parameter 1 is bfloat16 "
                    "and this AdamW keeps fp32 master weights (master_weights(true)), but the loaded "
                    "state has none (was it saved by an optimizer without master weights?)");
  EXPECT_EQ(other.opt.state(other.b), nullptr);  // nothing changed
  EXPECT_EQ(before.tensors.size(), other.opt.state_dict().tensors.size());

  // A state saved by a float32 run of the same model (no masters at all).
  Tensor f = wave(5, 0.4, 1.0).requires_grad_(true);
  Tensor b32 = wave(6, 0.9, 1.0).requires_grad_(true);
  optim::AdamW fp32({f, b32}, optim::AdamWOptions(0.05).amsgrad(true));
  f.set_grad(wave(5, 0.0, 0.7));
  b32.set_grad(wave(6, 0.0, 0.7));
  fp32.step();
  testing::expect_error_containing([&] { other.opt.load_state_dict(fp32.state_dict()); },
                                   "optimizer state entry 'state.1.master_param' is missing");
}

// A transposed bfloat16 leaf: the master is contiguous, the rounded copy lands
// in the parameter's own storage, as for the contiguous equivalent.
TEST(MasterWeights, NonContiguousParameterIsUpdatedInPlace) {
  Tensor base = native::to(tensor({1, 2, 3, 4, 5, 6}, {2, 3}, TensorOptions(kFloat32)), kBFloat16);
  Tensor wt = make_view(base, {3, 2}, {1, 3}, 0).requires_grad_(true);
  Tensor w = native::contiguous(wt).requires_grad_(true);
  ASSERT_FALSE(wt.is_contiguous());
  Tensor g = native::to(tensor({0.1, -0.2, 0.3, -0.4, 0.5, -0.6}, {3, 2}, TensorOptions(kFloat32)), kBFloat16);
  optim::RMSprop a({wt}, optim::RMSpropOptions(0.01).momentum(0.5).centered(true).master_weights(true));
  optim::RMSprop b({w}, optim::RMSpropOptions(0.01).momentum(0.5).centered(true).master_weights(true));
  for (int t = 0; t < 3; ++t) {
    wt.set_grad(g);
    w.set_grad(g);
    a.step();
    b.step();
  }
  expect_same_bits(wt.detach(), w.detach(), "param");
  EXPECT_NE(w.to_vector<double>()[0], 1.0);
  expect_same_bits(a.state(wt)->tensors.at("master_param"), b.state(w)->tensors.at("master_param"), "master");
  expect_same_bits(make_view(base, {3, 2}, {1, 3}, 0), w.detach(), "base storage");
}

class MasterWeightsCheckpointTest : public testing::TempDirTest {};

// A bfloat16 model with an fp32-master Adam, through an HDF5 checkpoint: the
// resumed run continues bit for bit, and the file holds the fp32 master.
TEST_F(MasterWeightsCheckpointTest, CheckpointRoundTripsTheMaster) {
  auto make = [] {
    auto lin = std::make_shared<nn::LinearImpl>(4, 3);
    lin->to(kBFloat16);
    return lin;
  };
  auto batch = [](int t) {
    return std::pair{native::to(wave(8, 0.7 * t, 1.0).view({2, 4}), kBFloat16),
                     native::to(wave(6, 0.3 * t, 1.0).view({2, 3}), kBFloat16)};
  };
  auto train_step = [&](nn::LinearImpl& lin, optim::Optimizer& opt, int t) {
    auto [x, y] = batch(t);
    opt.zero_grad();
    Tensor d = lin.forward(x) - y;
    (d * d).sum().backward();
    opt.step();
  };
  auto a = make();
  optim::Adam adam_a(a->parameters(), optim::AdamOptions(0.02).weight_decay(0.01).master_weights(true));
  for (int t = 0; t < 3; ++t) train_step(*a, adam_a, t);
  const std::string path = file("master.h5");
  nn::save_checkpoint(path, {a->state_dict(), adam_a.state_dict(), {}, 3, {}});

  nn::Checkpoint loaded = nn::load_checkpoint(path);
  ASSERT_TRUE(loaded.optimizer.tensors.count("state.0.master_param"));
  const Tensor& saved_master = loaded.optimizer.tensors.at("state.0.master_param");
  EXPECT_EQ(saved_master.dtype(), kFloat32);
  expect_same_bits(saved_master, adam_a.state(a->parameters()[0])->tensors.at("master_param"),
                   "master in the file");

  auto b = make();
  optim::Adam adam_b(b->parameters(), optim::AdamOptions(0.02).weight_decay(0.01).master_weights(true));
  nn::restore(loaded, *b, &adam_b);
  for (int t = 3; t < 6; ++t) {
    train_step(*a, adam_a, t);
    train_step(*b, adam_b, t);
  }
  for (std::size_t i = 0; i < a->parameters().size(); ++i) {
    expect_same_bits(b->parameters()[i].detach(), a->parameters()[i].detach(), "param after resuming");
    expect_same_bits(adam_b.state(b->parameters()[i])->tensors.at("master_param"),
                     adam_a.state(a->parameters()[i])->tensors.at("master_param"), "master after resuming");
  }

  // The same checkpoint without its master entries: refused, the model untouched.
  nn::Checkpoint stripped = loaded;
  stripped.optimizer.tensors.erase("state.0.master_param");
  auto c = make();
  optim::Adam adam_c(c->parameters(), optim::AdamOptions(0.02).master_weights(true));
  const std::vector<std::uint8_t> weight_before = bytes(c->parameters()[0].detach());
  testing::expect_error_containing([&] { nn::restore(stripped, *c, &adam_c); },
                                   "'state.0.master_param' is missing");
  EXPECT_TRUE(bytes(c->parameters()[0].detach()) == weight_before);
}

}  // namespace
}  // namespace loom
