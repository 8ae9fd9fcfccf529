// CUDA random fills (contracts in kernels/random.h): one thread per 128-bit counter,
// i.e. per four consecutive elements, running the math of kernels/philox.h, so
// every value equals the CPU reference's bit for bit.
#include "kernels/cuda/context.h"
#include "kernels/philox.h"
#include "kernels/random.h"

namespace loom::kernels {

namespace {
constexpr int kThreads = 256;

// Writes the values v[0..3] of counter g to out[4g .. 4g + 3], those below n.
template <typename T>
__device__ __forceinline__ void store_group(index_t n, index_t g, const T* v, T* out) {
  const index_t base = g * kPhiloxLanes;
  for (int l = 0; l < kPhiloxLanes; ++l)
    if (base + l < n) out[base + l] = v[l];
}
}  // namespace

template <typename T>
__global__ void fill_uniform_kernel(index_t n, index_t groups, std::uint64_t seed,
                                    std::uint64_t offset, T low, T range, T high,
                                    T* out) {  // [n]
  LOOM_CUDA_KERNEL_LOOP(g, groups) {
    T v[kPhiloxLanes];
    philox_uniform4<T>(seed, offset + static_cast<std::uint64_t>(g), v);
    for (int l = 0; l < kPhiloxLanes; ++l) v[l] = philox_uniform_value(v[l], low, range, high);
    store_group(n, g, v, out);
  }
}

template <typename T>
__global__ void fill_normal_kernel(index_t n, index_t groups, std::uint64_t seed,
                                   std::uint64_t offset, T mean, T std, T* out) {  // [n]
  LOOM_CUDA_KERNEL_LOOP(g, groups) {
    T v[kPhiloxLanes];
    philox_normal4<T>(seed, offset + static_cast<std::uint64_t>(g), v);
    for (int l = 0; l < kPhiloxLanes; ++l) v[l] = philox_normal_value(v[l], mean, std);
    store_group(n, g, v, out);
  }
}

template <typename T>
__global__ void fill_dropout_mask_kernel(index_t n, index_t groups, std::uint64_t seed,
                                         std::uint64_t offset, T p, T scale, T* mask) {  // [n]
  LOOM_CUDA_KERNEL_LOOP(g, groups) {
    T v[kPhiloxLanes];
    philox_uniform4<T>(seed, offset + static_cast<std::uint64_t>(g), v);
    for (int l = 0; l < kPhiloxLanes; ++l) v[l] = philox_dropout_value(v[l], p, scale);
    store_group(n, g, v, mask);
  }
}

template <typename T>
void fill_uniform_cuda(index_t n, std::uint64_t seed, std::uint64_t offset, T low, T high,
                       T* out) {
  random_detail::check_count("fill_uniform", n);
  random_detail::check_uniform_args(low, high);
  if (n == 0) return;
  const index_t groups = static_cast<index_t>(counters_used(n));
  fill_uniform_kernel<T><<<cuda::blocks_for(groups, kThreads), kThreads, 0, cuda::stream()>>>(
      n, groups, seed, offset, low, high - low, high, out);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename T>
void fill_normal_cuda(index_t n, std::uint64_t seed, std::uint64_t offset, T mean, T std,
                      T* out) {
  random_detail::check_count("fill_normal", n);
  random_detail::check_normal_args(std);
  if (n == 0) return;
  const index_t groups = static_cast<index_t>(counters_used(n));
  fill_normal_kernel<T><<<cuda::blocks_for(groups, kThreads), kThreads, 0, cuda::stream()>>>(
      n, groups, seed, offset, mean, std, out);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename T>
void fill_dropout_mask_cuda(index_t n, std::uint64_t seed, std::uint64_t offset, T p, T* mask) {
  random_detail::check_count("fill_dropout_mask", n);
  random_detail::check_dropout_args(p);
  if (n == 0) return;
  const T scale = p < T(1) ? T(1) / (T(1) - p) : T(0);  // on the host, as the CPU path
  const index_t groups = static_cast<index_t>(counters_used(n));
  fill_dropout_mask_kernel<T><<<cuda::blocks_for(groups, kThreads), kThreads, 0,
                                cuda::stream()>>>(n, groups, seed, offset, p, scale, mask);
  LOOM_CUDA_CHECK_LAUNCH();
}

#define LOOM_INSTANTIATE_RANDOM_CUDA(T)                                                       \
  template void fill_uniform_cuda<T>(index_t, std::uint64_t, std::uint64_t, T, T, T*);        \
  template void fill_normal_cuda<T>(index_t, std::uint64_t, std::uint64_t, T, T, T*);         \
  template void fill_dropout_mask_cuda<T>(index_t, std::uint64_t, std::uint64_t, T, T*);
LOOM_INSTANTIATE_RANDOM_CUDA(float)
LOOM_INSTANTIATE_RANDOM_CUDA(double)
#undef LOOM_INSTANTIATE_RANDOM_CUDA

}  // namespace loom::kernels
