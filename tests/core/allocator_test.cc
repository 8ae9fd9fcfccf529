// Host allocation alignment and copies; the CUDA caching allocator's statistics
// and its reuse of cached blocks (skipped without a GPU).
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/allocator.h"
#include "core/native.h"
#include "core/tensor.h"
#include "testing.h"

namespace loom {
namespace {

TEST(Allocator, HostAllocationsAre64ByteAligned) {
  for (std::size_t bytes : {1u, 3u, 63u, 64u, 65u, 1000u, 4096u, 100003u}) {
    void* p = device_allocate(bytes, kCPU);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u) << bytes << " bytes";
    std::memset(p, 0xAB, bytes);  // the whole request is writable
    device_free(p, bytes, kCPU);
  }
  for (std::int64_t n : {1, 7, 129}) {
    Tensor t = empty({n}, kFloat32);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data_ptr()) % 64, 0u);
  }
}

TEST(Allocator, HostMemcpy) {
  std::vector<std::int32_t> src = {1, 2, 3, 4, 5}, dst(5, 0);
  device_memcpy(dst.data(), kCPU, src.data(), kCPU, 5 * sizeof(std::int32_t));
  EXPECT_EQ(dst, src);
}

TEST(Allocator, CudaStatsAreZeroWithoutCuda) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present: covered by the CUDA tests";
  CudaMemoryStats s = cuda_memory_stats();
  EXPECT_EQ(s.allocated, 0);
  EXPECT_EQ(s.max_allocated, 0);
  EXPECT_EQ(s.reserved, 0);
  EXPECT_EQ(s.driver_allocations, 0);
}

TEST(AllocatorCuda, StatsFollowAllocationsAndPeak) {
  LOOM_SKIP_WITHOUT_CUDA();
  const CudaMemoryStats before = cuda_memory_stats();
  cuda_reset_peak_memory_stats();
  std::int64_t block = 0;
  {
    Tensor a = empty({1000}, TensorOptions(kFloat32).device(kCUDA));  // 4000 bytes -> 4096
    const CudaMemoryStats with_a = cuda_memory_stats();
    block = with_a.allocated - before.allocated;
    EXPECT_GE(block, 4000);
    EXPECT_LT(block, 4000 + 1024);
    {
      Tensor b = empty({1000}, TensorOptions(kFloat32).device(kCUDA));
      EXPECT_EQ(cuda_memory_stats().allocated, with_a.allocated + block);
    }
    EXPECT_EQ(cuda_memory_stats().allocated, with_a.allocated);  // b returned
    EXPECT_EQ(cuda_memory_stats().max_allocated, with_a.allocated + block);  // peak kept
    EXPECT_GE(cuda_memory_stats().reserved, cuda_memory_stats().allocated);
  }
  EXPECT_EQ(cuda_memory_stats().allocated, before.allocated);
  cuda_reset_peak_memory_stats();
  EXPECT_EQ(cuda_memory_stats().max_allocated, before.allocated);
}

TEST(AllocatorCuda, SteadyStateReusesCachedBlocks) {
  LOOM_SKIP_WITHOUT_CUDA();
  auto step = [] {
    // A small "training step": a few temporaries of assorted sizes, all freed.
    Tensor x = native::ones({17, 129}, TensorOptions(kFloat32).device(kCUDA));
    Tensor y = native::binary(native::BinaryOp::Mul, x, x);
    Tensor z = native::sum(y, {0});
    Tensor w = native::zeros({3, 5, 7}, TensorOptions(kFloat64).device(kCUDA));
    return z.to_vector<float>()[0] + static_cast<float>(w.numel());
  };
  step();  // warm the cache
  const std::int64_t driver = cuda_memory_stats().driver_allocations;
  const std::int64_t reserved = cuda_memory_stats().reserved;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(step(), 17.0f + 105.0f);
  EXPECT_EQ(cuda_memory_stats().driver_allocations, driver) << "steady state called cudaMalloc";
  EXPECT_EQ(cuda_memory_stats().reserved, reserved);
  cuda_empty_cache();
  EXPECT_LE(cuda_memory_stats().reserved, reserved);
  EXPECT_EQ(cuda_memory_stats().reserved - cuda_memory_stats().allocated, 0)
      << "empty_cache returns every unused block";
}

TEST(AllocatorCuda, CopiesRoundTripThroughTheDevice) {
  LOOM_SKIP_WITHOUT_CUDA();
  std::vector<double> host = {1.5, -2.25, 3.0, 1e300}, back(4, 0.0);
  void* d = device_allocate(4 * sizeof(double), kCUDA);
  device_memcpy(d, kCUDA, host.data(), kCPU, 4 * sizeof(double));
  void* d2 = device_allocate(4 * sizeof(double), kCUDA);
  device_memcpy(d2, kCUDA, d, kCUDA, 4 * sizeof(double));
  device_memcpy(back.data(), kCPU, d2, kCUDA, 4 * sizeof(double));
  EXPECT_EQ(back, host);
  device_free(d, 4 * sizeof(double), kCUDA);
  device_free(d2, 4 * sizeof(double), kCUDA);
}

}  // namespace
}  // namespace loom
