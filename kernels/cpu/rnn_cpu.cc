// CPU reference of the recurrent layer (contract in kernels/rnn.h): the
// algorithm of kernels/rnn_algorithm.h over plain loops and CBLAS. For the
// 16-bit storage types the GEMMs convert their operands to float, run the
// float32 CBLAS product and round the result once to the output type, as
// cublasGemmEx with CUBLAS_COMPUTE_32F does on the GPU.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/gemm.h"
#include "kernels/half.h"
#include "kernels/rnn.h"
#include "kernels/rnn_algorithm.h"
#include "kernels/rnn_persistent.h"
#include "kernels/rnn_persistent_algorithm.h"
#include "kernels/rnn_wavefront.h"
#include "kernels/rnn_wavefront_algorithm.h"

namespace loom::kernels {

namespace {

// The stored matrix [rows, cols] with row stride ld, as a dense float matrix.
template <typename S>
std::vector<float> to_float(const S* m, index_t rows, index_t cols, index_t ld) {
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  for (index_t r = 0; r < rows; ++r)
    for (index_t c = 0; c < cols; ++c) out[r * cols + c] = static_cast<float>(m[r * ld + c]);
  return out;
}

template <typename S>
struct CpuOps {
  using F = opmath_t<S>;

  // C [M, N] (Out = S or F) = alpha * op(A) op(B) + beta * C, see rnn_algorithm.h.
  template <typename Out>
  void gemm(bool ta, bool tb, index_t M, index_t N, index_t K, F alpha, const S* A, index_t lda,
            const S* B, index_t ldb, F beta, Out* C, index_t ldc) {
    if constexpr (std::is_same_v<S, F>) {
      gemm_cpu<S>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {
      const std::vector<float> a = ta ? to_float(A, K, M, lda) : to_float(A, M, K, lda);
      const std::vector<float> b = tb ? to_float(B, N, K, ldb) : to_float(B, K, N, ldb);
      if constexpr (std::is_same_v<Out, float>) {
        gemm_cpu<float>(ta, tb, M, N, K, alpha, a.data(), ta ? M : K, b.data(), tb ? K : N, beta,
                        C, ldc);
      } else {  // the float result, then one rounding to S
        std::vector<float> c = beta == 0.0f ? std::vector<float>(static_cast<std::size_t>(M * N))
                                            : to_float(C, M, N, ldc);
        gemm_cpu<float>(ta, tb, M, N, K, alpha, a.data(), ta ? M : K, b.data(), tb ? K : N, beta,
                        c.data(), N);
        for (index_t i = 0; i < M; ++i)
          for (index_t j = 0; j < N; ++j) C[i * ldc + j] = static_cast<S>(c[i * N + j]);
      }
    }
  }
  template <typename X>
  void copy(X* dst, const X* src, index_t n) {
    std::memcpy(dst, src, sizeof(X) * n);
  }
  template <typename To, typename From>
  void convert(To* dst, const From* src, index_t n) {
    for (index_t i = 0; i < n; ++i) dst[i] = static_cast<To>(src[i]);
  }
  template <typename X>
  void zero(X* dst, index_t n) {
    std::fill(dst, dst + n, X(0.0f));
  }
  void add(S* dst, const F* a, const S* b, index_t n) {  // b may be null
    for (index_t i = 0; i < n; ++i) dst[i] = static_cast<S>(a[i] + (b ? F(b[i]) : F(0)));
  }
  void step_forward(const rnn_detail::RnnStepForward<S>& s) {
    for (index_t n = 0; n < s.rows; ++n)
      for (index_t j = 0; j < s.H; ++j) rnn_detail::rnn_step_forward_point(s, n, j);
  }
  void step_backward(const rnn_detail::RnnStepBackward<S>& s) {
    for (index_t n = 0; n < s.rows; ++n)
      for (index_t j = 0; j < s.H; ++j) rnn_detail::rnn_step_backward_point(s, n, j);
  }
  void step_forward_output(const rnn_detail::RnnStepForward<S>& s) {
    for (index_t n = 0; n < s.rows; ++n)
      for (index_t j = 0; j < s.H; ++j) rnn_detail::rnn_step_forward_output_point(s, n, j);
  }
  void step_backward_output(const rnn_detail::RnnStepBackward<S>& s) {
    for (index_t n = 0; n < s.rows; ++n)
      for (index_t j = 0; j < s.H; ++j) rnn_detail::rnn_step_backward_output_point(s, n, j);
  }
  // Row by row: mean, then the biased variance from a second pass (sums in F,
  // columns in ascending order), then the elements.
  void layer_norm_rows(const rnn_detail::RowLayerNorm<S>& l) {
    for (index_t n = 0; n < l.rows; ++n) {
      F* v = l.v + n * l.cols;
      F sum = F(0);
      for (index_t j = 0; j < l.cols; ++j) sum += v[j];
      const F mean = sum / F(l.cols);
      F sq = F(0);
      for (index_t j = 0; j < l.cols; ++j) sq += (v[j] - mean) * (v[j] - mean);
      const F rstd = layer_norm_rstd(sq / F(l.cols), l.eps);
      if (l.rstd) l.rstd[n] = static_cast<S>(rstd);
      for (index_t j = 0; j < l.cols; ++j) {
        const F xhat = layer_norm_xhat(v[j], mean, rstd);
        if (l.xhat) l.xhat[n * l.cols + j] = static_cast<S>(xhat);
        v[j] = xhat * F(l.w[j]) + F(l.b[j]);
      }
    }
  }
  void layer_norm_rows_backward(const rnn_detail::RowLayerNormBackward<S>& l) {
    for (index_t n = 0; n < l.rows; ++n) {
      const S* dy = l.dy + n * l.cols;
      const S* xhat = l.xhat + n * l.cols;
      F s1 = F(0), s2 = F(0);
      for (index_t j = 0; j < l.cols; ++j) {
        const F wdy = F(l.w[j]) * F(dy[j]);
        s1 += wdy;
        s2 += wdy * F(xhat[j]);
      }
      const F m1 = s1 / F(l.cols), m2 = s2 / F(l.cols), rstd = F(l.rstd[n]);
      S* dx = l.dx + n * l.cols;  // may be dy: each element read just before it is written
      for (index_t j = 0; j < l.cols; ++j)
        dx[j] = static_cast<S>(layer_norm_backward_point(F(dy[j]), F(l.w[j]), F(xhat[j]), rstd, m1, m2));
    }
  }
  void column_dot(const S* a, const S* b, index_t rows, index_t cols, S* out) {  // rows ascending
    std::vector<F> acc(static_cast<std::size_t>(cols), F(0));
    for (index_t r = 0; r < rows; ++r)
      for (index_t c = 0; c < cols; ++c) acc[c] += F(a[r * cols + c]) * F(b[r * cols + c]);
    for (index_t c = 0; c < cols; ++c) out[c] = static_cast<S>(acc[c]);
  }
  void column_sum(const S* m, index_t rows, index_t cols, S* out) {  // rows in ascending order
    std::vector<F> acc(static_cast<std::size_t>(cols), F(0));
    for (index_t r = 0; r < rows; ++r)
      for (index_t c = 0; c < cols; ++c) acc[c] += F(m[r * cols + c]);
    for (index_t c = 0; c < cols; ++c) out[c] = static_cast<S>(acc[c]);
  }
};
}  // namespace

template <typename T>
void rnn_layer_forward_cpu(const RnnLayerShape& shape, const RnnForwardArgs<T>& args) {
  rnn_check_forward(shape, args);
  CpuOps<T> ops;
  rnn_detail::rnn_forward(shape, args, ops);
}

template <typename T>
void rnn_layer_backward_cpu(const RnnLayerShape& shape, const RnnBackwardArgs<T>& args) {
  rnn_check_backward(shape, args);
  CpuOps<T> ops;
  rnn_detail::rnn_backward(shape, args, ops);
}

namespace {
// CpuOps plus the persistent loops, emulated (kernels/rnn_persistent_algorithm.h).
template <typename S>
struct PersistentCpuOps : CpuOps<S> {
  void persistent_forward(const rnn_detail::PersistentForward<S>& p) {
    rnn_detail::persistent_forward_host(p);
  }
  void persistent_backward(const rnn_detail::PersistentBackward<S>& p) {
    rnn_detail::persistent_backward_host(p);
  }
  void wavefront_forward(const rnn_detail::WavefrontForward<S>& p) {
    rnn_detail::wavefront_forward_host(p);
  }
};

rnn_detail::PersistentGeometry emulated_geometry(const RnnLayerShape& shape,
                                                 const PersistentPlan& plan) {
  const std::string why = persistent_ineligible_reason(shape);
  LOOM_CHECK(why.empty(), "persistent emulation: {}", why);
  LOOM_CHECK(plan.units >= 1 && plan.blocks >= 1 && plan.units * plan.blocks >= shape.H,
             "persistent emulation: {} blocks of {} units do not cover H = {}", plan.blocks,
             plan.units, shape.H);
  return {plan.blocks, plan.threads, plan.units, plan.staged};
}
}  // namespace

template <typename T>
void rnn_layer_forward_persistent_emulated(const RnnLayerShape& shape,
                                           const RnnForwardArgs<T>& args,
                                           const PersistentPlan& plan) {
  rnn_check_forward(shape, args);
  PersistentCpuOps<T> ops;
  rnn_detail::rnn_forward_persistent(shape, args, emulated_geometry(shape, plan), ops);
}

template <typename T>
void rnn_layer_backward_persistent_emulated(const RnnLayerShape& shape,
                                            const RnnBackwardArgs<T>& args,
                                            const PersistentPlan& plan) {
  rnn_check_backward(shape, args);
  PersistentCpuOps<T> ops;
  rnn_detail::rnn_backward_persistent(shape, args, emulated_geometry(shape, plan), ops);
}

template <typename T>
void rnn_stack_forward_wavefront_emulated(const RnnStackShape& shape,
                                          const RnnStackForwardArgs<T>& args,
                                          const PersistentPlan& plan) {
  rnn_stack_check_forward(shape, args);
  LOOM_CHECK(plan.units >= 1 && plan.blocks >= 1 && plan.units * plan.blocks >= shape.H,
             "wavefront emulation: {} blocks of {} units do not cover H = {}", plan.blocks,
             plan.units, shape.H);
  PersistentCpuOps<T> ops;
  rnn_detail::rnn_stack_forward_wavefront(
      shape, args, {plan.blocks, plan.threads, plan.units, plan.staged}, ops);
}

#define LOOM_RNN_CPU(T)                                                                       \
  template void rnn_layer_forward_cpu<T>(const RnnLayerShape&, const RnnForwardArgs<T>&); \
  template void rnn_layer_backward_cpu<T>(const RnnLayerShape&, const RnnBackwardArgs<T>&); \
  template void rnn_layer_forward_persistent_emulated<T>(                                   \
      const RnnLayerShape&, const RnnForwardArgs<T>&, const PersistentPlan&);               \
  template void rnn_layer_backward_persistent_emulated<T>(                                  \
      const RnnLayerShape&, const RnnBackwardArgs<T>&, const PersistentPlan&);             \
  template void rnn_stack_forward_wavefront_emulated<T>(                                    \
      const RnnStackShape&, const RnnStackForwardArgs<T>&, const PersistentPlan&);
LOOM_RNN_CPU(float)
LOOM_RNN_CPU(double)
LOOM_RNN_CPU(bfloat16)
LOOM_RNN_CPU(float16)

}  // namespace loom::kernels
