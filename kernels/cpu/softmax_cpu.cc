// CPU reference of softmax / log-softmax (contracts in kernels/softmax.h).
#include <cmath>
#include <limits>

#include "kernels/softmax.h"

namespace loom::kernels {

template <typename T>
void softmax_forward_cpu(bool log_softmax, index_t outer, index_t D, index_t inner, const T* x,
                         T* y) {
  for (index_t o = 0; o < outer; ++o) {
    for (index_t i = 0; i < inner; ++i) {
      const T* xr = x + o * D * inner + i;
      T* yr = y + o * D * inner + i;
      // NaN propagates: max over a row holding NaN is NaN, so is every output.
      double m = -std::numeric_limits<double>::infinity();
      for (index_t d = 0; d < D; ++d) {
        double v = static_cast<double>(xr[d * inner]);
        if (std::isnan(v) || v > m) m = v;
        if (std::isnan(m)) break;
      }
      double s = 0;
      for (index_t d = 0; d < D; ++d) s += std::exp(static_cast<double>(xr[d * inner]) - m);
      for (index_t d = 0; d < D; ++d) yr[d * inner] = softmax_point(xr[d * inner], m, s, log_softmax);
    }
  }
}

template <typename T>
void softmax_backward_cpu(bool log_softmax, index_t outer, index_t D, index_t inner, const T* g,
                          const T* y, T* dx) {
  for (index_t o = 0; o < outer; ++o) {
    for (index_t i = 0; i < inner; ++i) {
      index_t base = o * D * inner + i;
      double s = 0;
      for (index_t d = 0; d < D; ++d)
        s += softmax_backward_term(g[base + d * inner], y[base + d * inner], log_softmax);
      for (index_t d = 0; d < D; ++d)
        dx[base + d * inner] =
            softmax_backward_point(g[base + d * inner], y[base + d * inner], s, log_softmax);
    }
  }
}

template void softmax_forward_cpu<float>(bool, index_t, index_t, index_t, const float*, float*);
template void softmax_forward_cpu<double>(bool, index_t, index_t, index_t, const double*, double*);
template void softmax_backward_cpu<float>(bool, index_t, index_t, index_t, const float*,
                                          const float*, float*);
template void softmax_backward_cpu<double>(bool, index_t, index_t, index_t, const double*,
                                           const double*, double*);

}  // namespace loom::kernels
