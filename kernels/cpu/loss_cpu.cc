// CPU reference of the NLL loss (contracts in kernels/loss.h).
#include <cmath>
#include <limits>

#include "kernels/loss.h"

namespace loom::kernels {

template <typename T>
void nll_loss_forward_cpu(LossReduction reduction, index_t N, index_t C, const T* input,
                          const index_t* target, index_t ignore_index, T* out, T* count,
                          index_t* bad) {
  bad[0] = -1;
  bad[1] = 0;
  double total = 0, counted = 0;
  for (index_t n = 0; n < N; ++n) {
    index_t t = target[n];
    if (t != ignore_index && !nll_target_in_range(t, C) && bad[0] < 0) {
      bad[0] = n;
      bad[1] = t;
    }
    T loss = nll_point(input + n * C, t, C, ignore_index);
    if (reduction == LossReduction::None) out[n] = loss;
    total += static_cast<double>(loss);
    if (t != ignore_index) counted += 1;
  }
  *count = static_cast<T>(counted);
  if (reduction == LossReduction::Sum) out[0] = static_cast<T>(total);
  if (reduction == LossReduction::Mean) out[0] = static_cast<T>(total / counted);  // 0/0: NaN
}

template <typename T>
void nll_loss_backward_cpu(LossReduction reduction, index_t N, index_t C, const T* grad_out,
                           const index_t* target, index_t ignore_index, const T* count,
                           T* grad_input) {
  T divisor = reduction == LossReduction::Mean ? *count : T(1);
  for (index_t n = 0; n < N; ++n) {
    T g = grad_out[reduction == LossReduction::None ? n : 0];
    for (index_t c = 0; c < C; ++c)
      grad_input[n * C + c] = nll_backward_point(c, target[n], ignore_index, g, divisor);
  }
}

template void nll_loss_forward_cpu<float>(LossReduction, index_t, index_t, const float*,
                                          const index_t*, index_t, float*, float*, index_t*);
template void nll_loss_forward_cpu<double>(LossReduction, index_t, index_t, const double*,
                                           const index_t*, index_t, double*, double*, index_t*);
template void nll_loss_backward_cpu<float>(LossReduction, index_t, index_t, const float*,
                                           const index_t*, index_t, const float*, float*);
template void nll_loss_backward_cpu<double>(LossReduction, index_t, index_t, const double*,
                                            const index_t*, index_t, const double*, double*);

}  // namespace loom::kernels
