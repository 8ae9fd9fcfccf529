// A device array for the CUDA kernel tests: a copy of a host vector, or `n`
// elements filled with 0xFF bytes (NaN in float, double, bfloat16 and
// float16, so an output the kernel never wrote shows), freed on scope exit.
// CUDA builds only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "kernels/cuda/context.h"

namespace loom::testing {

template <typename T>
struct DeviceArray {
  T* ptr = nullptr;
  std::size_t n = 0;
  explicit DeviceArray(std::size_t count) : n(count) {
    if (n) LOOM_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(T)));
    if (n) LOOM_CUDA_CHECK(cudaMemset(ptr, 0xFF, n * sizeof(T)));
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    if (n) LOOM_CUDA_CHECK(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cudaFree(ptr); }
  // The elements, copied to the host.
  std::vector<T> download() const {
    std::vector<T> host(n);
    if (n) LOOM_CUDA_CHECK(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

}  // namespace loom::testing
