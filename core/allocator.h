// Device memory: host allocations, and a caching allocator for CUDA that keeps
// freed blocks for reuse so that steady-state training performs no
// cudaMalloc/cudaFree. Statistics mirror torch.cuda.memory_allocated and friends.
//
// Out of memory is a loom::Error, never std::bad_alloc or a crash, and leaves
// the allocator usable (statistics consistent, later allocations work):
// - CUDA: a failed cudaMalloc frees every cached, unused block of that device
//   (as torch.cuda.empty_cache) and retries once, as PyTorch's allocator does;
//   if that fails too: "CUDA out of memory. Tried to allocate 4.00 GiB (cuda:0;
//   139.72 GiB total capacity; 1.20 GiB already allocated by loom; 1.50 GiB
//   reserved by loom; 0.50 GiB free)".
// - host: a request larger than the machine's physical memory plus swap
//   (host_memory_limit()) is refused before malloc is asked, so the answer does
//   not depend on Linux's overcommit setting (overcommit_memory = 1 would grant
//   it and the process would be killed later, touching the pages); a request
//   malloc refuses is refused the same way: "CPU out of memory. Tried to
//   allocate ...".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/device.h"

namespace loom {

// Allocates `bytes` on `device` (64-byte aligned on the host). Never returns
// null; throws loom::Error when memory is exhausted (see above).
void* device_allocate(std::size_t bytes, Device device);
// Returns memory obtained from device_allocate; `bytes` must be the size it
// was asked for (the host statistics count it).
void device_free(void* ptr, std::size_t bytes, Device device);

// Memory poisoning, a debugging aid (off by default): while it is on, every
// block device_allocate hands out, new or reused, on the host or on a CUDA
// device, is first filled with 0xFF bytes, which is NaN in float32, float64,
// bfloat16 and float16 (and -1 in the integer types). A kernel that reads an
// element before anything wrote it then reads NaN instead of whatever the
// block held before (which, for a repeated workload, is often the right value
// from the previous run), so its results turn NaN or change bits. On CUDA the
// fill is a cudaMemsetAsync on the device's main loom stream, queued before
// the caller can use the block (blocks handed to side-stream work are
// allocated before its fork: kernels/cuda/context.h); it is skipped while that
// stream is being captured into a CUDA graph (loom allocates nothing then).
// The initial setting is the environment variable LOOM_POISON_MEMORY ("1" =
// on; unset, "" or "0" = off; anything else is refused with a loom::Error at
// the first allocation or call of the two functions below).
// When off, an allocation pays one relaxed atomic load.
void set_memory_poisoning(bool enabled);
// Whether memory poisoning is on now.
bool memory_poisoning();

// Host allocation statistics, in bytes as requested (before the 64-byte
// rounding), over every device_allocate on the CPU (all tensor storage).
struct HostMemoryStats {
  std::int64_t allocated = 0;      // live host allocations
  std::int64_t max_allocated = 0;  // peak of `allocated` since the last reset
  std::int64_t allocations = 0;    // successful host allocations made so far
};
HostMemoryStats host_memory_stats();
// Resets max_allocated to the current allocation.
void host_reset_peak_memory_stats();
// The largest host request loom passes to malloc: the machine's physical
// memory plus swap (Linux sysinfo), read once.
std::int64_t host_memory_limit();

// A byte count as PyTorch's out-of-memory messages print it: "512 bytes",
// "1.50 KiB", "20.00 MiB", "4.00 GiB" (GiB is the largest unit).
std::string format_memory_size(std::int64_t bytes);

// Copies `bytes` between any two devices (host <-> CUDA, CUDA <-> CUDA, host <->
// host). Copies to the host wait for the copy to finish.
void device_memcpy(void* dst, Device dst_device, const void* src, Device src_device,
                   std::size_t bytes);

// CUDA caching-allocator statistics for one device, in bytes.
struct CudaMemoryStats {
  std::int64_t allocated = 0;      // in live tensors (torch.cuda.memory_allocated)
  std::int64_t max_allocated = 0;  // peak of `allocated` since the last reset
  std::int64_t reserved = 0;       // held from the driver, cached blocks included
  std::int64_t driver_allocations = 0;  // cudaMalloc calls made so far
};
// Statistics for CUDA device `index` (all zero without CUDA).
CudaMemoryStats cuda_memory_stats(int index = 0);
// Resets max_allocated to the current allocation.
void cuda_reset_peak_memory_stats(int index = 0);
// Returns every cached, unused block to the driver.
void cuda_empty_cache();
// Free and total memory of CUDA device `index` as the driver reports them
// (cudaMemGetInfo); {0, 0} without CUDA.
struct CudaDeviceMemory {
  std::int64_t free = 0;
  std::int64_t total = 0;
};
CudaDeviceMemory cuda_device_memory(int index = 0);

}  // namespace loom
