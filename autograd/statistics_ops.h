// More reductions and elementwise functions of PyTorch, differentiable as
// PyTorch's (floating dtypes; CPU and CUDA): min, var, std, norm, logsumexp,
// cumsum, sign, allclose. Composed of loom's ops, with nodes of their own
// where PyTorch's gradient differs from the chain rule (std and norm at zero).
#pragma once

#include <cstdint>
#include <utility>

#include "core/tensor.h"

namespace loom {

// Minimum of all elements (NaN if any is NaN). Gradient to the first minimum
// when there are ties, as loom's max. Integer and bool tensors: exact, in
// their own dtype, no gradient.
Tensor min(const Tensor& x);
// Minimum along dim: (values, indices Int64 of the first minimum).
std::pair<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim = false);

// var, std and norm take floating tensors (PyTorch's errors otherwise);
// logsumexp computes integer and bool tensors in float32, as PyTorch.
// `dims` is one dimension (var(x, 1)) or a list (var(x, {0, 2})).
// Variance over `dims` (all dimensions when empty), with Bessel's correction
// when unbiased (divides by n - 1; n - 1 <= 0 gives inf or NaN as PyTorch).
Tensor var(const Tensor& x, Dims dims = {}, bool unbiased = true, bool keepdim = false);
// sqrt(var); its gradient is 0 where std is 0 (PyTorch's std_backward).
Tensor std(const Tensor& x, Dims dims = {}, bool unbiased = true, bool keepdim = false);

// The p-norm over `dims` (all when empty): (sum |x|^p)^(1/p) for finite
// p > 0 (other p are refused). Gradient sign(x) |x|^(p-1) / norm^(p-1),
// 0 where the norm is 0, as PyTorch's.
Tensor norm(const Tensor& x, double p = 2.0, Dims dims = {}, bool keepdim = false);

// log(sum(exp(x))) over `dims`, stable for large and infinite values (a row
// of -inf gives -inf, as PyTorch); gradient softmax(x).
Tensor logsumexp(const Tensor& x, Dims dims, bool keepdim = false);

// Running sums along dim. Floating dtypes run in the input's dtype, also
// under autocast; integer and bool tensors sum exactly into Int64 (wrapping
// on overflow), as torch.cumsum.
Tensor cumsum(const Tensor& x, std::int64_t dim);

// -1, 0 or 1 by the sign of each element (NaN gives 0, as PyTorch 1.13's
// torch.sign), in x's dtype (integers too); gradient 0.
Tensor sign(const Tensor& x);

// True when every element of a and b (same dtype, broadcastable) satisfies
// |a - b| <= atol + rtol |b|, or a == b (equal infinities); NaNs are equal
// only with equal_nan. As torch.allclose.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false);

}  // namespace loom
