// CUDA elementwise kernels: one thread per output element, the math shared
// with the CPU reference through kernels/elementwise.h.
#include <cstdint>

#include "kernels/cuda/context.h"
#include "kernels/elementwise.h"

namespace loom::kernels {

namespace {
constexpr int kThreads = 256;

template <typename T>
__global__ void unary_kernel(UnaryOp op, opmath_t<T> alpha, index_t n, OffsetCalc<1> in,
                             const T* x,  // strided per `in`
                             T* y) {      // [n]
  index_t off[1];
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    in.offsets(i, off);
    y[i] = unary_element(op, x[off[0]], alpha);
  }
}

template <typename T>
__global__ void binary_kernel(BinaryOp op, index_t n, OffsetCalc<2> in, const T* a, const T* b,
                              T* out) {  // out [n]
  index_t off[2];
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    in.offsets(i, off);
    out[i] = binary_element(op, a[off[0]], b[off[1]]);
  }
}

template <typename T>
__global__ void compare_kernel(CompareOp op, index_t n, OffsetCalc<2> in, const T* a, const T* b,
                               bool* out) {  // out [n]
  index_t off[2];
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    in.offsets(i, off);
    out[i] = compare_element(op, a[off[0]], b[off[1]]);
  }
}

template <typename T>
__global__ void where_kernel(index_t n, OffsetCalc<3> in, const bool* cond, const T* a,
                             const T* b, T* out) {  // out [n]
  index_t off[3];
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    in.offsets(i, off);
    out[i] = cond[off[0]] ? a[off[1]] : b[off[2]];
  }
}

template <typename From, typename To>
__global__ void copy_kernel(index_t n, OffsetCalc<2> in, const From* src, To* dst) {
  index_t off[2];
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    in.offsets(i, off);
    dst[off[1]] = convert<To>(src[off[0]]);
  }
}

template <typename T>
__global__ void fill_kernel(index_t n, T value, T* out) {  // out [n]
  LOOM_CUDA_KERNEL_LOOP(i, n) { out[i] = value; }
}

template <typename T>
__global__ void arange_kernel(index_t n, double start, double step, T* out) {  // out [n]
  LOOM_CUDA_KERNEL_LOOP(i, n) { out[i] = convert<T>(start + static_cast<double>(i) * step); }
}

#define LOOM_LAUNCH(kernel, n, ...)                                                   \
  do {                                                                                \
    if ((n) == 0) return;                                                             \
    kernel<<<cuda::blocks_for((n), kThreads), kThreads, 0, cuda::stream()>>>(__VA_ARGS__); \
    LOOM_CUDA_CHECK_LAUNCH();                                                         \
  } while (0)
}  // namespace

template <typename T>
void unary_cuda(UnaryOp op, opmath_t<T> alpha, index_t n, const OffsetCalc<1>& in, const T* x, T* y) {
  LOOM_LAUNCH(unary_kernel<T>, n, op, alpha, n, in, x, y);
}
template <typename T>
void binary_cuda(BinaryOp op, index_t n, const OffsetCalc<2>& in, const T* a, const T* b, T* out) {
  LOOM_LAUNCH(binary_kernel<T>, n, op, n, in, a, b, out);
}
template <typename T>
void compare_cuda(CompareOp op, index_t n, const OffsetCalc<2>& in, const T* a, const T* b,
                  bool* out) {
  LOOM_LAUNCH(compare_kernel<T>, n, op, n, in, a, b, out);
}
template <typename T>
void where_cuda(index_t n, const OffsetCalc<3>& in, const bool* cond, const T* a, const T* b,
                T* out) {
  LOOM_LAUNCH(where_kernel<T>, n, n, in, cond, a, b, out);
}
template <typename From, typename To>
void copy_cuda(index_t n, const OffsetCalc<2>& in, const From* src, To* dst) {
  LOOM_LAUNCH((copy_kernel<From, To>), n, n, in, src, dst);
}
template <typename T>
void fill_cuda(index_t n, T value, T* out) {
  LOOM_LAUNCH(fill_kernel<T>, n, n, value, out);
}
template <typename T>
void arange_cuda(index_t n, double start, double step, T* out) {
  LOOM_LAUNCH(arange_kernel<T>, n, n, start, step, out);
}

#define LOOM_EW_SUFFIX cuda
#include "kernels/elementwise_instantiate.h"
LOOM_EW_INSTANTIATE_ALL()

}  // namespace loom::kernels
