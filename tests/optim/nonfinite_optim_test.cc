// Plain fp32/fp64 training with NaN and +-inf gradients behaves as PyTorch
// 1.13's: every optimizer step (SGD with momentum/nesterov/weight decay/
// maximize, Adam and AdamW with and without amsgrad, RMSprop plain and
// centered with momentum) turns exactly the parameters PyTorch turns NaN/inf,
// and the rest agree to tolerance; clip_grad_norm_ over non-finite gradients
// returns PyTorch's total and scales the gradients as PyTorch does (to NaN),
// and with error_if_nonfinite raises in PyTorch's words, leaving the
// gradients untouched. The numbers were written by PyTorch:
//   /usr/bin/python3 tests/fixtures/make_nonfinite_reference.py
// into tests/data/nonfinite/optim_nonfinite.txt (format of
// tests/fixtures/make_optim_trajectories.py; committed).
#include <cmath>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "core/native.h"
#include "optim/optim.h"
#include "nonfinite_testing.h"
#include "optim_reference.h"
#include "testing.h"

namespace loom {
namespace {

namespace ref = testing::optim_reference;

// The tolerances of tests/optim/optimizer_test.cc and clip_grad_test.cc.
constexpr double kRtol64 = 1e-12, kAtol64 = 1e-14, kRtol32 = 1e-5, kAtol32 = 1e-6;

const ref::Reference& reference() {
  static const ref::Reference r = ref::load("tests/data/nonfinite/optim_nonfinite.txt");
  return r;
}

// Runs case c in `dtype` on `device`, comparing after every step; returns the worst finite error.
double run_trajectory(const ref::TrajectoryCase& c, DType dtype, Device device) {
  const std::string dname = dtype == kFloat64 ? "float64" : "float32";
  std::vector<Tensor> params;
  for (std::size_t p = 0; p < c.shapes.size(); ++p)
    params.push_back(tensor(c.init[p], c.shapes[p], TensorOptions(dtype).device(device)).requires_grad_(true));
  auto opt = ref::make_case_optimizer(c, params);
  double worst = 0;
  for (std::size_t t = 1; t <= c.grads.size(); ++t) {
    for (std::size_t p = 0; p < params.size(); ++p)
      params[p].set_grad(tensor(*c.grads[t - 1][p], c.shapes[p], TensorOptions(dtype).device(device)));
    opt->step();
    for (std::size_t p = 0; p < params.size(); ++p)
      worst = std::max(worst, testing::expect_same_nonfinite(
                                  params[p].to_vector<double>(), c.expected.at(dname)[t - 1][p],
                                  dtype == kFloat64 ? kRtol64 : kRtol32, dtype == kFloat64 ? kAtol64 : kAtol32,
                                  fmt::format("{} {} step {} param {}", c.name, dname, t, p)));
  }
  return worst;
}

void run_all_optimizers(Device device) {
  ASSERT_EQ(reference().cases.size(), 9u);
  bool saw_nan_parameter = false;
  for (const auto& c : reference().cases) {
    SCOPED_TRACE(c.name);
    ASSERT_EQ(c.grads.size(), 4u);
    run_trajectory(c, kFloat64, device);
    run_trajectory(c, kFloat32, device);
    for (double v : c.expected.at("float32")[3][0]) saw_nan_parameter |= std::isnan(v);
  }
  EXPECT_TRUE(saw_nan_parameter) << "the reference should show NaN parameters";
}

TEST(NonfiniteOptim, EveryOptimizerStepMatchesPyTorch) { run_all_optimizers(kCPU); }

TEST(NonfiniteOptim, EveryOptimizerStepMatchesPyTorchCuda) {
  LOOM_SKIP_WITHOUT_CUDA();
  run_all_optimizers(kCUDA);
}

void run_clipping(Device device) {
  ASSERT_EQ(reference().clips.size(), 12u);
  for (const auto& c : reference().clips) {
    for (DType dtype : {kFloat64, kFloat32}) {
      const std::string dname = dtype == kFloat64 ? "float64" : "float32";
      SCOPED_TRACE(c.name + " " + dname);
      const double rtol = dtype == kFloat64 ? kRtol64 : kRtol32, atol = dtype == kFloat64 ? kAtol64 : kAtol32;
      auto make = [&] {
        std::vector<Tensor> params;
        for (std::size_t p = 0; p < c.shapes.size(); ++p) {
          TensorOptions o = TensorOptions(dtype).device(device);
          Tensor w = native::zeros(c.shapes[p], o).requires_grad_(true);
          w.set_grad(tensor(*c.grads[p], c.shapes[p], o));
          params.push_back(w);
        }
        return params;
      };
      // error_if_nonfinite: PyTorch's error, gradients untouched.
      std::vector<Tensor> params = make();
      testing::expect_error_containing(
          [&] { optim::clip_grad_norm_(params, c.max_norm, c.norm_type, true); },
          "for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this "
          "error and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`");
      for (std::size_t p = 0; p < params.size(); ++p) {
        std::vector<double> given = *c.grads[p];  // as stored in `dtype`
        if (dtype == kFloat32)
          for (double& v : given) v = static_cast<double>(static_cast<float>(v));
        testing::expect_same_nonfinite(params[p].grad().to_vector<double>(), given, 0, 0,
                                       fmt::format("grad {} after the error", p));
      }
      // Without it: PyTorch's total and its scaled (NaN) gradients.
      Tensor total = optim::clip_grad_norm_(params, c.max_norm, c.norm_type);
      testing::expect_same_nonfinite({total.item()}, {c.total.at(dname)}, rtol, atol, "total norm");
      for (std::size_t p = 0; p < params.size(); ++p)
        testing::expect_same_nonfinite(params[p].grad().to_vector<double>(), c.clipped.at(dname).at(p),
                                       rtol, atol, fmt::format("clipped grad {}", p));
    }
  }
}

TEST(NonfiniteOptim, ClipGradNormOfNonFiniteGradientsMatchesPyTorch) { run_clipping(kCPU); }

TEST(NonfiniteOptim, ClipGradNormOfNonFiniteGradientsMatchesPyTorchCuda) {
  LOOM_SKIP_WITHOUT_CUDA();
  run_clipping(kCUDA);
}

}  // namespace
}  // namespace loom
