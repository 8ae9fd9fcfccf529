#include <cmath>
#include <limits>
#include <type_traits>

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
        if constexpr (std::is_integral_v<T>) {
          if (row[i] > row[best]) best = i;
        } else {
          if (std::isnan(row[best])) break;
          if (std::isnan(row[i]) || row[i] > row[best]) best = i;
        }
      }
      out[r] = row[best];
      if (indices) indices[r] = best;
      continue;
    }
    if constexpr (std::is_integral_v<T>) {  // exact, wrapping as PyTorch's int64 sum
      unsigned long long total = 0;
      for (index_t i = 0; i < inner; ++i) total += static_cast<unsigned long long>(row[i]);
      out[r] = static_cast<T>(total);  // Mean of integers is refused by loom::native::mean
      continue;
    }
    double acc = 0;
    for (index_t i = 0; i < inner; ++i) acc += static_cast<double>(row[i]);
    if (op == ReduceOp::Mean) acc = inner == 0 ? std::numeric_limits<double>::quiet_NaN() : acc / inner;
    out[r] = static_cast<T>(acc);
  }
}

template void reduce_rows_cpu<float>(ReduceOp, index_t, index_t, const float*, float*, index_t*);
template void reduce_rows_cpu<std::int64_t>(ReduceOp, index_t, index_t, const std::int64_t*,
                                            std::int64_t*, index_t*);
template void reduce_rows_cpu<double>(ReduceOp, index_t, index_t, const double*, double*, index_t*);

}  // namespace loom::kernels
