#include "core/device.h"

#include <charconv>

#if defined(LOOM_WITH_CUDA)
#include <cuda_runtime.h>
#endif

namespace loom {

Device::Device(std::string_view spec) {
  if (spec == "cpu") {
    type = DeviceType::CPU;
    index = 0;
    return;
  }
  if (spec.substr(0, 4) == "cuda") {
    type = DeviceType::CUDA;
    index = 0;
    if (spec.size() == 4) return;
    if (spec[4] == ':') {
      auto rest = spec.substr(5);
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
      if (ec == std::errc() && p == rest.data() + rest.size() && index >= 0) return;
    }
  }
  fail("Expected one of cpu, cuda device type at start of device string: {}", spec);
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", index);
}

bool cuda_compiled() {
#if defined(LOOM_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#if defined(LOOM_WITH_CUDA)
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the sticky "no driver" error
      return 0;
    }
    return n;
  }();
  return count;
#else
  return 0;
#endif
}

bool cuda_available() { return cuda_device_count() > 0; }

}  // namespace loom
