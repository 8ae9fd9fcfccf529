// CUDA embedding kernels (contracts in kernels/embedding.h).
//
// Forward: one thread per output element (i, e), a plain gather.
// Backward, deterministic without atomics:
//   1. keys[i] = indices[i] (V for an out-of-range index), positions[i] = i;
//   2. a stable CUB radix sort of (key, position) over the bits that hold 0..V,
//      so equal keys keep their positions in increasing order;
//   3. one block per sorted entry that starts a run of equal keys: its threads
//      take the columns e, each adding the run's grad[position, e] in order.
// grad_weight is zeroed first, so rows no index names stay 0. Work is O(n E);
// a very frequent index (a padding token) is summed by a single block.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "kernels/cuda/context.h"
#include "kernels/embedding.h"

namespace loom::kernels {

namespace {
constexpr int kThreads = 256;
constexpr std::size_t kAlign = 256;

std::size_t align_up(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Radix-sort bits that hold every key 0..V.
int key_bits(index_t V) {
  int bits = 1;
  while (bits < 64 && (std::uint64_t{1} << bits) <= static_cast<std::uint64_t>(V)) ++bits;
  return bits;
}

// A host int mapped into the device address space, one per host thread: the
// forward kernel raises it for an out-of-range index. Each call waits for its
// kernel before returning, so no kernel is writing it when the next call resets it.
int* out_of_range_flag() {
  thread_local int* flag = nullptr;
  if (flag == nullptr)
    LOOM_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&flag), sizeof(int),
                                  cudaHostAllocMapped | cudaHostAllocPortable));
  return flag;
}

template <typename T>
__global__ void embedding_forward_kernel(index_t n, index_t V, index_t E,
                                         const T* weight,              // [V, E]
                                         const std::int64_t* indices,  // [n]
                                         T* out,                       // [n, E]
                                         int* out_of_range) {          // [1], host-mapped
  const index_t width = E > 0 ? E : 1;  // E == 0 still checks the indices
  LOOM_CUDA_KERNEL_LOOP(j, n * width) {
    const index_t i = j / width, e = j % width;
    const std::int64_t v = indices[i];
    const bool ok = embedding_index_ok(v, V);
    if (!ok) *out_of_range = 1;
    if (e < E) out[i * E + e] = ok ? weight[v * E + e] : T(0);
  }
}

__global__ void embedding_keys_kernel(index_t n, index_t V,
                                      const std::int64_t* indices,  // [n]
                                      std::uint64_t* keys,          // [n]
                                      std::int64_t* positions) {    // [n]
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const std::int64_t v = indices[i];
    keys[i] = embedding_index_ok(v, V) ? static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(V);
    positions[i] = i;
  }
}

template <typename T>
__global__ void embedding_backward_kernel(index_t n, index_t V, index_t E,
                                          const T* grad,                   // [n, E]
                                          const std::uint64_t* keys,       // [n] sorted
                                          const std::int64_t* positions,   // [n] stable order
                                          T* grad_weight) {                // [V, E]
  for (index_t i = blockIdx.x; i < n; i += gridDim.x) {
    const std::uint64_t v = keys[i];
    if (v == static_cast<std::uint64_t>(V) || (i > 0 && keys[i - 1] == v)) continue;
    for (index_t e = threadIdx.x; e < E; e += blockDim.x) {
      T acc = T(0);
      for (index_t j = i; j < n && keys[j] == v; ++j) acc += grad[positions[j] * E + e];
      grad_weight[static_cast<index_t>(v) * E + e] = acc;
    }
  }
}

// The workspace's pieces, in order, each 256-byte aligned.
struct Workspace {
  std::uint64_t* keys_in;
  std::uint64_t* keys_out;
  std::int64_t* positions_in;
  std::int64_t* positions_out;
  void* sort_temp;
  std::size_t sort_temp_bytes;
};

std::size_t sort_temp_bytes(index_t n, index_t V) {
  std::size_t bytes = 0;
  LOOM_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, bytes, static_cast<const std::uint64_t*>(nullptr), static_cast<std::uint64_t*>(nullptr),
      static_cast<const std::int64_t*>(nullptr), static_cast<std::int64_t*>(nullptr),
      static_cast<std::int64_t>(n), 0, key_bits(V), cuda::stream()));
  return bytes;
}

Workspace carve(void* base, index_t n, index_t V) {
  auto* p = static_cast<char*>(base);
  const std::size_t array = align_up(static_cast<std::size_t>(n) * 8);
  Workspace w;
  w.keys_in = reinterpret_cast<std::uint64_t*>(p);
  w.keys_out = reinterpret_cast<std::uint64_t*>(p + array);
  w.positions_in = reinterpret_cast<std::int64_t*>(p + 2 * array);
  w.positions_out = reinterpret_cast<std::int64_t*>(p + 3 * array);
  w.sort_temp = p + 4 * array;
  w.sort_temp_bytes = sort_temp_bytes(n, V);
  return w;
}
}  // namespace

template <typename T>
void embedding_forward_cuda(index_t n, index_t V, index_t E, const T* weight,
                            const std::int64_t* indices, T* out) {
  if (n == 0) return;
  volatile int* flag = out_of_range_flag();
  *flag = 0;
  int* device_flag = nullptr;
  LOOM_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&device_flag),
                                           const_cast<int*>(flag), 0));
  const index_t total = n * std::max<index_t>(E, 1);
  embedding_forward_kernel<T><<<cuda::blocks_for(total, kThreads), kThreads, 0, cuda::stream()>>>(
      n, V, E, weight, indices, out, device_flag);
  LOOM_CUDA_CHECK_LAUNCH();
  cuda::synchronize();  // the one wait per call: report a bad index from this call
  if (*flag != 0) embedding_detail::fail_index_out_of_range();
}

std::size_t embedding_backward_workspace_bytes_cuda(index_t n, index_t V) {
  if (n == 0) return 0;
  return 4 * align_up(static_cast<std::size_t>(n) * 8) + align_up(sort_temp_bytes(n, V));
}

template <typename T>
void embedding_backward_cuda(index_t n, index_t V, index_t E, const T* grad,
                             const std::int64_t* indices, T* grad_weight, void* workspace,
                             std::size_t workspace_bytes) {
  if (V * E > 0)
    LOOM_CUDA_CHECK(cudaMemsetAsync(grad_weight, 0, static_cast<std::size_t>(V * E) * sizeof(T),
                                    cuda::stream()));
  if (n == 0 || E == 0) return;
  if (workspace_bytes < embedding_backward_workspace_bytes_cuda(n, V))
    cuda::fail_call("CUDA", "embedding_backward_cuda", "workspace too small", __FILE__, __LINE__);
  Workspace w = carve(workspace, n, V);
  embedding_keys_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      n, V, indices, w.keys_in, w.positions_in);
  LOOM_CUDA_CHECK_LAUNCH();
  std::size_t temp_bytes = w.sort_temp_bytes;
  LOOM_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(w.sort_temp, temp_bytes, w.keys_in, w.keys_out,
                                                  w.positions_in, w.positions_out,
                                                  static_cast<std::int64_t>(n), 0, key_bits(V),
                                                  cuda::stream()));
  const int threads = static_cast<int>(std::min<index_t>(kThreads, (E + 31) / 32 * 32));
  const unsigned blocks = static_cast<unsigned>(std::min<index_t>(n, 65535LL * 32));
  embedding_backward_kernel<T><<<blocks, threads, 0, cuda::stream()>>>(n, V, E, grad, w.keys_out,
                                                                       w.positions_out, grad_weight);
  LOOM_CUDA_CHECK_LAUNCH();
}

template void embedding_forward_cuda<float>(index_t, index_t, index_t, const float*,
                                            const std::int64_t*, float*);
template void embedding_forward_cuda<double>(index_t, index_t, index_t, const double*,
                                             const std::int64_t*, double*);
template void embedding_backward_cuda<float>(index_t, index_t, index_t, const float*,
                                             const std::int64_t*, float*, void*, std::size_t);
template void embedding_backward_cuda<double>(index_t, index_t, index_t, const double*,
                                              const std::int64_t*, double*, void*, std::size_t);

}  // namespace loom::kernels
