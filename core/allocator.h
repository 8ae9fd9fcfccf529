// Device memory: host allocations, and a caching allocator for CUDA that keeps
// freed blocks for reuse so that steady-state training performs no
// cudaMalloc/cudaFree. Statistics mirror torch.cuda.memory_allocated and friends.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/device.h"

namespace loom {

// Allocates `bytes` on `device` (64-byte aligned on the host). Never returns
// null for bytes > 0; throws loom::Error when memory is exhausted.
void* device_allocate(std::size_t bytes, Device device);
// Returns memory obtained from device_allocate.
void device_free(void* ptr, std::size_t bytes, Device device);

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

}  // namespace loom
