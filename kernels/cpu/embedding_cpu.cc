// CPU reference of the embedding kernels (contracts in kernels/embedding.h).
#include <algorithm>

#include "core/error.h"
#include "kernels/embedding.h"

namespace loom::kernels {

namespace embedding_detail {
void fail_index_out_of_range() { throw Error("index out of range in self"); }
}  // namespace embedding_detail

template <typename T>
void embedding_forward_cpu(index_t n, index_t V, index_t E, const T* weight,
                           const std::int64_t* indices, T* out) {
  for (index_t i = 0; i < n; ++i)
    if (!embedding_index_ok(indices[i], V)) embedding_detail::fail_index_out_of_range();
  for (index_t i = 0; i < n; ++i) std::copy_n(weight + indices[i] * E, E, out + i * E);
}

template <typename T>
void embedding_backward_cpu(index_t n, index_t V, index_t E, const T* grad,
                            const std::int64_t* indices, T* grad_weight, void*, std::size_t) {
  std::fill_n(grad_weight, V * E, T(0));
  for (index_t i = 0; i < n; ++i) {
    const std::int64_t v = indices[i];
    if (!embedding_index_ok(v, V)) continue;
    T* row = grad_weight + v * E;
    const T* g = grad + i * E;
    for (index_t e = 0; e < E; ++e) row[e] += g[e];
  }
}

template void embedding_forward_cpu<float>(index_t, index_t, index_t, const float*,
                                           const std::int64_t*, float*);
template void embedding_forward_cpu<double>(index_t, index_t, index_t, const double*,
                                            const std::int64_t*, double*);
template void embedding_backward_cpu<float>(index_t, index_t, index_t, const float*,
                                            const std::int64_t*, float*, void*, std::size_t);
template void embedding_backward_cpu<double>(index_t, index_t, index_t, const double*,
                                             const std::int64_t*, double*, void*, std::size_t);

}  // namespace loom::kernels
