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
// when there are ties, as loom's max.
Tensor min(const Tensor& x);
// Minimum along dim: (values, indices Int64 of the first minimum).
std::pair<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim = false);

// Variance over `dims` (all dimensions when empty), with Bessel's correction
// when unbiased (divides by n - 1; n - 1 <= 0 gives inf or NaN as PyTorch).
Tensor var(const Tensor& x, const Shape& dims = {}, bool unbiased = true, bool keepdim = false);
// sqrt(var); its gradient is 0 where std is 0 (PyTorch's std_backward).
Tensor std(const Tensor& x, const Shape& dims = {}, bool unbiased = true, bool keepdim = false);

// The p-norm over `dims` (all when empty): (sum |x|^p)^(1/p) for finite
// p > 0 (other p are refused). Gradient sign(x) |x|^(p-1) / norm^(p-1),
// 0 where the norm is 0, as PyTorch's.
Tensor norm(const Tensor& x, double p = 2.0, const Shape& dims = {}, bool keepdim = false);

// log(sum(exp(x))) over `dims`, stable for large and infinite values (a row
// of -inf gives -inf, as PyTorch); gradient softmax(x).
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);

// Running sums along dim (floating dtypes; integer cumsum is not supported
// yet). Runs in the input's dtype, also under autocast.
Tensor cumsum(const Tensor& x, std::int64_t dim);

// -1, 0 or 1 by the sign of each element (NaN gives 0, as PyTorch 1.13's
// torch.sign); gradient 0.
Tensor sign(const Tensor& x);

// True when every element of a and b (same dtype, broadcastable) satisfies
// |a - b| <= atol + rtol |b|, or a == b (equal infinities); NaNs are equal
// only with equal_nan. As torch.allclose.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false);

}  // namespace loom
