#include <cmath>
#include <limits>

#include "kernels/reduce.h"

namespace loom::kernels {

template <typename T>
void reduce_rows_cpu(ReduceOp op, index_t outer, index_t inner, const T* x, T* out,
                     index_t* indices) {
  for (index_t r = 0; r < outer; ++r) {
    const T* row = x + r * inner;
    if (op == ReduceOp::Max) {
      index_t best = 0;
      for (index_t i = 1; i < inner; ++i) {
        if (std::isnan(row[best])) break;
        if (std::isnan(row[i]) || row[i] > row[best]) best = i;
      }
      out[r] = row[best];
      if (indices) indices[r] = best;
      continue;
    }
    double acc = 0;
    for (index_t i = 0; i < inner; ++i) acc += static_cast<double>(row[i]);
    if (op == ReduceOp::Mean) acc = inner == 0 ? std::numeric_limits<double>::quiet_NaN() : acc / inner;
    out[r] = static_cast<T>(acc);
  }
}

template void reduce_rows_cpu<float>(ReduceOp, index_t, index_t, const float*, float*, index_t*);
template void reduce_rows_cpu<double>(ReduceOp, index_t, index_t, const double*, double*, index_t*);

}  // namespace loom::kernels
