// optim::GradScaler against torch.cuda.amp.GradScaler's documented behaviour.
//
// PyTorch 1.13 (Debian's python3-torch) has no CPU kernel for
// torch._amp_update_scale_ or torch._amp_foreach_non_finite_check_and_unscale_
// ("Could not run 'aten::_amp_update_scale_' with arguments from the 'CPU'
// backend", tried 2026-11-30), so the expected scale sequences below are
// derived by hand from the documented rule (torch/cuda/amp/grad_scaler.py,
// update(); aten/src/ATen/native/cuda/AmpKernels.cu):
//   inf/NaN found: scale = float32(scale * backoff_factor); tracker = 0
//   else: tracker + 1 == growth_interval ? (scale = float32(scale * growth_factor)
//         unless that is inf; tracker = 0) : tracker += 1
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom::optim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The bits of every element of a float32 tensor, to compare exactly.
std::vector<std::uint32_t> bits32(const Tensor& t) {
  std::vector<float> v = t.to_vector<float>();
  std::vector<std::uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

// One parameter [3] with SGD; each scripted step sets its gradient to `grad`
// times the current scale, as a backward of scale(loss) would.
struct Scripted {
  Tensor w = tensor({1.0, 2.0, 3.0}, TensorOptions(kFloat32)).requires_grad_(true);
  SGD sgd{{w}, SGDOptions(0.5)};
};

// Runs one iteration whose gradient is finite ('F'), has an inf ('I') or a
// NaN ('N'); returns whether the optimizer stepped.
bool scripted_step(GradScaler& scaler, Scripted& s, char kind) {
  Tensor loss = sum(mul(s.w, tensor({0.0, 0.0, 0.0}, TensorOptions(kFloat32))));
  scaler.scale(loss);  // creates the scale on the first call, as in PyTorch
  const double bad = kind == 'I' ? kInf : kind == 'N' ? kNaN : 0.0;
  const double sc = scaler.get_scale();
  s.w.set_grad(tensor({0.25 * sc, bad, -0.5 * sc}, TensorOptions(kFloat32)));
  const bool stepped = scaler.step(s.sgd);
  scaler.update();
  return stepped;
}

TEST(GradScaler, DefaultsAreTorchs) {
  GradScaler scaler;
  EXPECT_TRUE(scaler.is_enabled());
  EXPECT_EQ(scaler.get_scale(), 65536.0);
  EXPECT_EQ(scaler.get_growth_factor(), 2.0);
  EXPECT_EQ(scaler.get_backoff_factor(), 0.5);
  EXPECT_EQ(scaler.get_growth_interval(), 2000);
  EXPECT_EQ(scaler.get_growth_tracker(), 0);
  EXPECT_FALSE(scaler.scale_tensor().defined());  // lazily created, as PyTorch's _scale
}

TEST(GradScaler, ScaleSequenceFollowsTheUpdateRule) {
  // growth_interval 3, growth 2, backoff 0.5 from 2^16: powers of two, exact.
  GradScaler scaler(GradScalerOptions().growth_interval(3));
  Scripted s;
  const std::string script = "FFIFFFFNFFFIIFFF";
  // Derivation (scale, tracker after each update):
  //  F 65536,1  F 65536,2  I 32768,0 (backoff)  F 32768,1  F 32768,2
  //  F 65536,0 (3rd finite in a row: grow)  F 65536,1  N 32768,0 (backoff)
  //  F 32768,1  F 32768,2  F 65536,0 (grow)  I 32768,0  I 16384,0
  //  F 16384,1  F 16384,2  F 32768,0 (grow)
  const std::vector<double> scales = {65536, 65536, 32768, 32768, 32768, 65536, 65536, 32768,
                                      32768, 32768, 65536, 32768, 16384, 16384, 16384, 32768};
  const std::vector<std::int64_t> trackers = {1, 2, 0, 1, 2, 0, 1, 0, 1, 2, 0, 0, 0, 1, 2, 0};
  for (std::size_t i = 0; i < script.size(); ++i) {
    SCOPED_TRACE(fmt::format("step {} ({})", i + 1, script[i]));
    EXPECT_EQ(scripted_step(scaler, s, script[i]), script[i] == 'F');
    EXPECT_EQ(scaler.get_scale(), scales[i]);
    EXPECT_EQ(scaler.get_growth_tracker(), trackers[i]);
  }
}

TEST(GradScaler, ScaleSequenceRoundsToFloat32) {
  // growth 1.1, backoff 0.1, growth_interval 2 from 1000: the products are
  // taken in double (the factors are Python floats) and stored in the float32
  // scale. Derived with numpy (np.float32(float(s) * f)):
  //  F 1000,1  F float32(1100.0000000000002) = 1100,0  I 110,0  F 110,1
  //  I 11,0  I float32(1.1) = 1.100000023841858,0  F same,1
  //  F float32(1.100000023841858 * 1.1) = 1.2100000381469727,0  F same,1
  //  F float32(1.2100000381469727 * 1.1) = 1.3310000896453857,0
  GradScaler scaler(
      GradScalerOptions().init_scale(1000).growth_factor(1.1).backoff_factor(0.1).growth_interval(2));
  Scripted s;
  const std::string script = "FFIFIIFFFF";
  const std::vector<double> scales = {1000.0, 1100.0, 110.0, 110.0, 11.0, 1.100000023841858,
                                      1.100000023841858, 1.2100000381469727, 1.2100000381469727,
                                      1.3310000896453857};
  const std::vector<std::int64_t> trackers = {1, 0, 0, 1, 0, 0, 1, 0, 1, 0};
  for (std::size_t i = 0; i < script.size(); ++i) {
    SCOPED_TRACE(fmt::format("step {} ({})", i + 1, script[i]));
    EXPECT_EQ(scripted_step(scaler, s, script[i]), script[i] == 'F');
    EXPECT_EQ(scaler.get_scale(), scales[i]);
    EXPECT_EQ(scaler.get_growth_tracker(), trackers[i]);
  }
}

TEST(GradScaler, ScaleNeverGrowsToInfinity) {
  // 2^127 * 2 = 2^128 overflows float32: the scale stays, the tracker resets.
  const double big = std::ldexp(1.0, 127);
  GradScaler scaler(GradScalerOptions().init_scale(big).growth_interval(1));
  Scripted s;
  scaler.scale(sum(s.w));
  s.w.set_grad(tensor({0.0, 0.0, 0.0}, TensorOptions(kFloat32)));
  EXPECT_TRUE(scaler.step(s.sgd));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), big);
  EXPECT_EQ(scaler.get_growth_tracker(), 0);
}

// Every tensor of a StateDict as bits and every scalar, for exact comparison.
struct Snapshot {
  std::map<std::string, std::vector<std::uint32_t>> tensors;
  std::map<std::string, double> scalars;
  bool operator==(const Snapshot&) const = default;
};
Snapshot snapshot(const StateDict& d) {
  Snapshot s;
  for (const auto& [k, t] : d.tensors)
    s.tensors[k] = t.dtype() == kFloat32 ? bits32(t) : bits32(native::to(t, kFloat32));
  s.scalars = d.scalars;
  return s;
}

TEST(GradScaler, SkippedStepLeavesParametersAndOptimizerStateUnchanged) {
  Tensor w = tensor({0.5, -1.5, 2.0, 0.25}, TensorOptions(kFloat32)).requires_grad_(true);
  Tensor b = tensor({0.1, 0.2}, TensorOptions(kFloat32)).requires_grad_(true);
  Adam adam({w, b}, AdamOptions(0.1));
  GradScaler scaler(GradScalerOptions().init_scale(1024));
  // One iteration; `bad` (inf or NaN) replaces b's first gradient element.
  auto iteration = [&](double bad) {
    adam.zero_grad();
    Tensor loss = sum(square(w)) + sum(mul(b, b));
    scaler.scale(loss).backward();
    if (bad != 0) {
      std::vector<double> g = b.grad().to_vector<double>();
      g[0] = bad;
      b.set_grad(tensor(g, {2}, TensorOptions(kFloat32)));
    }
    const bool stepped = scaler.step(adam);
    scaler.update();
    return stepped;
  };
  ASSERT_TRUE(iteration(0));  // Adam now has state (step 1, moments)
  for (double bad : {kInf, -kInf, kNaN}) {
    SCOPED_TRACE(fmt::format("bad gradient {}", bad));
    const auto w_before = bits32(w), b_before = bits32(b);
    const Snapshot state_before = snapshot(adam.state_dict());
    const double scale_before = scaler.get_scale();
    EXPECT_FALSE(iteration(bad));
    EXPECT_EQ(bits32(w), w_before);
    EXPECT_EQ(bits32(b), b_before);
    EXPECT_TRUE(snapshot(adam.state_dict()) == state_before);
    EXPECT_EQ(adam.state_dict().scalars.at("state.0.step"), 1.0);
    EXPECT_EQ(scaler.get_scale(), scale_before * 0.5);
  }
  // A finite step afterwards does update (and counts Adam's step 2).
  const auto w_before = bits32(w);
  EXPECT_TRUE(iteration(0));
  EXPECT_NE(bits32(w), w_before);
  EXPECT_EQ(adam.state_dict().scalars.at("state.0.step"), 2.0);
}

TEST(GradScaler, ScaleMultipliesWithTorchsPromotion) {
  GradScaler scaler(GradScalerOptions().init_scale(8));
  // torch: tensor(x, dtype) * torch.ones(1) (float32 [1]) is float32 [1] for
  // every 0-dim floating x, float64 [3] for a float64 [3] x, float32 [3] for
  // the others (checked with PyTorch 1.13 on the CPU, 2026-11-30).
  for (DType dt : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
    SCOPED_TRACE(fmt::format("{}", dt));
    Tensor x0 = native::full({}, 1.5, TensorOptions(dt));
    Tensor y0 = scaler.scale(x0);
    EXPECT_EQ(y0.dtype(), kFloat32);
    EXPECT_EQ(y0.shape(), Shape({1}));
    EXPECT_EQ(y0.item(), 12.0);
    Tensor x1 = tensor({0.5, -2.0, 3.0}, TensorOptions(dt));
    Tensor y1 = scaler.scale(x1);
    EXPECT_EQ(y1.dtype(), dt == kFloat64 ? kFloat64 : kFloat32);
    EXPECT_EQ(y1.to_vector<double>(), std::vector<double>({4.0, -16.0, 24.0}));
  }
  // Differentiable: d(scale(loss))/dw = scale * dloss/dw, for a bf16 loss too.
  Tensor w = tensor({1.0, -2.0}, TensorOptions(kBFloat16)).requires_grad_(true);
  scaler.scale(sum(mul(w, w))).backward();
  EXPECT_EQ(w.grad().dtype(), kBFloat16);
  EXPECT_EQ(w.grad().to_vector<double>(), std::vector<double>({16.0, -32.0}));
  // The list form scales each.
  std::vector<Tensor> ys = scaler.scale(std::vector<Tensor>{native::full({}, 1.0), native::full({}, 2.0)});
  ASSERT_EQ(ys.size(), 2u);
  EXPECT_EQ(ys[1].item(), 16.0);
  EXPECT_ERROR_TEXT(scaler.scale(native::full({}, 1.0, TensorOptions(kInt64))),
                    "GradScaler.scale: expected a floating tensor, got int64");
}

TEST(GradScaler, UnscaleDividesExactlyByAPowerOfTwo) {
  // float32, bfloat16 and float64 gradients of random values times 2^16 come
  // back as exactly the values (checked against the float64 division).
  for (DType dt : {kFloat32, kBFloat16, kFloat64}) {
    SCOPED_TRACE(fmt::format("{}", dt));
    Tensor w = native::zeros({50}, TensorOptions(dt)).requires_grad_(true);
    SGD sgd({w}, SGDOptions(0.1).master_weights(true));  // takes the bfloat16 parameter
    GradScaler scaler;  // 2^16
    scaler.scale(sum(w));
    Tensor g = native::to(testing::random_tensor({50}, 7, kFloat64), dt);
    std::vector<double> scaled = native::to(g, kFloat64).to_vector<double>();
    for (double& v : scaled) v *= 65536.0;
    w.set_grad(tensor(scaled, {50}, TensorOptions(dt)));
    scaler.unscale_(sgd);
    std::vector<double> got = w.grad().to_vector<double>();
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], scaled[i] / 65536.0) << i;
  }
}

TEST(GradScaler, UnscaleByAnyScaleRoundsOnceOrTwice) {
  // scale 3: grad * float32(1/3) in float32. Against the float64 quotient
  // g / 3: the reciprocal rounds once and the product once, so the relative
  // error is at most 2u + u^2 with u = 2^-24.
  Tensor w = native::zeros({200}, TensorOptions(kFloat32)).requires_grad_(true);
  SGD sgd({w}, SGDOptions(0.1));
  GradScaler scaler(GradScalerOptions().init_scale(3));
  scaler.scale(sum(w));
  Tensor g = native::to(testing::random_tensor({200}, 11, kFloat64), kFloat32);
  const std::vector<double> g64 = g.to_vector<double>();  // float32 values, exactly
  w.set_grad(native::clone(g));
  scaler.unscale_(sgd);
  const std::vector<double> got = w.grad().to_vector<double>();
  const double u = std::ldexp(1.0, -24);
  double worst = 0;
  int changed = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double exact = g64[i] / 3.0;
    const double rel = std::fabs(got[i] - exact) / std::fabs(exact);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 2 * u + u * u) << i;
    changed += got[i] != g64[i];
  }
  EXPECT_EQ(changed, 200);
  EXPECT_GT(worst, 0.0);  // not exact: the test can tell a wrong rounding
}

TEST(GradScaler, UnscaleFindsInfAndNaNInAnyGradient) {
  for (double bad : {kInf, -kInf, kNaN}) {
    SCOPED_TRACE(fmt::format("{}", bad));
    Tensor a = native::zeros({3}, TensorOptions(kFloat32)).requires_grad_(true);
    Tensor b = native::zeros({2, 2}, TensorOptions(kBFloat16)).requires_grad_(true);
    Tensor c = native::zeros({2}, TensorOptions(kFloat32)).requires_grad_(true);  // no grad
    SGD sgd({a, b, c}, SGDOptions(0.1).master_weights(true));  // b is bfloat16
    GradScaler scaler(GradScalerOptions().init_scale(4));
    scaler.scale(sum(a));
    a.set_grad(tensor({4.0, 8.0, 12.0}, TensorOptions(kFloat32)));
    b.set_grad(tensor({4.0, bad, 0.0, -4.0}, {2, 2}, TensorOptions(kBFloat16)));
    EXPECT_FALSE(scaler.step(sgd));
    // Every gradient was unscaled anyway, as PyTorch does; the parameters stayed.
    EXPECT_EQ(a.grad().to_vector<double>(), std::vector<double>({1.0, 2.0, 3.0}));
    std::vector<double> gb = b.grad().to_vector<double>();
    EXPECT_EQ(gb[0], 1.0);
    EXPECT_EQ(gb[3], -1.0);
    EXPECT_TRUE(std::isnan(bad) ? std::isnan(gb[1]) : gb[1] == bad);
    EXPECT_EQ(a.to_vector<double>(), std::vector<double>({0.0, 0.0, 0.0}));
    EXPECT_FALSE(c.grad().defined());
  }
}

TEST(GradScaler, UnscaleOfANonContiguousGradientWritesIntoIt) {
  Tensor w = native::zeros({2, 3}, TensorOptions(kFloat32)).requires_grad_(true);
  SGD sgd({w}, SGDOptions(1.0));
  GradScaler scaler(GradScalerOptions().init_scale(2));
  scaler.scale(sum(w));
  Tensor gt = tensor({2, 4, 6, 8, 10, 12}, {3, 2}, TensorOptions(kFloat32));
  Tensor g = transpose(gt, 0, 1);  // [2, 3], not contiguous
  ASSERT_FALSE(g.is_contiguous());
  w.set_grad(g);
  EXPECT_TRUE(scaler.step(sgd));
  EXPECT_EQ(w.grad().to_vector<double>(), std::vector<double>({1, 3, 5, 2, 4, 6}));
  EXPECT_EQ(w.to_vector<double>(), std::vector<double>({-1, -3, -5, -2, -4, -6}));
}

TEST(GradScaler, ErrorsInTorchsWords) {
  Tensor w = native::zeros({2}, TensorOptions(kFloat32)).requires_grad_(true);
  SGD sgd({w}, SGDOptions(0.1));
  GradScaler scaler;
  const std::string fix =
      " but _scale is None.  This may indicate your script did not use scaler.scale(loss or "
      "outputs) earlier in the iteration.";
  EXPECT_ERROR_TEXT(scaler.unscale_(sgd), "Attempted unscale_" + fix);
  EXPECT_ERROR_TEXT(scaler.step(sgd), "Attempted step" + fix);
  EXPECT_ERROR_TEXT(scaler.update(), "Attempted update" + fix);
  scaler.scale(sum(w));
  EXPECT_ERROR_TEXT(scaler.update(), "No inf checks were recorded prior to update.");
  EXPECT_ERROR_TEXT(scaler.step(sgd), "No inf checks were recorded for this optimizer.");
  scaler.update(65536.0);  // forgets the record of the failed step
  w.set_grad(tensor({65536.0, 0.0}, TensorOptions(kFloat32)));
  scaler.unscale_(sgd);
  EXPECT_ERROR_TEXT(scaler.unscale_(sgd),
                    "unscale_() has already been called on this optimizer since the last update().");
  EXPECT_EQ(w.grad().to_vector<double>(), std::vector<double>({1.0, 0.0}));  // not twice
  EXPECT_TRUE(scaler.step(sgd));
  EXPECT_ERROR_TEXT(scaler.step(sgd), "step() has already been called since the last update().");
  EXPECT_ERROR_TEXT(scaler.unscale_(sgd), "unscale_() is being called after step().");
  scaler.update();
  scaler.unscale_(sgd);  // a new iteration may unscale again

  Tensor h = native::zeros({2}, TensorOptions(kFloat16)).requires_grad_(true);
  SGD sgd16({h}, SGDOptions(0.1).master_weights(true));  // float16 parameters need master weights
  h.set_grad(native::ones({2}, TensorOptions(kFloat16)));
  EXPECT_ERROR_TEXT(scaler.unscale_(sgd16), "Attempting to unscale FP16 gradients.");
  EXPECT_EQ(h.grad().to_vector<double>(), std::vector<double>({1.0, 1.0}));

  EXPECT_ERROR_TEXT(scaler.update(native::full({2}, 4.0)),
                    "new_scale should be a float or a 1-element torch.cuda.FloatTensor with "
                    "requires_grad=False.");
  EXPECT_ERROR_TEXT(scaler.update(native::full({1}, 4.0, TensorOptions(kFloat64))),
                    "new_scale should be a float or a 1-element torch.cuda.FloatTensor with "
                    "requires_grad=False.");
  scaler.update(native::full({1}, 4.0));
  EXPECT_EQ(scaler.get_scale(), 4.0);
  EXPECT_ERROR_TEXT(scaler.update(0.0), "The new scale must be finite and > 0.0, got 0.0.");

  // Options: PyTorch's two checks, then loom's own.
  EXPECT_ERROR_TEXT(GradScaler(GradScalerOptions().growth_factor(1.0)),
                    "The growth factor must be > 1.0.");
  EXPECT_ERROR_TEXT(GradScaler(GradScalerOptions().growth_factor(kNaN)),
                    "The growth factor must be > 1.0.");
  EXPECT_ERROR_TEXT(GradScaler(GradScalerOptions().backoff_factor(1.0)),
                    "The backoff factor must be < 1.0.");
  EXPECT_ERROR_TEXT(GradScaler(GradScalerOptions().backoff_factor(0.0)),
                    "The backoff factor must be > 0.0, got 0.0.");
  EXPECT_ERROR_TEXT(GradScaler(GradScalerOptions().init_scale(-1)),
                    "The initial scale must be finite and > 0.0, got -1.0.");
  EXPECT_ERROR_TEXT(GradScaler(GradScalerOptions().init_scale(kInf)),
                    "The initial scale must be finite and > 0.0, got inf.");
  EXPECT_ERROR_TEXT(GradScaler(GradScalerOptions().growth_interval(0)),
                    "The growth interval must be >= 1, got 0.");
  EXPECT_ERROR_TEXT(scaler.set_growth_factor(0.5), "The growth factor must be > 1.0.");
  EXPECT_ERROR_TEXT(scaler.set_backoff_factor(2.0), "The backoff factor must be < 1.0.");
  EXPECT_ERROR_TEXT(scaler.set_growth_interval(-3), "The growth interval must be >= 1, got -3.");
  scaler.set_growth_factor(4.0);
  scaler.set_backoff_factor(0.25);
  scaler.set_growth_interval(7);
  EXPECT_EQ(scaler.get_growth_factor(), 4.0);
  EXPECT_EQ(scaler.get_backoff_factor(), 0.25);
  EXPECT_EQ(scaler.get_growth_interval(), 7);
  // A disabled scaler checks nothing, as PyTorch's.
  GradScaler off(GradScalerOptions().enabled(false).growth_factor(0.5));
  EXPECT_FALSE(off.is_enabled());
}

TEST(GradScaler, ManualUnscaleThenClipThenStep) {
  // The documented pattern: scale(loss).backward(); unscale_(opt);
  // clip_grad_norm_; step(opt); update(). With a power-of-two scale every
  // gradient is exactly 2^16 times the unscaled one, so the clipped
  // gradients and the updated parameters equal those of a run without the
  // scaler bit for bit.
  auto run = [](bool with_scaler) {
    manual_seed(3);
    nn::Linear fc(4, 3);
    Tensor x = randn({5, 4}), target = randn({5, 3});
    SGD sgd(fc->parameters(), SGDOptions(0.1).momentum(0.9));
    GradScaler scaler(GradScalerOptions().enabled(with_scaler));
    std::vector<double> norms;
    for (int i = 0; i < 4; ++i) {
      sgd.zero_grad();
      Tensor loss = mean(square(fc->forward(x) - target));
      scaler.scale(loss).backward();
      scaler.unscale_(sgd);
      norms.push_back(clip_grad_norm_(fc->parameters(), 0.05).item());
      EXPECT_TRUE(scaler.step(sgd));
      scaler.update();
    }
    std::vector<std::vector<std::uint32_t>> params;
    for (const Tensor& p : fc->parameters()) params.push_back(bits32(p));
    return std::make_pair(norms, params);
  };
  auto [norms_plain, params_plain] = run(false);
  auto [norms_scaled, params_scaled] = run(true);
  EXPECT_EQ(norms_scaled, norms_plain);
  EXPECT_EQ(params_scaled, params_plain);
  EXPECT_GT(norms_plain[0], 0.05);  // the clipping did act
}

TEST(GradScaler, DisabledPassesEverythingThrough) {
  GradScaler scaler(GradScalerOptions().enabled(false));
  Tensor w = tensor({1.0, 2.0}, TensorOptions(kFloat32)).requires_grad_(true);
  SGD sgd({w}, SGDOptions(0.5));
  Tensor loss = sum(mul(w, w));
  EXPECT_TRUE(scaler.scale(loss).is_same(loss));
  loss.backward();
  scaler.unscale_(sgd);
  scaler.unscale_(sgd);  // no-op, no error
  EXPECT_EQ(w.grad().to_vector<double>(), std::vector<double>({2.0, 4.0}));
  EXPECT_TRUE(scaler.step(sgd));
  EXPECT_EQ(w.to_vector<double>(), std::vector<double>({0.0, 0.0}));
  // A disabled scaler steps even on inf gradients (it checks nothing).
  w.set_grad(tensor({kInf, 0.0}, TensorOptions(kFloat32)));
  EXPECT_TRUE(scaler.step(sgd));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 1.0);
  EXPECT_EQ(scaler.get_growth_tracker(), 0);
  EXPECT_TRUE(scaler.state_dict().scalars.empty());
  scaler.load_state_dict(StateDict());  // no-op
}

TEST(GradScaler, StateDictHasTorchsKeys) {
  GradScaler scaler(GradScalerOptions().growth_interval(3).init_scale(256));
  Scripted s;
  for (char c : std::string("FFIFF")) scripted_step(scaler, s, c);
  StateDict d = scaler.state_dict();
  EXPECT_TRUE(d.tensors.empty());
  EXPECT_EQ(d.scalars, (std::map<std::string, double>{{"scale", 128.0},
                                                        {"growth_factor", 2.0},
                                                        {"backoff_factor", 0.5},
                                                        {"growth_interval", 3.0},
                                                        {"_growth_tracker", 2.0}}));
  // Loaded into a scaler that has a scale already and into a fresh one: both
  // continue the sequence (the next finite step grows 128 -> 256).
  GradScaler used(GradScalerOptions().init_scale(4));
  Scripted s2;
  scripted_step(used, s2, 'F');
  GradScaler fresh;
  for (GradScaler* g : {&used, &fresh}) {
    g->load_state_dict(d);
    EXPECT_EQ(g->get_scale(), 128.0);
    EXPECT_EQ(g->get_growth_tracker(), 2);
    Scripted s3;
    EXPECT_TRUE(scripted_step(*g, s3, 'F'));
    EXPECT_EQ(g->get_scale(), 256.0);
    EXPECT_EQ(g->get_growth_tracker(), 0);
  }
  // Refusals change nothing.
  GradScaler target;
  EXPECT_ERROR_TEXT(target.load_state_dict(StateDict()),
                    "The source state dict is empty, possibly because it was saved from a "
                    "disabled instance of GradScaler.");
  for (const auto& [key, value] : d.scalars) {
    StateDict missing = d;
    missing.scalars.erase(key);
    EXPECT_ERROR_TEXT(target.load_state_dict(missing),
                      "grad scaler state entry '" + key + "' is missing");
  }
  StateDict bad = d;
  bad.scalars["_growth_tracker"] = 1.5;
  EXPECT_ERROR_TEXT(target.load_state_dict(bad),
                    "grad scaler state entry '_growth_tracker' must be an integer, got 1.5");
  bad = d;
  bad.scalars["backoff_factor"] = 2.0;
  EXPECT_ERROR_TEXT(target.load_state_dict(bad), "The backoff factor must be < 1.0.");
  bad = d;
  bad.scalars["scale"] = kNaN;
  EXPECT_ERROR_TEXT(target.load_state_dict(bad), "The scale must be finite and > 0.0, got nan.");
  EXPECT_EQ(target.get_scale(), 65536.0);
  EXPECT_EQ(target.get_growth_interval(), 2000);
}

// A small LSTM regression model; `scale` > 0: trained with a GradScaler of
// that initial scale (growth_interval 3), else without. Returns the
// parameters after `steps` Adam steps.
std::vector<Tensor> train_lstm(double init_scale, int steps, std::vector<double>* scales) {
  manual_seed(17);
  nn::LSTM lstm(nn::LSTMOptions(3, 6).num_layers(2));
  nn::Linear head(6, 2);
  std::vector<Tensor> params = lstm->parameters();
  for (const Tensor& p : head->parameters()) params.push_back(p);
  Adam adam(params, AdamOptions(0.01));
  GradScaler scaler(GradScalerOptions().enabled(init_scale > 0).init_scale(
      init_scale > 0 ? init_scale : 1.0).growth_interval(3));
  Tensor x = randn({7, 4, 3}), target = randn({7, 4, 2});
  for (int i = 0; i < steps; ++i) {
    adam.zero_grad();
    auto [out, state] = lstm->forward(x);
    Tensor loss = mean(square(head->forward(out) - target));
    scaler.scale(loss).backward();
    EXPECT_TRUE(scaler.step(adam)) << "step " << i;
    scaler.update();
    if (scales) scales->push_back(scaler.get_scale());
  }
  return params;
}

TEST(GradScaler, Float32TrainingMatchesTrainingWithoutScaler) {
  // Power-of-two scales (2^16, growing to 2^19 over 10 steps) multiply every
  // gradient exactly, so the trajectory equals the unscaled one bit for bit.
  const std::vector<Tensor> plain = train_lstm(0, 10, nullptr);
  std::vector<double> scales;
  const std::vector<Tensor> scaled = train_lstm(65536, 10, &scales);
  ASSERT_EQ(plain.size(), scaled.size());
  for (std::size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(bits32(scaled[i]), bits32(plain[i])) << i;
  EXPECT_EQ(scales.back(), 524288.0);  // 2^16 * 2^3: grown after steps 3, 6 and 9
  // A scale that is not a power of two rounds each gradient twice (scaled
  // backward, then unscale); after 10 Adam steps the parameters agree to
  // float32 rounding amplified by the steps: asserted within 1e-5 absolute
  // (parameters are O(0.1-1)); the run prints the worst difference seen.
  const std::vector<Tensor> odd = train_lstm(1000, 10, nullptr);
  double worst = 0;
  for (std::size_t i = 0; i < plain.size(); ++i)
    worst = std::max(worst, testing::expect_all_close(odd[i].to_vector<double>(),
                                                      plain[i].to_vector<double>(), 0, 1e-5,
                                                      fmt::format("param {}", i)));
  std::printf("GradScaler(init_scale=1000) vs no scaler after 10 Adam steps: worst |diff| %.3g\n",
              worst);
}

}  // namespace
}  // namespace loom::optim
