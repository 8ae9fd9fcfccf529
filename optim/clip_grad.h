// Gradient clipping: torch.nn.utils.clip_grad_norm_ and clip_grad_value_.
// Both modify the defined .grad of each parameter in place and skip the
// parameters without one. Reductions run in a fixed order (loom's sum and
// max): the same gradients give the same bits from run to run.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace loom::optim {

// Scales all gradients together so that their total norm (the norm of the
// concatenation of every gradient, of order `norm_type`: any p > 0, 0 (count
// of non-zeros), infinity or -infinity) is at most max_norm:
//   coef = min(max_norm / (total_norm + 1e-6), 1);  grad *= coef
// Returns total_norm (before clipping) as a 0-dim tensor on the first
// gradient's device, float64 when any gradient is float64, else float32;
// a float32 zero on the CPU when no parameter has a gradient.
// error_if_nonfinite: throws loom::Error in PyTorch's words ("The total norm
// of order 2.0 for gradients from `parameters` is non-finite, so it cannot be
// clipped. ...") when total_norm is NaN or infinite (this reads the norm back
// to the host). The devices are never synchronised otherwise.
Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm,
                       double norm_type = 2.0, bool error_if_nonfinite = false);

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);

}  // namespace loom::optim
