#include "nn/init.h"

#include <cmath>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"

namespace loom::nn::init {

namespace {
TensorOptions options_of(const Tensor& t) { return TensorOptions(t.dtype()).device(t.device()); }

void check_floating(const Tensor& t, const char* what) {
  LOOM_CHECK(t.defined(), "{}: expected a defined tensor", what);
  LOOM_CHECK(is_floating(t.dtype()),
             "{}: expected a floating tensor (float32, float64, bfloat16 or float16), got {}", what,
             t.dtype());
}
}  // namespace

Tensor uniform_(const Tensor& t, double a, double b) {
  check_floating(t, "uniform_");
  LOOM_CHECK(a <= b, "uniform_ expects to return a [from, to) range, but found from={} > to={}", a, b);
  LOOM_CHECK(std::isfinite(b - a), "uniform_ expects a finite range, but found from={} and to={}", a, b);
  NoGradGuard no_grad;
  if (is_reduced_float(t.dtype())) {  // draw and scale in float32, round once
    Tensor wide = native::to(t, kFloat32);
    native::copy_(t, uniform_(wide, a, b));
    return t;
  }
  Tensor u = rand(t.shape(), options_of(t));  // U[0, 1)
  native::copy_(t, add(mul(u, b - a), a));
  return t;
}

Tensor normal_(const Tensor& t, double mean, double std) {
  check_floating(t, "normal_");
  LOOM_CHECK(std >= 0.0, "normal expects std >= 0.0, but found std {}", std);
  NoGradGuard no_grad;
  if (is_reduced_float(t.dtype())) {  // draw and scale in float32, round once
    Tensor wide = native::to(t, kFloat32);
    native::copy_(t, normal_(wide, mean, std));
    return t;
  }
  Tensor z = randn(t.shape(), options_of(t));  // N(0, 1)
  native::copy_(t, add(mul(z, std), mean));
  return t;
}

Tensor constant_(const Tensor& t, double value) {
  LOOM_CHECK(t.defined(), "constant_: expected a defined tensor");
  native::fill_(t, value);
  return t;
}

Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

}  // namespace loom::nn::init
