// loom::nn::functional: the loss functions of torch.nn.functional, spelled
// as libtorch spells them (options structs with fluent setters):
//
//   namespace F = loom::nn::functional;
//   Tensor loss = F::cross_entropy(logits, targets,
//                                  F::CrossEntropyFuncOptions().label_smoothing(0.1).ignore_index(0));
//   Tensor bce = F::binary_cross_entropy_with_logits(scores, labels);
//
// Values, gradients, defaults and reductions are PyTorch's (checked against
// PyTorch 1.13 in tests/nn/functional_test.cc). Each runs on the CPU and on
// CUDA, in float64, float32, bfloat16 and float16, and in float32 under
// loom::autocast. Bad arguments get a loom::Error in PyTorch's words.
// Gradients: with respect to input, and to a floating target where PyTorch
// has one (binary_cross_entropy*, mse, l1, smooth_l1); never to weight or
// pos_weight (a weight that requires grad is refused, as PyTorch refuses it
// for binary_cross_entropy).
#pragma once

#include <cstdint>

#include "autograd/functions.h"
#include "core/tensor.h"

namespace loom {

// libtorch's spellings of the reductions: torch::kNone, kMean, kSum.
inline constexpr Reduction kNone = Reduction::None;
inline constexpr Reduction kMean = Reduction::Mean;
inline constexpr Reduction kSum = Reduction::Sum;

}  // namespace loom

namespace loom::nn::functional {

// A fluent option `name` of type T with default `init`.
#define LOOM_FUNC_OPTION(Self, T, name, init) \
 public:                                      \
  Self& name(T value) {                       \
    name##_ = std::move(value);               \
    return *this;                             \
  }                                           \
  const T& name() const { return name##_; }   \
                                              \
 private:                                     \
  T name##_ = init

struct NLLLossFuncOptions {
  LOOM_FUNC_OPTION(NLLLossFuncOptions, Tensor, weight, Tensor());  // [C], per-class weight
  LOOM_FUNC_OPTION(NLLLossFuncOptions, std::int64_t, ignore_index, -100);
  LOOM_FUNC_OPTION(NLLLossFuncOptions, Reduction, reduction, Reduction::Mean);
};

struct CrossEntropyFuncOptions {
  LOOM_FUNC_OPTION(CrossEntropyFuncOptions, Tensor, weight, Tensor());
  LOOM_FUNC_OPTION(CrossEntropyFuncOptions, std::int64_t, ignore_index, -100);
  LOOM_FUNC_OPTION(CrossEntropyFuncOptions, Reduction, reduction, Reduction::Mean);
  LOOM_FUNC_OPTION(CrossEntropyFuncOptions, double, label_smoothing, 0.0);
};

struct BinaryCrossEntropyFuncOptions {
  LOOM_FUNC_OPTION(BinaryCrossEntropyFuncOptions, Tensor, weight, Tensor());  // broadcast to input
  LOOM_FUNC_OPTION(BinaryCrossEntropyFuncOptions, Reduction, reduction, Reduction::Mean);
};

struct BinaryCrossEntropyWithLogitsFuncOptions {
  LOOM_FUNC_OPTION(BinaryCrossEntropyWithLogitsFuncOptions, Tensor, weight, Tensor());
  LOOM_FUNC_OPTION(BinaryCrossEntropyWithLogitsFuncOptions, Reduction, reduction, Reduction::Mean);
  // Weight of the positive examples, broadcast along the last dimension ([C]).
  LOOM_FUNC_OPTION(BinaryCrossEntropyWithLogitsFuncOptions, Tensor, pos_weight, Tensor());
};

struct MSELossFuncOptions {
  LOOM_FUNC_OPTION(MSELossFuncOptions, Reduction, reduction, Reduction::Mean);
};

struct L1LossFuncOptions {
  LOOM_FUNC_OPTION(L1LossFuncOptions, Reduction, reduction, Reduction::Mean);
};

struct SmoothL1LossFuncOptions {
  LOOM_FUNC_OPTION(SmoothL1LossFuncOptions, Reduction, reduction, Reduction::Mean);
  LOOM_FUNC_OPTION(SmoothL1LossFuncOptions, double, beta, 1.0);
};

#undef LOOM_FUNC_OPTION

// input [N, C] (or [C]) log-probabilities, target Int64 [N] (or []):
// -weight[y_i] * input[i, y_i], targets equal to ignore_index excluded; the
// mean divides by the sum of the weights of the targets not ignored.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options = {});

// log_softmax over the class dimension, then nll_loss; with label_smoothing
// e in [0, 1]: (1 - e) * nll + e / C * (the loss against the uniform
// distribution, weighted and reduced as PyTorch does).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyFuncOptions& options = {});

// input probabilities in [0, 1], target of input's shape:
// -weight * (t log x + (1 - t) log(1 - x)), each log clamped at -100 (so
// x = 0 or 1 gives a finite loss); gradients, as PyTorch's: for input
// weight (x - t) / max(x (1 - x), 1e-12f), for target weight (log(1 - x) - log x).
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            const BinaryCrossEntropyFuncOptions& options = {});

// Sigmoid and binary_cross_entropy in one, computed stably for any logit:
// weight * ((1 - t) x + (1 + (pos_weight - 1) t) (log(1 + e^-|x|) + max(-x, 0))).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& options = {});

// (input - target)^2, broadcast.
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options = {});

// |input - target|, broadcast.
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossFuncOptions& options = {});

// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target);
// beta = 0 is l1_loss; beta < 0 is refused.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& options = {});

}  // namespace loom::nn::functional
