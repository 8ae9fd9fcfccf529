// CPU reference of softmax / log-softmax (contracts in kernels/softmax.h).
#include "kernels/softmax.h"

namespace loom::kernels {

template <typename T>
void softmax_forward_cpu(bool log_softmax, index_t outer, index_t D, index_t inner, const T* x,
                         T* y) {
  for (index_t o = 0; o < outer; ++o)
    for (index_t i = 0; i < inner; ++i) {
      const index_t base = o * D * inner + i;
      softmax_forward_column(log_softmax, D, inner, x + base, y + base);
    }
}

template <typename T>
void softmax_backward_cpu(bool log_softmax, index_t outer, index_t D, index_t inner, const T* g,
                          const T* y, T* dx) {
  for (index_t o = 0; o < outer; ++o)
    for (index_t i = 0; i < inner; ++i) {
      const index_t base = o * D * inner + i;
      softmax_backward_column(log_softmax, D, inner, g + base, y + base, dx + base);
    }
}

template void softmax_forward_cpu<float>(bool, index_t, index_t, index_t, const float*, float*);
template void softmax_forward_cpu<double>(bool, index_t, index_t, index_t, const double*, double*);
template void softmax_backward_cpu<float>(bool, index_t, index_t, index_t, const float*,
                                          const float*, float*);
template void softmax_backward_cpu<double>(bool, index_t, index_t, index_t, const double*,
                                           const double*, double*);

}  // namespace loom::kernels
