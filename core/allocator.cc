#include "core/allocator.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <vector>

#if defined(__linux__)
#include <sys/sysinfo.h>
#endif

#include "core/error.h"

#if defined(LOOM_WITH_CUDA)
#include "kernels/cuda/context.h"
#endif

namespace loom {

namespace {

// Host statistics; plain atomics, so they outlive every static Storage.
struct HostCounters {
  std::atomic<std::int64_t> allocated{0};
  std::atomic<std::int64_t> max_allocated{0};
  std::atomic<std::int64_t> allocations{0};
};
HostCounters& host_counters() {
  static HostCounters counters;
  return counters;
}

[[noreturn]] void fail_host_oom(std::size_t bytes, const char* why) {
  fail("CPU out of memory. Tried to allocate {} ({} already allocated by loom on the host; {} "
       "physical memory + swap){}",
       format_memory_size(static_cast<std::int64_t>(
           std::min<std::size_t>(bytes, std::numeric_limits<std::int64_t>::max()))),
       format_memory_size(host_counters().allocated.load()), format_memory_size(host_memory_limit()),
       why);
}

// The poisoning switch (allocator.h), first read from LOOM_POISON_MEMORY.
bool poisoning_from_environment() {
  const char* v = std::getenv("LOOM_POISON_MEMORY");
  if (v == nullptr || *v == '\0' || std::strcmp(v, "0") == 0) return false;
  if (std::strcmp(v, "1") == 0) return true;
  fail("LOOM_POISON_MEMORY must be 1 (poison every new block) or 0 (off), got \"{}\"", v);
}
std::atomic<bool>& poisoning_switch() {
  static std::atomic<bool> on{poisoning_from_environment()};
  return on;
}
bool poisoning_on() { return poisoning_switch().load(std::memory_order_relaxed); }

void* host_allocate(std::size_t bytes) {
  const bool poison = poisoning_on();  // first: a bad LOOM_POISON_MEMORY throws before malloc
  // Checked before malloc: with overcommit a huge malloc may succeed and the
  // process be killed later, when the pages are touched. Also keeps the
  // rounding below from overflowing.
  if (bytes > static_cast<std::size_t>(host_memory_limit()))
    fail_host_oom(bytes, ": the request exceeds the machine's memory");
  std::size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (p == nullptr) fail_host_oom(bytes, "");
  HostCounters& c = host_counters();
  const std::int64_t now = c.allocated.fetch_add(static_cast<std::int64_t>(bytes)) +
                           static_cast<std::int64_t>(bytes);
  std::int64_t peak = c.max_allocated.load();
  while (now > peak && !c.max_allocated.compare_exchange_weak(peak, now)) {
  }
  c.allocations.fetch_add(1);
  if (poison) std::memset(p, 0xFF, bytes);
  return p;
}

void host_free(void* ptr, std::size_t bytes) {
  std::free(ptr);
  host_counters().allocated.fetch_sub(static_cast<std::int64_t>(bytes));
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
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceState& s = state(device);
    // No device holds 2^62 bytes; refusing here keeps the rounding and the
    // size + size / 4 below from overflowing.
    if (bytes > (std::size_t{1} << 62)) fail_oom(s, bytes, device);
    std::size_t size = round(bytes);
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
      if (states_[d].free_blocks.empty()) continue;
      int previous = 0;
      cudaGetDevice(&previous);
      cudaSetDevice(static_cast<int>(d));
      release_cached(states_[d]);
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
  // Returns every cached, unused block of the current device (s) to the
  // driver, after the device has finished the work queued on any stream (a
  // freed block may still be read by queued kernels).
  static void release_cached(DeviceState& s) {
    (void)cudaDeviceSynchronize();
    for (auto& [size, ptr] : s.free_blocks) {
      cudaFree(ptr);
      s.stats.reserved -= static_cast<std::int64_t>(size);
    }
    s.free_blocks.clear();
    (void)cudaGetLastError();  // a failure here must not surface at the next launch
  }
  void* driver_malloc(DeviceState& s, std::size_t size, int device) {
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {  // as PyTorch: free the cache and try once more
      (void)cudaGetLastError();
      release_cached(s);
      err = cudaMalloc(&ptr, size);
    }
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      if (err == cudaErrorMemoryAllocation) fail_oom(s, size, device);
      fail("CUDA error in cudaMalloc of {} on cuda:{}: {}", format_memory_size(
               static_cast<std::int64_t>(size)), device, cudaGetErrorString(err));
    }
    s.stats.reserved += static_cast<std::int64_t>(size);
    s.stats.driver_allocations += 1;
    return ptr;
  }
  // PyTorch's message, with loom's totals and the driver's view of the device.
  [[noreturn]] static void fail_oom(const DeviceState& s, std::size_t size, int device) {
    std::size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) (void)cudaGetLastError();
    fail("CUDA out of memory. Tried to allocate {} (cuda:{}; {} total capacity; {} already "
         "allocated by loom; {} reserved by loom; {} free)",
         format_memory_size(static_cast<std::int64_t>(
             std::min<std::size_t>(size, std::numeric_limits<std::int64_t>::max()))),
         device, format_memory_size(static_cast<std::int64_t>(total)),
         format_memory_size(s.stats.allocated), format_memory_size(s.stats.reserved),
         format_memory_size(static_cast<std::int64_t>(free)));
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

// Fills a block just handed out with 0xFF bytes, queued on the main loom
// stream of the current device (`device`), where its earlier uses were queued
// and its next ones will be (allocator.h). Not while that stream is being
// captured into a CUDA graph (the fill would become part of the graph). On
// failure the block goes back to the cache and the error is thrown.
void poison_cuda_block(void* ptr, std::size_t bytes, int device) {
  cudaStream_t main = kernels::cuda::main_stream();
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  cudaError_t err = cudaStreamIsCapturing(main, &capturing);
  if (err == cudaSuccess && capturing == cudaStreamCaptureStatusNone)
    err = cudaMemsetAsync(ptr, 0xFF, bytes, main);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    cuda_allocator().free(ptr, device);
    kernels::cuda::fail_call("CUDA", "cudaMemsetAsync(ptr, 0xFF, bytes, main) (memory poisoning)",
                             cudaGetErrorString(err), __FILE__, __LINE__);
  }
}
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
  const bool poison = poisoning_on();  // first: a bad LOOM_POISON_MEMORY throws before allocating
  DeviceGuard guard(device.index);
  void* ptr = cuda_allocator().allocate(bytes, device.index);
  if (poison && bytes > 0) poison_cuda_block(ptr, bytes, device.index);
  return ptr;
#else
  no_cuda();
#endif
}

void device_free(void* ptr, std::size_t bytes, Device device) {
  if (ptr == nullptr) return;
  if (device.is_cpu()) {
    host_free(ptr, bytes);
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

CudaDeviceMemory cuda_device_memory(int index) {
#if defined(LOOM_WITH_CUDA)
  LOOM_CHECK(index >= 0 && index < cuda_device_count(), "CUDA device cuda:{} is not available ({} device(s))",
             index, cuda_device_count());
  DeviceGuard guard(index);
  std::size_t free = 0, total = 0;
  LOOM_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return {static_cast<std::int64_t>(free), static_cast<std::int64_t>(total)};
#else
  (void)index;
  return {};
#endif
}

void set_memory_poisoning(bool enabled) { poisoning_switch().store(enabled); }
bool memory_poisoning() { return poisoning_on(); }

HostMemoryStats host_memory_stats() {
  const HostCounters& c = host_counters();
  return {c.allocated.load(), c.max_allocated.load(), c.allocations.load()};
}

void host_reset_peak_memory_stats() {
  HostCounters& c = host_counters();
  c.max_allocated.store(c.allocated.load());
}

std::int64_t host_memory_limit() {
  static const std::int64_t limit = [] {
#if defined(__linux__)
    struct sysinfo info {};
    if (sysinfo(&info) == 0) {
      const unsigned __int128 total =
          (static_cast<unsigned __int128>(info.totalram) + info.totalswap) * info.mem_unit;
      if (total > 0 && total < static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(total);
    }
#endif
    return std::numeric_limits<std::int64_t>::max();  // unknown: malloc decides
  }();
  return limit;
}

std::string format_memory_size(std::int64_t bytes) {
  constexpr double kKiB = 1024.0, kMiB = kKiB * 1024, kGiB = kMiB * 1024;
  const double b = static_cast<double>(bytes);
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  if (b < kMiB) return fmt::format("{:.2f} KiB", b / kKiB);
  if (b < kGiB) return fmt::format("{:.2f} MiB", b / kMiB);
  return fmt::format("{:.2f} GiB", b / kGiB);
}

}  // namespace loom
