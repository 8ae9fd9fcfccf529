// The CUDA random fills against the CPU reference: equal bit for bit, for float and
// double, over odd lengths and offsets that carry across the counter's 32-bit words.
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/random.h"
#include "testing.h"

#if defined(LOOM_WITH_CUDA)
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/context.h"
#endif

namespace loom::kernels {
namespace {

#if defined(LOOM_WITH_CUDA)

constexpr index_t kLengths[] = {1, 3, 17, 129, 100003};

// A device array of n elements, freed on scope exit.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(index_t n) : n_(n) {
    LOOM_CUDA_CHECK(cudaMalloc(&data_, sizeof(T) * static_cast<std::size_t>(n > 0 ? n : 1)));
  }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() { return data_; }
  // Waits for loom's stream, then copies the array to the host.
  std::vector<T> to_host() {
    cuda::synchronize();
    std::vector<T> host(static_cast<std::size_t>(n_));
    LOOM_CUDA_CHECK(cudaMemcpy(host.data(), data_, sizeof(T) * host.size(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* data_ = nullptr;
  index_t n_;
};

// Expects identical bit patterns; reports the first difference and the count.
template <typename T>
void expect_bitwise_equal(const std::vector<T>& cuda_values, const std::vector<T>& cpu_values,
                          const std::string& what) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  ASSERT_EQ(cuda_values.size(), cpu_values.size()) << what;
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < cpu_values.size(); ++i) {
    if (std::bit_cast<Bits>(cuda_values[i]) != std::bit_cast<Bits>(cpu_values[i])) {
      if (bad++ == 0) first = i;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " elements differ; first at " << first
                     << ": cuda " << cuda_values[first] << " cpu " << cpu_values[first];
}

struct Stream {
  std::uint64_t seed, offset;
};
// A small offset, one whose counters carry from word 0 into word 1, and one that
// wraps the 64-bit counter.
constexpr Stream kStreams[] = {
    {0, 0}, {0x0123456789abcdefull, 0xfffffff0ull}, {67280421310721ull, ~0ull - 3}};

template <typename T, typename CpuFill, typename CudaFill>
void compare(const char* name, CpuFill cpu_fill, CudaFill cuda_fill) {
  for (const Stream& s : kStreams) {
    for (index_t n : kLengths) {
      std::vector<T> expected(static_cast<std::size_t>(n));
      cpu_fill(n, s.seed, s.offset, expected.data());
      DeviceArray<T> device(n);
      cuda_fill(n, s.seed, s.offset, device.data());
      expect_bitwise_equal(device.to_host(), expected,
                           std::string(name) + (sizeof(T) == 4 ? "<float>" : "<double>") +
                               " n=" + std::to_string(n) + " seed=" + std::to_string(s.seed) +
                               " offset=" + std::to_string(s.offset));
    }
  }
}

template <typename T>
void compare_uniform() {
  compare<T>(
      "fill_uniform",
      [](index_t n, std::uint64_t seed, std::uint64_t offset, T* out) {
        fill_uniform_cpu<T>(n, seed, offset, T(-0.75), T(1.25), out);
      },
      [](index_t n, std::uint64_t seed, std::uint64_t offset, T* out) {
        fill_uniform_cuda<T>(n, seed, offset, T(-0.75), T(1.25), out);
      });
}

template <typename T>
void compare_normal() {
  compare<T>(
      "fill_normal",
      [](index_t n, std::uint64_t seed, std::uint64_t offset, T* out) {
        fill_normal_cpu<T>(n, seed, offset, T(0.5), T(1.7), out);
      },
      [](index_t n, std::uint64_t seed, std::uint64_t offset, T* out) {
        fill_normal_cuda<T>(n, seed, offset, T(0.5), T(1.7), out);
      });
}

template <typename T>
void compare_dropout(T p) {
  compare<T>(
      "fill_dropout_mask",
      [p](index_t n, std::uint64_t seed, std::uint64_t offset, T* out) {
        fill_dropout_mask_cpu<T>(n, seed, offset, p, out);
      },
      [p](index_t n, std::uint64_t seed, std::uint64_t offset, T* out) {
        fill_dropout_mask_cuda<T>(n, seed, offset, p, out);
      });
}

#endif  // LOOM_WITH_CUDA

TEST(RandomCuda, UniformFloatMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
#if defined(LOOM_WITH_CUDA)
  compare_uniform<float>();
#endif
}

TEST(RandomCuda, UniformDoubleMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
#if defined(LOOM_WITH_CUDA)
  compare_uniform<double>();
#endif
}

TEST(RandomCuda, NormalFloatMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
#if defined(LOOM_WITH_CUDA)
  compare_normal<float>();
#endif
}

TEST(RandomCuda, NormalDoubleMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
#if defined(LOOM_WITH_CUDA)
  compare_normal<double>();
#endif
}

TEST(RandomCuda, DropoutMaskFloatMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
#if defined(LOOM_WITH_CUDA)
  for (float p : {0.f, 0.2f, 0.5f, 1.f}) compare_dropout<float>(p);
#endif
}

TEST(RandomCuda, DropoutMaskDoubleMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
#if defined(LOOM_WITH_CUDA)
  for (double p : {0.0, 0.2, 0.5, 1.0}) compare_dropout<double>(p);
#endif
}

TEST(RandomCuda, EmptyFillAndBadArguments) {
  LOOM_SKIP_WITHOUT_CUDA();
#if defined(LOOM_WITH_CUDA)
  fill_uniform_cuda<float>(0, 1, 2, 0.f, 1.f, nullptr);  // launches nothing
  fill_normal_cuda<double>(0, 1, 2, 0.0, 1.0, nullptr);
  EXPECT_THROW(fill_dropout_mask_cuda<float>(4, 0, 0, 1.5f, nullptr), Error);
  EXPECT_THROW(fill_normal_cuda<float>(4, 0, 0, 0.f, -1.f, nullptr), Error);
  EXPECT_THROW(fill_uniform_cuda<double>(4, 0, 0, 1.0, 0.0, nullptr), Error);
  EXPECT_THROW(fill_uniform_cuda<double>(-1, 0, 0, 0.0, 1.0, nullptr), Error);
  cuda::synchronize();
#endif
}

}  // namespace
}  // namespace loom::kernels
