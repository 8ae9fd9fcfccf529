// clip_grad_norm_ and clip_grad_value_ against PyTorch 1.13 (numbers in
// tests/data/optim/optim_reference.txt, written by
// tests/fixtures/make_optim_trajectories.py), float64 and float32.
#include <cmath>

#include "core/native.h"
#include "optim/clip_grad.h"
#include "optim_reference.h"
#include "testing.h"

namespace loom {
namespace {

namespace ref = testing::optim_reference;

std::vector<Tensor> make_params(const ref::ClipCase& c, DType dtype) {
  std::vector<Tensor> params;
  for (std::size_t p = 0; p < c.shapes.size(); ++p) {
    Tensor t = native::zeros(c.shapes[p], TensorOptions(dtype)).requires_grad_(true);
    if (c.grads[p]) t.set_grad(tensor(*c.grads[p], c.shapes[p], TensorOptions(dtype)));
    params.push_back(t);
  }
  return params;
}

TEST(ClipGrad, MatchesPyTorch) {
  int count = 0;
  for (const auto& c : ref::reference().clips) {
    for (const char* dtype : {"float64", "float32"}) {
      SCOPED_TRACE(c.name + " " + dtype);
      ++count;
      const bool f64 = std::string(dtype) == "float64";
      const double rtol = f64 ? 1e-12 : 1e-5, atol = f64 ? 1e-15 : 1e-7;
      auto params = make_params(c, f64 ? kFloat64 : kFloat32);
      // Keep handles to the gradient tensors: clipping works in place.
      std::vector<Tensor> grads;
      for (const Tensor& p : params) grads.push_back(p.grad());
      if (c.by_value) {
        optim::clip_grad_value_(params, c.clip_value);
      } else {
        Tensor total = optim::clip_grad_norm_(params, c.max_norm, c.norm_type);
        EXPECT_EQ(total.dim(), 0);
        EXPECT_EQ(total.dtype(), f64 ? kFloat64 : kFloat32);
        double expected = c.total.at(dtype);
        EXPECT_NEAR(total.item(), expected, atol + rtol * std::abs(expected));
      }
      for (std::size_t p = 0; p < params.size(); ++p) {
        if (!c.grads[p]) {
          EXPECT_FALSE(params[p].grad().defined());
          continue;
        }
        EXPECT_TRUE(params[p].grad().is_same(grads[p])) << "clipping must work in place";
        testing::expect_all_close(params[p].grad().to_vector<double>(), c.clipped.at(dtype).at(p),
                                  rtol, atol, fmt::format("{} {} grad {}", c.name, dtype, p));
      }
    }
  }
  EXPECT_GE(count, 16);
}

TEST(ClipGrad, NoGradientsGiveZero) {
  Tensor w = native::ones({3}, TensorOptions(kFloat64)).requires_grad_(true);
  Tensor total = optim::clip_grad_norm_({w}, 1.0);
  EXPECT_EQ(total.dtype(), kFloat32);  // torch.tensor(0.)
  EXPECT_EQ(total.item(), 0.0);
}

TEST(ClipGrad, NonFiniteNormErrorUsesPyTorchWords) {
  Tensor w = native::ones({2}, TensorOptions(kFloat64)).requires_grad_(true);
  w.set_grad(tensor({1.0, INFINITY}, kFloat64));
  // torch/nn/utils/clip_grad.py (1.13), with norm_type formatted as Python does.
  const std::string message =
      "The total norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot be "
      "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
      "`error_if_nonfinite=False`";
  try {
    optim::clip_grad_norm_({w}, 1.0, 2.0, true);
    ADD_FAILURE() << "expected loom::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
  // Without the check PyTorch scales by max_norm / inf = 0: [0, nan].
  Tensor total = optim::clip_grad_norm_({w}, 1.0);
  EXPECT_TRUE(std::isinf(total.item()));
  std::vector<double> g = w.grad().to_vector<double>();
  EXPECT_EQ(g[0], 0.0);
  EXPECT_TRUE(std::isnan(g[1]));
  w.set_grad(tensor({NAN, 1.0}, kFloat64));
  EXPECT_THROW(optim::clip_grad_norm_({w}, 1.0, INFINITY, true), Error);
}

}  // namespace
}  // namespace loom
