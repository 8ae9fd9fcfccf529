// nn::init: in-place initialisation of parameters, as torch.nn.init.
//
// Each function overwrites every element of `t` (any shape, any strided view,
// CPU or CUDA, float32 or float64) without recording gradients, so it may be
// applied to a leaf that requires grad. The handle is unchanged (module members
// and optimizers keep seeing the tensor). Random values come from loom's
// default generator (loom::manual_seed makes them reproducible); they are NOT
// PyTorch's numbers for the same seed. Each returns `t`.
#pragma once

#include "core/tensor.h"

namespace loom::nn::init {

// Fills t from U(a, b) (a <= b).
Tensor uniform_(const Tensor& t, double a = 0.0, double b = 1.0);
// Fills t from N(mean, std^2) (std >= 0).
Tensor normal_(const Tensor& t, double mean = 0.0, double std = 1.0);
// Fills t with `value`.
Tensor constant_(const Tensor& t, double value);
// Fills t with 0.
Tensor zeros_(const Tensor& t);
// Fills t with 1.
Tensor ones_(const Tensor& t);

}  // namespace loom::nn::init
