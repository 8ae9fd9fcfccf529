#include "core/allocator.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "core/error.h"

#if defined(LOOM_WITH_CUDA)
#include "kernels/cuda/context.h"
#endif

namespace loom {

namespace {

void* host_allocate(std::size_t bytes) {
  std::size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  LOOM_CHECK(p != nullptr, "out of host memory allocating {} bytes", bytes);
  return p;
}

#if defined(LOOM_WITH_CUDA)
// Blocks are rounded to 512 bytes and cached by size; a freed block is reused
// by the next request of the same rounded size or a slightly larger one.
// Everything runs on loom's main stream per device, so a block freed by the
// host may be handed out again at once: stream order protects the reuse. Side
// streams (kernels/cuda/context.h) only touch blocks allocated before their
// fork and freed after their join, which keeps that true (see SideStreamFork).
class CudaCachingAllocator {
 public:
  void* allocate(std::size_t bytes, int device) {
    std::size_t size = round(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceState& s = state(device);
    auto it = s.free_blocks.lower_bound(size);
    void* ptr = nullptr;
    if (it != s.free_blocks.end() && it->first <= size + size / 4 + 4096) {
      ptr = it->second;
      size = it->first;
      s.free_blocks.erase(it);
    } else {
      ptr = driver_malloc(s, size, device);
    }
    s.block_size[ptr] = size;
    s.stats.allocated += static_cast<std::int64_t>(size);
    if (s.stats.allocated > s.stats.max_allocated) s.stats.max_allocated = s.stats.allocated;
    return ptr;
  }

  void free(void* ptr, int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceState& s = state(device);
    auto it = s.block_size.find(ptr);
    if (it == s.block_size.end()) return;
    s.stats.allocated -= static_cast<std::int64_t>(it->second);
    s.free_blocks.emplace(it->second, ptr);
    s.block_size.erase(it);
  }

  CudaMemoryStats stats(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    return state(device).stats;
  }
  void reset_peak(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceState& s = state(device);
    s.stats.max_allocated = s.stats.allocated;
  }
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t d = 0; d < states_.size(); ++d) {
      DeviceState& s = states_[d];
      if (s.free_blocks.empty()) continue;
      int previous = 0;
      cudaGetDevice(&previous);
      cudaSetDevice(static_cast<int>(d));
      cudaStreamSynchronize(kernels::cuda::stream());
      for (auto& [size, ptr] : s.free_blocks) {
        cudaFree(ptr);
        s.stats.reserved -= static_cast<std::int64_t>(size);
      }
      s.free_blocks.clear();
      cudaSetDevice(previous);
    }
  }

 private:
  struct DeviceState {
    std::multimap<std::size_t, void*> free_blocks;
    std::map<void*, std::size_t> block_size;
    CudaMemoryStats stats;
  };

  static std::size_t round(std::size_t bytes) {
    return bytes == 0 ? 512 : (bytes + 511) / 512 * 512;
  }
  DeviceState& state(int device) {
    if (device >= static_cast<int>(states_.size())) states_.resize(device + 1);
    return states_[device];
  }
  void* driver_malloc(DeviceState& s, std::size_t size, int device) {
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {  // free the cache and try once more
      (void)cudaGetLastError();
      for (auto& [sz, p] : s.free_blocks) {
        cudaFree(p);
        s.stats.reserved -= static_cast<std::int64_t>(sz);
      }
      s.free_blocks.clear();
      err = cudaMalloc(&ptr, size);
    }
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      fail("CUDA out of memory: tried to allocate {} bytes on cuda:{} ({} bytes allocated): {}",
           size, device, s.stats.allocated, cudaGetErrorString(err));
    }
    s.stats.reserved += static_cast<std::int64_t>(size);
    s.stats.driver_allocations += 1;
    return ptr;
  }

  std::mutex mutex_;
  std::vector<DeviceState> states_;
};

CudaCachingAllocator& cuda_allocator() {
  static auto* allocator = new CudaCachingAllocator();  // never destroyed: outlives tensors
  return *allocator;
}

struct DeviceGuard {
  int previous = 0;
  explicit DeviceGuard(int device) {
    LOOM_CUDA_CHECK(cudaGetDevice(&previous));
    if (previous != device) LOOM_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous); }
};
#endif

[[noreturn]] void no_cuda() {
  fail("loom was built without CUDA support (or no CUDA device is present): cannot use a cuda tensor");
}

}  // namespace

void* device_allocate(std::size_t bytes, Device device) {
  if (device.is_cpu()) return host_allocate(bytes);
#if defined(LOOM_WITH_CUDA)
  LOOM_CHECK(device.index < cuda_device_count(), "CUDA device {} is not available ({} device(s))",
             device.str(), cuda_device_count());
  DeviceGuard guard(device.index);
  return cuda_allocator().allocate(bytes, device.index);
#else
  no_cuda();
#endif
}

void device_free(void* ptr, std::size_t bytes, Device device) {
  if (ptr == nullptr) return;
  if (device.is_cpu()) {
    std::free(ptr);
    return;
  }
#if defined(LOOM_WITH_CUDA)
  cuda_allocator().free(ptr, device.index);
#endif
}

void device_memcpy(void* dst, Device dst_device, const void* src, Device src_device,
                   std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if defined(LOOM_WITH_CUDA)
  Device cuda_side = dst_device.is_cuda() ? dst_device : src_device;
  DeviceGuard guard(cuda_side.index);
  cudaMemcpyKind kind = dst_device.is_cpu()   ? cudaMemcpyDeviceToHost
                        : src_device.is_cpu() ? cudaMemcpyHostToDevice
                                              : cudaMemcpyDeviceToDevice;
  LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, kernels::cuda::stream()));
  if (dst_device.is_cpu() || src_device.is_cpu()) kernels::cuda::synchronize();
#else
  no_cuda();
#endif
}

CudaMemoryStats cuda_memory_stats(int index) {
#if defined(LOOM_WITH_CUDA)
  return cuda_allocator().stats(index);
#else
  (void)index;
  return {};
#endif
}

void cuda_reset_peak_memory_stats(int index) {
#if defined(LOOM_WITH_CUDA)
  cuda_allocator().reset_peak(index);
#else
  (void)index;
#endif
}

void cuda_empty_cache() {
#if defined(LOOM_WITH_CUDA)
  cuda_allocator().empty_cache();
#endif
}

}  // namespace loom
