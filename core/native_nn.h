// loom::native neural-network functions without autograd: softmax and
// log-softmax along any dimension, and the NLL loss. Each checks its
// arguments, allocates its result and dispatches to kernels/softmax.h or
// kernels/loss.h by device. autograd/nn_ops.cc builds the differentiable
// softmax, log_softmax, nll_loss, cross_entropy and mse_loss on these.
#pragma once

#include <cstdint>
#include <utility>

#include "core/tensor.h"
#include "kernels/loss.h"

namespace loom::native {

using kernels::LossReduction;

// Softmax (log_softmax = false) or log-softmax of x along `dim` (negative
// counts from the end; a 0-dim x takes dim 0 or -1). Floating x of any
// layout; the result is contiguous with x's shape. Numerically stable (the
// row maximum is subtracted first); a row holding NaN gives NaN.
Tensor softmax(const Tensor& x, std::int64_t dim, bool log_softmax);
// The gradient with respect to softmax's input, from the upstream gradient
// `grad` and softmax's output `y` (same shape, dtype and device).
Tensor softmax_backward(const Tensor& grad, const Tensor& y, std::int64_t dim, bool log_softmax);

// The NLL loss of log-probabilities `input` [N, C] (or [C]) for Int64 `target`
// [N] (or []), skipping targets equal to ignore_index. Returns (output, count):
// output is the per-sample loss (target's shape) for None and a 0-dim tensor
// for Mean and Sum; count is the 0-dim number of samples not ignored, in
// input's dtype and on its device (backward of Mean divides by it).
// Throws loom::Error "Target {t} is out of bounds." for a target outside
// [0, C) that is not ignore_index. On CUDA that check reads a 16-byte flag
// back from the device, which synchronises loom's stream once per call.
std::pair<Tensor, Tensor> nll_loss(const Tensor& input, const Tensor& target,
                                   std::int64_t ignore_index, LossReduction reduction);
// The gradient with respect to nll_loss's input (shape `input_shape`), from
// the upstream gradient `grad` (output's shape), the forward's target and count.
Tensor nll_loss_backward(const Tensor& grad, const Shape& input_shape, const Tensor& target,
                         const Tensor& count, std::int64_t ignore_index, LossReduction reduction);

}  // namespace loom::native
