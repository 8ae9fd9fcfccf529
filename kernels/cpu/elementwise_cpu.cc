// CPU reference of the elementwise kernels (contracts in kernels/elementwise.h).
#include <cstdint>

#include "kernels/elementwise.h"

namespace loom::kernels {

template <typename T>
void unary_cpu(UnaryOp op, opmath_t<T> alpha, index_t n, const OffsetCalc<1>& in, const T* x, T* y) {
  index_t off[1];
  for (index_t i = 0; i < n; ++i) {
    in.offsets(i, off);
    y[i] = unary_element(op, x[off[0]], alpha);
  }
}

template <typename T>
void binary_cpu(BinaryOp op, index_t n, const OffsetCalc<2>& in, const T* a, const T* b, T* out) {
  index_t off[2];
  for (index_t i = 0; i < n; ++i) {
    in.offsets(i, off);
    out[i] = binary_element(op, a[off[0]], b[off[1]]);
  }
}

template <typename T>
void compare_cpu(CompareOp op, index_t n, const OffsetCalc<2>& in, const T* a, const T* b,
                 bool* out) {
  index_t off[2];
  for (index_t i = 0; i < n; ++i) {
    in.offsets(i, off);
    out[i] = compare_element(op, a[off[0]], b[off[1]]);
  }
}

template <typename T>
void where_cpu(index_t n, const OffsetCalc<3>& in, const bool* cond, const T* a, const T* b,
               T* out) {
  index_t off[3];
  for (index_t i = 0; i < n; ++i) {
    in.offsets(i, off);
    out[i] = cond[off[0]] ? a[off[1]] : b[off[2]];
  }
}

template <typename From, typename To>
void copy_cpu(index_t n, const OffsetCalc<2>& in, const From* src, To* dst) {
  index_t off[2];
  for (index_t i = 0; i < n; ++i) {
    in.offsets(i, off);
    dst[off[1]] = convert<To>(src[off[0]]);
  }
}

template <typename T>
void fill_cpu(index_t n, T value, T* out) {
  for (index_t i = 0; i < n; ++i) out[i] = value;
}

template <typename T>
void arange_cpu(index_t n, double start, double step, T* out) {
  for (index_t i = 0; i < n; ++i) out[i] = convert<T>(start + static_cast<double>(i) * step);
}

#define LOOM_EW_SUFFIX cpu
#include "kernels/elementwise_instantiate.h"
LOOM_EW_INSTANTIATE_ALL()

}  // namespace loom::kernels
