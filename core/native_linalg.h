// Matrix products of loom::native (no autograd): torch.mm, torch.bmm,
// torch.matmul and F.linear, all over the GEMMs of kernels/gemm.h.
//
// No operand is copied when its last two dimensions can be handed to BLAS as
// they are: a row-major matrix (unit column stride) goes in untransposed, a
// column-major one (unit row stride, e.g. `x.t()` of a contiguous x) goes in
// with the transpose flag. Batch dimensions are read through their strides
// (a broadcast batch dimension has stride 0), so broadcasting never
// materialises an operand either. Only a matrix whose two strides are both
// non-unit (or that overlaps itself) is copied to a contiguous buffer first.
//
// float32 and float64; both operands of one dtype and on one device. Errors
// use PyTorch's words.
#pragma once

#include "core/tensor.h"

namespace loom::native {

// torch.mm: a [n, k] @ b [k, m] -> [n, m].
Tensor mm(const Tensor& a, const Tensor& b);

// torch.bmm: a [B, n, k] @ b [B, k, m] -> [B, n, m] (no broadcasting).
Tensor bmm(const Tensor& a, const Tensor& b);

// The broadcast batched product behind torch.matmul: a [..., n, k] @ b [..., k, m]
// with both operands at least 2-D and the batch dimensions (all but the last
// two) broadcast together -> [broadcast batch..., n, m].
Tensor matmul_batched(const Tensor& a, const Tensor& b);

// torch.matmul: 1-D . 1-D is the dot product (a 0-D result); 2-D @ 2-D is mm;
// a 1-D first operand is a row vector and a 1-D second operand a column
// vector, their added dimension removed from the result; N-D operands are
// batches of matrices with broadcast batch dimensions.
Tensor matmul(const Tensor& a, const Tensor& b);

// Throws loom::Error with PyTorch's message when torch.matmul(a, b) would fail
// (a 0-D operand, dtype or device mismatch, a non-floating dtype, inner sizes
// that differ, batch dimensions that do not broadcast). Returns quietly otherwise.
void check_matmul(const Tensor& a, const Tensor& b);

// out = a @ b + beta * out, where a [..., n, k] and b [..., k, m] broadcast their
// batch dimensions to out's, and out is contiguous [batch..., n, m]. The
// building block of everything above; shapes must already be checked.
void matmul_out(const Tensor& out, const Tensor& a, const Tensor& b, double beta = 0);

// F.linear: x [..., in] (or [in]) @ weight [out, in]^T + bias [out] -> [..., out]
// (or [out]). bias may be undefined. weight is read transposed in place.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// Gradients of linear for the upstream gradient `grad` [..., out]: those not
// asked for come back undefined.
//   x: grad @ weight -> x's shape;  weight: grad^T @ x -> [out, in];
//   bias: grad summed over every dimension but the last -> [out].
struct LinearGrads {
  Tensor x, weight, bias;
};
LinearGrads linear_backward(const Tensor& grad, const Tensor& x, const Tensor& weight,
                            bool need_x, bool need_weight, bool need_bias);

// A view of x with its last two dimensions swapped (no copy).
Tensor matrix_transpose(const Tensor& x);

// True when every dimension of x but the last merges into one (so x reads as a
// [rows, x.size(-1)] matrix without a copy).
bool can_fold_rows(const Tensor& x);

// x as a 2-D matrix [product of the leading sizes, x.size(-1)] (a 1-D x is one
// row): a view when can_fold_rows(x), else a view of a contiguous copy.
Tensor fold_rows(const Tensor& x);

}  // namespace loom::native
