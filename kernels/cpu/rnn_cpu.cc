// CPU reference of the recurrent layer (contract in kernels/rnn.h): the
// algorithm of kernels/rnn_algorithm.h over plain loops and CBLAS.
#include <algorithm>
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/rnn.h"
#include "kernels/rnn_algorithm.h"

namespace loom::kernels {

namespace {
template <typename T>
struct CpuOps {
  void gemm(bool ta, bool tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
            const T* B, index_t ldb, T beta, T* C, index_t ldc) {
    gemm_cpu<T>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  void copy(T* dst, const T* src, index_t n) { std::memcpy(dst, src, sizeof(T) * n); }
  void zero(T* dst, index_t n) { std::fill(dst, dst + n, T(0)); }
  void add(T* dst, const T* a, const T* b, index_t n) {  // b may be null
    for (index_t i = 0; i < n; ++i) dst[i] = a[i] + (b ? b[i] : T(0));
  }
  void step_forward(const rnn_detail::RnnStepForward<T>& s) {
    for (index_t n = 0; n < s.rows; ++n)
      for (index_t j = 0; j < s.H; ++j) rnn_detail::rnn_step_forward_point(s, n, j);
  }
  void step_backward(const rnn_detail::RnnStepBackward<T>& s) {
    for (index_t n = 0; n < s.rows; ++n)
      for (index_t j = 0; j < s.H; ++j) rnn_detail::rnn_step_backward_point(s, n, j);
  }
  void column_sum(const T* m, index_t rows, index_t cols, T* out) {  // rows in ascending order
    std::fill(out, out + cols, T(0));
    for (index_t r = 0; r < rows; ++r)
      for (index_t c = 0; c < cols; ++c) out[c] += m[r * cols + c];
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

template void rnn_layer_forward_cpu<float>(const RnnLayerShape&, const RnnForwardArgs<float>&);
template void rnn_layer_forward_cpu<double>(const RnnLayerShape&, const RnnForwardArgs<double>&);
template void rnn_layer_backward_cpu<float>(const RnnLayerShape&, const RnnBackwardArgs<float>&);
template void rnn_layer_backward_cpu<double>(const RnnLayerShape&, const RnnBackwardArgs<double>&);

}  // namespace loom::kernels
