// nn::LayerNorm: normalizes over the trailing dimensions, as torch.nn.LayerNorm:
//
//   y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias
//
// with the mean and the biased variance over the last D dimensions, where
// normalized_shape has D sizes that must equal x's last D sizes. weight (ones)
// and bias (zeros) have shape normalized_shape and exist when
// elementwise_affine. Composed from differentiable ops (no fused kernel), so
// it runs on every device and dtype those ops take.
#pragma once

#include <string>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom {

// layer_norm(input, normalized_shape, weight, bias, eps), as
// torch.nn.functional.layer_norm; weight and bias may be undefined. Throws
// loom::Error (PyTorch's words) when input's trailing sizes are not
// normalized_shape, or weight / bias have another shape or dtype.
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps = 1e-5);

}  // namespace loom

namespace loom::nn {

// Options of LayerNorm, with PyTorch's defaults:
//   LayerNorm ln(LayerNormOptions({3, 4}).eps(1e-6).elementwise_affine(false));
struct LayerNormOptions {
  LayerNormOptions(Shape normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}  // NOLINT

  Shape normalized_shape_;
  double eps_ = 1e-5;
  bool elementwise_affine_ = true;

  LayerNormOptions& eps(double v) { eps_ = v; return *this; }
  LayerNormOptions& elementwise_affine(bool v) { elementwise_affine_ = v; return *this; }
};

class LayerNormImpl : public Module {
 public:
  // Throws loom::Error for an empty normalized_shape or a non-positive size.
  explicit LayerNormImpl(LayerNormOptions options);

  // Any input whose trailing sizes are normalized_shape; the same shape out.
  Tensor forward(const Tensor& input) const;
  // weight = 1, bias = 0.
  void reset_parameters();

  const LayerNormOptions& options() const { return options_; }
  std::string type() const override { return "LayerNorm"; }
  // "(3, 4), eps=1e-05, elementwise_affine=True".
  std::string extra_repr() const override;

  Tensor weight;  // normalized_shape; undefined without elementwise_affine
  Tensor bias;    // normalized_shape; undefined without elementwise_affine

 private:
  LayerNormOptions options_;
};

// The holders (libtorch's TORCH_MODULE): nn::LayerNorm m(opts); m->forward(x).
LOOM_MODULE(LayerNorm);

}  // namespace loom::nn
