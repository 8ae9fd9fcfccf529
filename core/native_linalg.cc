// Matrix products of loom::native (contracts in core/native_linalg.h).
#include "core/native_linalg.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/native.h"
#include "kernels/gemm.h"
#include "kernels/gemm_half.h"

namespace loom::native {

namespace k = loom::kernels;

namespace {

// Two operands of one product: defined, one dtype (floating), one device.
void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && b.defined(), "{}: expected defined tensors", op);
  LOOM_CHECK(a.dtype() == b.dtype(), "{}: expected scalar type {} but found {}", op,
             scalar_type_name(a.dtype()), scalar_type_name(b.dtype()));
  LOOM_CHECK(a.device() == b.device(),
             "{}: Expected all tensors to be on the same device, but found at least two devices, "
             "{} and {}!",
             op, a.device(), b.device());
  LOOM_CHECK(is_floating(a.dtype()),
             "{}: expected a floating dtype (float32, float64, bfloat16 or float16), got {}", op,
             a.dtype());
}

// How a rows x cols matrix with element strides (rs, cs) is handed to GEMM:
// untransposed row-major (element (i, j) at i * ld + j) or transposed (stored
// as its cols x rows transpose, element (i, j) at j * ld + i). Empty when
// neither reads it (both strides non-unit, or rows overlapping).
struct BlasOperand {
  bool trans = false;
  std::int64_t ld = 1;
};

// A leading dimension beyond BLAS's int range also answers empty: the caller
// then copies the (small enough, sizes being checked) matrix to contiguous.
std::optional<BlasOperand> blas_operand(std::int64_t rows, std::int64_t cols, std::int64_t rs,
                                        std::int64_t cs) {
  if (rows == 0 || cols == 0) return BlasOperand{false, std::max<std::int64_t>(cols, 1)};
  if (cs == 1 || cols == 1) {
    std::int64_t ld = rows == 1 ? cols : rs;
    if (ld >= cols && ld <= k::kMaxGemmSize) return BlasOperand{false, ld};
  }
  if (rs == 1 || rows == 1) {
    std::int64_t ld = cols == 1 ? rows : cs;
    if (ld >= rows && ld <= k::kMaxGemmSize) return BlasOperand{true, ld};
  }
  return std::nullopt;
}

// One (coalesced) batch dimension: its size and each operand's stride along it.
struct BatchDim {
  std::int64_t size;
  std::int64_t sa, sb, sc;
};

// The stride of operand x along output batch dimension d (of nb batch
// dimensions), 0 where x lacks the dimension or broadcasts it.
std::int64_t batch_stride(const Tensor& x, std::size_t d, std::size_t nb) {
  std::size_t xb = static_cast<std::size_t>(x.dim()) - 2;
  if (d + xb < nb) return 0;
  std::size_t xd = d + xb - nb;
  return x.shape()[xd] == 1 ? 0 : x.strides()[xd];
}

// A view of x with a size-1 dimension inserted at d (0 <= d <= dim).
Tensor unsqueeze_view(const Tensor& x, std::int64_t d) {
  Shape shape = x.shape(), strides = x.strides();
  std::int64_t s = d < x.dim() ? shape[d] * strides[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, s);
  return make_view(x, shape, strides, x.storage_offset());
}

// A view of the contiguous tensor out with another shape of as many elements.
Tensor reshape_contiguous(const Tensor& out, const Shape& shape) {
  return make_view(out, shape, contiguous_strides(shape), out.storage_offset());
}

Shape batch_shape(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 2); }

}  // namespace

Tensor matrix_transpose(const Tensor& x) {
  LOOM_CHECK(x.dim() >= 2, "matrix_transpose: expected at least 2 dimensions, got shape {}",
             shape_str(x.shape()));
  Shape shape = x.shape(), strides = x.strides();
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  return make_view(x, shape, strides, x.storage_offset());
}

bool can_fold_rows(const Tensor& x) {
  std::int64_t expected = -1;  // stride the next outer dimension must have
  for (std::int64_t d = x.dim() - 2; d >= 0; --d) {
    std::int64_t size = x.shape()[d], stride = x.strides()[d];
    if (size == 1) continue;
    if (expected >= 0 && stride != expected) return false;
    expected = stride * size;
  }
  return true;
}

Tensor fold_rows(const Tensor& x) {
  LOOM_CHECK(x.dim() >= 1, "fold_rows: expected at least 1 dimension, got a 0-D tensor");
  Tensor src = can_fold_rows(x) ? x : contiguous(x);
  std::int64_t cols = src.shape().back(), col_stride = src.strides().back();
  std::int64_t rows = 1, row_stride = cols * col_stride;
  bool found = false;
  for (std::int64_t d = src.dim() - 2; d >= 0; --d) {
    rows *= src.shape()[d];
    if (src.shape()[d] != 1 && !found) {
      row_stride = src.strides()[d];
      found = true;
    }
  }
  return make_view(src, {rows, cols}, {row_stride, col_stride}, src.storage_offset());
}

void matmul_out(const Tensor& out, const Tensor& a, const Tensor& b, double beta) {
  if (is_reduced_float(out.dtype()) && !out.is_cuda()) {
    // CPU: float32 products and sums (the 16-bit products are exact in
    // float32), beta * out included, rounded once into out. CUDA runs the
    // same math on the 16-bit operands directly (kernels/gemm_half.h).
    Tensor wide = beta != 0 ? to(out, kFloat32)
                            : empty(out.shape(), TensorOptions(kFloat32).device(out.device()));
    matmul_out(wide, to_opmath(a), to_opmath(b), beta);
    copy_(out, wide);
    return;
  }
  LOOM_CHECK(out.is_contiguous() && out.dim() >= 2 && a.dim() >= 2 && b.dim() >= 2,
             "matmul_out: expected a contiguous output and operands of at least 2 dimensions");
  const std::int64_t M = out.size(-2), N = out.size(-1), K = a.size(-1);
  if (out.numel() == 0) return;
  // Refused before any operand is made contiguous (an expanded view may be
  // far larger materialised than it is).
  k::gemm_check_sizes("matmul", M, N, K, 1, 1, 1);

  Tensor A = a, B = b;
  auto la = blas_operand(M, K, A.stride(-2), A.stride(-1));
  if (!la) {
    A = contiguous(A);
    la = blas_operand(M, K, A.stride(-2), A.stride(-1));
  }
  auto lb = blas_operand(K, N, B.stride(-2), B.stride(-1));
  if (!lb) {
    B = contiguous(B);
    lb = blas_operand(K, N, B.stride(-2), B.stride(-1));
  }

  // Batch dimensions, outer to inner, size-1 ones dropped, neighbours merged
  // where all three operands step through them as through one dimension.
  const std::size_t nb = static_cast<std::size_t>(out.dim()) - 2;
  std::vector<BatchDim> dims;
  for (std::size_t d = 0; d < nb; ++d) {
    BatchDim cur{out.shape()[d], batch_stride(A, d, nb), batch_stride(B, d, nb), out.strides()[d]};
    if (cur.size == 1) continue;
    if (!dims.empty()) {
      BatchDim& prev = dims.back();
      if (prev.sa == cur.sa * cur.size && prev.sb == cur.sb * cur.size &&
          prev.sc == cur.sc * cur.size) {
        prev = BatchDim{prev.size * cur.size, cur.sa, cur.sb, cur.sc};
        continue;
      }
    }
    dims.push_back(cur);
  }
  if (dims.empty()) dims.push_back(BatchDim{1, 0, 0, M * N});
  // The innermost batch dimension goes to one batched GEMM (cuBLAS takes an
  // int batch count; a larger one stays in the host loop), the rest is
  // looped over on the host.
  BatchDim inner{1, 0, 0, 0};
  if (dims.back().size <= k::kMaxGemmSize) {
    inner = dims.back();
    dims.pop_back();
  }

  dispatch_floating_and_half(out.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    using Acc = opmath_t<T>;  // alpha and beta: float for the 16-bit types
    const T* pa = static_cast<const T*>(A.data_ptr());
    const T* pb = static_cast<const T*>(B.data_ptr());
    T* pc = static_cast<T*>(out.data_ptr());
    const Acc one = Acc(1), tbeta = static_cast<Acc>(beta);
    const k::index_t ldc = N;
    std::vector<std::int64_t> idx(dims.size(), 0);
    while (true) {
      std::int64_t oa = 0, ob = 0, oc = 0;
      for (std::size_t i = 0; i < dims.size(); ++i) {
        oa += idx[i] * dims[i].sa;
        ob += idx[i] * dims[i].sb;
        oc += idx[i] * dims[i].sc;
      }
      if constexpr (is_reduced_float_v<T>) {  // CUDA only (the CPU converted above)
#if defined(LOOM_WITH_CUDA)
        if (inner.size == 1) {
          k::gemm_half_cuda(la->trans, lb->trans, M, N, K, one, pa + oa, la->ld, pb + ob, lb->ld,
                            tbeta, pc + oc, ldc);
        } else {
          k::gemm_half_batched_cuda(la->trans, lb->trans, inner.size, M, N, K, one, pa + oa, la->ld,
                                    inner.sa, pb + ob, lb->ld, inner.sb, tbeta, pc + oc, ldc,
                                    inner.sc);
        }
#else
        fail_no_cuda("matmul");
#endif
      } else if (inner.size == 1) {
        LOOM_DISPATCH_DEVICE(out.device(), gemm, la->trans, lb->trans, M, N, K, one, pa + oa,
                             la->ld, pb + ob, lb->ld, tbeta, pc + oc, ldc);
      } else {
        LOOM_DISPATCH_DEVICE(out.device(), gemm_batched, la->trans, lb->trans, inner.size, M, N, K,
                             one, pa + oa, la->ld, inner.sa, pb + ob, lb->ld, inner.sb, tbeta,
                             pc + oc, ldc, inner.sc);
      }
      // Next outer index (row-major odometer).
      std::size_t i = dims.size();
      while (i > 0 && ++idx[i - 1] == dims[i - 1].size) idx[--i] = 0;
      if (i == 0) break;
    }
  });
}

Tensor mm(const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && a.dim() == 2, "self must be a matrix");
  LOOM_CHECK(b.defined() && b.dim() == 2, "mat2 must be a matrix");
  check_operands("mm", a, b);
  LOOM_CHECK(a.size(1) == b.size(0), "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
             a.size(0), a.size(1), b.size(0), b.size(1));
  Tensor out = empty({a.size(0), b.size(1)}, TensorOptions(a.dtype()).device(a.device()));
  matmul_out(out, a, b);
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && a.dim() == 3, "batch1 must be a 3D tensor");
  LOOM_CHECK(b.defined() && b.dim() == 3, "batch2 must be a 3D tensor");
  check_operands("bmm", a, b);
  LOOM_CHECK(b.size(0) == a.size(0) && b.size(1) == a.size(2),
             "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: "
             "[{}, {}].",
             a.size(0), a.size(2), b.size(0), b.size(1));
  Tensor out = empty({a.size(0), a.size(1), b.size(2)}, TensorOptions(a.dtype()).device(a.device()));
  matmul_out(out, a, b);
  return out;
}

Tensor matmul_batched(const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && b.defined() && a.dim() >= 2 && b.dim() >= 2,
             "matmul_batched: expected operands of at least 2 dimensions, got shapes {} and {}",
             a.defined() ? shape_str(a.shape()) : "undefined",
             b.defined() ? shape_str(b.shape()) : "undefined");
  check_operands("matmul", a, b);
  Shape batch = broadcast_shapes(batch_shape(a), batch_shape(b));
  LOOM_CHECK(a.size(-1) == b.size(-2),
             "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: "
             "[{}, {}].",
             shape_numel(batch), a.size(-1), shape_numel(batch), b.size(-2));
  Shape shape = batch;
  shape.push_back(a.size(-2));
  shape.push_back(b.size(-1));
  Tensor out = empty(shape, TensorOptions(a.dtype()).device(a.device()));
  matmul_out(out, a, b);
  return out;
}

void check_matmul(const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && b.defined(), "matmul: expected defined tensors");
  const std::int64_t da = a.dim(), db = b.dim();
  LOOM_CHECK(da >= 1 && db >= 1,
             "both arguments to matmul need to be at least 1D, but they are {}D and {}D", da, db);
  check_operands("matmul", a, b);
  const std::int64_t ka = a.size(-1);
  if (da == 1 && db == 1) {
    LOOM_CHECK(ka == b.size(0),
               "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same "
               "number of elements, but got {} and {} elements respectively",
               ka, b.size(0), ka, b.size(0));
  } else if (da <= 2 && db == 1) {
    LOOM_CHECK(ka == b.size(0), "size mismatch, got {}, {}x{},{}", a.size(0), a.size(0), ka,
               b.size(0));
  } else if (da <= 2 && db == 2) {
    std::int64_t rows = da == 1 ? 1 : a.size(0);
    LOOM_CHECK(ka == b.size(0), "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})", rows,
               ka, b.size(0), b.size(1));
  } else if (da >= 3 && db <= 2) {  // PyTorch folds a's batch into its rows
    const std::int64_t rows = shape_numel(Shape(a.shape().begin(), a.shape().end() - 1));
    if (db == 1) {
      LOOM_CHECK(ka == b.size(0), "size mismatch, got {}, {}x{},{}", rows, rows, ka, b.size(0));
    } else {
      LOOM_CHECK(ka == b.size(0), "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                 rows, ka, b.size(0), b.size(1));
    }
  } else {
    Shape ba = da >= 3 ? batch_shape(a) : Shape{};
    Shape bb = db >= 3 ? batch_shape(b) : Shape{};
    Shape batch = broadcast_shapes(ba, bb);
    std::int64_t kb = db == 1 ? b.size(0) : b.size(-2);
    LOOM_CHECK(ka == kb,
               "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: "
               "[{}, {}].",
               shape_numel(batch), ka, shape_numel(batch), kb);
  }
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul(a, b);
  const std::int64_t da = a.dim(), db = b.dim();
  const TensorOptions options = TensorOptions(a.dtype()).device(a.device());
  if (da >= 3 && db <= 2 && can_fold_rows(a)) {
    // One GEMM: a viewed as [rows, k].
    Shape shape(a.shape().begin(), a.shape().end() - 1);
    if (db == 2) shape.push_back(b.size(1));
    Tensor out = empty(shape, options);
    Tensor a2 = fold_rows(a), b2 = db == 1 ? unsqueeze_view(b, 1) : b;
    matmul_out(reshape_contiguous(out, {a2.size(0), b2.size(1)}), a2, b2);
    return out;
  }
  Tensor a2 = da == 1 ? unsqueeze_view(a, 0) : a;
  Tensor b2 = db == 1 ? unsqueeze_view(b, 1) : b;
  Shape batch = broadcast_shapes(batch_shape(a2), batch_shape(b2));
  Shape full = batch, shape = batch;
  full.push_back(a2.size(-2));
  full.push_back(b2.size(-1));
  if (da != 1) shape.push_back(a2.size(-2));
  if (db != 1) shape.push_back(b2.size(-1));
  Tensor out = empty(shape, options);
  matmul_out(reshape_contiguous(out, full), a2, b2);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  LOOM_CHECK(x.defined() && weight.defined(), "linear: expected defined input and weight");
  LOOM_CHECK(weight.dim() == 2, "linear: expected weight to be 2-D [out_features, in_features], got {}",
             shape_str(weight.shape()));
  LOOM_CHECK(x.dim() >= 1, "linear: expected input to be at least 1-D, got a 0-D tensor");
  check_operands("linear", x, weight);
  const std::int64_t in = weight.size(1), out_features = weight.size(0);
  if (bias.defined()) {
    check_operands("linear", x, bias);
    LOOM_CHECK(bias.shape() == Shape{out_features},
               "linear: expected bias of shape [{}] (out_features), got {}", out_features,
               shape_str(bias.shape()));
  }
  const std::int64_t k = x.size(-1);
  const std::int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  LOOM_CHECK(k == in, "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})", rows, k, in,
             out_features);
  Shape shape(x.shape().begin(), x.shape().end() - 1);
  shape.push_back(out_features);
  Tensor out = empty(shape, TensorOptions(x.dtype()).device(x.device()));
  Tensor out2 = reshape_contiguous(out, {rows, out_features});
  double beta = 0;
  if (bias.defined()) {
    copy_(out2, bias);  // every row starts as the bias; the GEMM adds x W^T
    beta = 1;
  }
  matmul_out(out2, fold_rows(x), matrix_transpose(weight), beta);
  return out;
}

LinearGrads linear_backward(const Tensor& grad, const Tensor& x, const Tensor& weight, bool need_x,
                            bool need_weight, bool need_bias) {
  LinearGrads grads;
  const TensorOptions options = TensorOptions(grad.dtype()).device(grad.device());
  Tensor g2 = fold_rows(grad);  // [rows, out]
  if (need_x) {
    grads.x = empty(x.shape(), options);
    matmul_out(reshape_contiguous(grads.x, {g2.size(0), weight.size(1)}), g2, weight);
  }
  if (need_weight) {
    grads.weight = empty(weight.shape(), options);
    matmul_out(grads.weight, matrix_transpose(g2), fold_rows(x));
  }
  if (need_bias) {
    if (grad.dim() == 1) {
      grads.bias = clone(grad);
    } else {
      Shape dims;
      for (std::int64_t d = 0; d + 1 < grad.dim(); ++d) dims.push_back(d);
      grads.bias = sum(grad, dims);
    }
  }
  return grads;
}

}  // namespace loom::native
