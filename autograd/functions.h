// loom's differentiable operations: PyTorch's names and semantics. Each
// computes with loom::native and, when recording, adds a named node to the
// tape (see autograd/node.h). Unless noted: floating dtypes, operands on one
// device with one dtype, PyTorch broadcasting.
#pragma once

#include <utility>
#include <vector>

#include "core/tensor.h"

namespace loom {

// ---- elementwise ---------------------------------------------------------------
// Tensor-tensor arithmetic promotes as PyTorch (core/type_promotion.h:
// float32 + float64 -> float64, int64 + float32 -> float32, bool + int64 ->
// int64); the casts are recorded, so each operand's gradient comes back in
// its own dtype. int64 math wraps; div is true division (integers give
// float32); two bool operands: add/maximum are "or", mul/minimum "and", sub
// refused as PyTorch.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// Tensor-scalar arithmetic: the Scalar promotes as a Python number
// (core/scalar.h): int64 tensor * 2 -> int64, * 2.5 -> float32; a floating
// tensor keeps its dtype.
Tensor add(const Tensor& a, Scalar b);
Tensor sub(const Tensor& a, Scalar b);
Tensor mul(const Tensor& a, Scalar b);
Tensor div(const Tensor& a, Scalar b);
Tensor rsub(const Tensor& a, Scalar b);  // b - a
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient split evenly on ties
Tensor minimum(const Tensor& a, const Tensor& b);
// min <= max required. The result has torch.clamp's dtype: an integer
// tensor with integer bounds keeps its dtype (bounds converted to it), a
// floating bound on an integer tensor gives float32.
Tensor clamp(const Tensor& x, Scalar min, Scalar max);
// The error function, as torch.erf; d erf(x) = 2 / sqrt(pi) * exp(-x^2).
Tensor erf(const Tensor& x);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& x);

// Comparisons: Bool results, no gradient, any dtypes: the operands are
// compared in their promoted dtype (torch.result_type), a Scalar as a Python
// number (float32 tensor == 0.1 compares with 0.1 rounded to float32).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, Scalar b);
Tensor gt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, Scalar b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, Scalar b);
Tensor operator!=(const Tensor& a, Scalar b);
Tensor operator<(const Tensor& a, Scalar b);
Tensor operator<=(const Tensor& a, Scalar b);
Tensor operator>(const Tensor& a, Scalar b);
Tensor operator>=(const Tensor& a, Scalar b);
Tensor operator==(Scalar a, const Tensor& b);
Tensor operator!=(Scalar a, const Tensor& b);
Tensor operator<(Scalar a, const Tensor& b);
Tensor operator<=(Scalar a, const Tensor& b);
Tensor operator>(Scalar a, const Tensor& b);
Tensor operator>=(Scalar a, const Tensor& b);

// cond ? a : b (cond Bool, broadcast over all three); differentiable in a and b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// x with `value` where mask (Bool, broadcastable to x) is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// The same with a 0-D tensor value (cast to x's dtype, moved to x's device),
// differentiable in x and value, as torch.masked_fill; errors in PyTorch's
// words ("masked_fill_ only supports a 0-dimensional value tensor, but got
// tensor with 1 dimension(s).").
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value);
// where with a C++ number for a or b (a Python scalar in PyTorch's type
// promotion: where(c, float32 tensor, 0.5) is float32; two numbers give the
// default float32 when either is floating, else int64, or Bool for two bools).
Tensor where(const Tensor& cond, const Tensor& a, Scalar b);
Tensor where(const Tensor& cond, Scalar a, const Tensor& b);
Tensor where(const Tensor& cond, Scalar a, Scalar b);

// ---- movement and views (views share storage; gradients flow back) ------------
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to(const Tensor& x, Device device);
Tensor to(const Tensor& x, DType dtype);
Tensor detach(const Tensor& x);
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, std::int64_t start = 0, std::int64_t end = -1);
Tensor transpose(const Tensor& x, std::int64_t d0, std::int64_t d1);
Tensor permute(const Tensor& x, const Shape& order);
Tensor narrow(const Tensor& x, std::int64_t d, std::int64_t start, std::int64_t length);
Tensor slice(const Tensor& x, std::int64_t d, std::int64_t start, std::int64_t end,
             std::int64_t step = 1);
Tensor select(const Tensor& x, std::int64_t d, std::int64_t index);
Tensor unsqueeze(const Tensor& x, std::int64_t d);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, std::int64_t d);
Tensor expand(const Tensor& x, const Shape& shape);
// Sums x down to `shape` (the inverse of broadcasting to x's shape).
Tensor sum_to(const Tensor& x, const Shape& shape);

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
// Pieces of `split_size` along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0);
// Pieces of the given sizes along dim (they must add up to x.size(dim)).
std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, std::int64_t dim = 0);
// `chunks` pieces of ceil(size / chunks) along dim, as torch.chunk.
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);

// ---- reductions ---------------------------------------------------------------------
// Fixed-order reductions: bit-identical from run to run on one device.
// sum of Bool/Int64 gives an exact Int64 (eq(pred, y).sum() counts); mean
// needs a floating dtype; max/argmax accept every dtype.
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, Dims dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, Dims dims, bool keepdim = false);
// Maximum of all elements.
Tensor max(const Tensor& x);
// Maximum along dim: (values, indices Int64). Gradient flows to the first maximum.
std::pair<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, bool keepdim = false);
// Index (Int64) of the first maximum along dim; of the flattened tensor without dim.
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x);

// ---- linear algebra ----------------------------------------------------------------
// torch.matmul: 1-D and 2-D operands, and batched (N-D) operands with
// broadcasting batch dimensions.
Tensor matmul(const Tensor& a, const Tensor& b);
// [B, n, m] x [B, m, p] -> [B, n, p].
Tensor bmm(const Tensor& a, const Tensor& b);
// x [..., in] W [out, in]^T + b [out] (b may be undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- neural-network functions ---------------------------------------------------------
enum class Reduction { None, Mean, Sum };

Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);
// input [N, C] (or [C]) log-probabilities, target Int64 [N] (or []); entries equal
// to ignore_index contribute nothing (and are excluded from the mean).
Tensor nll_loss(const Tensor& input, const Tensor& target, std::int64_t ignore_index = -100,
                Reduction reduction = Reduction::Mean);
// log_softmax over dim 1 followed by nll_loss.
Tensor cross_entropy(const Tensor& input, const Tensor& target, std::int64_t ignore_index = -100,
                     Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// Rows of weight [V, D] at indices (Int64 or Int32, any shape): [..., D].
Tensor embedding(const Tensor& weight, const Tensor& indices);
// Zeroes elements with probability p and scales the rest by 1/(1-p) when
// training; the mask comes from the Philox generator (same seed, same mask on
// CPU and CUDA). Identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training = true);

// ---- factories (requires_grad from options) -----------------------------------------
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
Tensor arange(double end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1, TensorOptions options = {});
// U[0, 1) and N(0, 1) from the default Philox generator (core/generator.h).
Tensor rand(const Shape& shape, TensorOptions options = {});
Tensor randn(const Shape& shape, TensorOptions options = {});

}  // namespace loom
