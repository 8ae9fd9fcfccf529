// Where a tensor's storage lives: the host (CPU) or one CUDA device.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace loom {

enum class DeviceType : std::uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // the CUDA ordinal; 0 for the CPU

  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}
  // Parses "cpu", "cuda" or "cuda:N"; throws loom::Error otherwise.
  explicit Device(std::string_view spec);

  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  friend constexpr bool operator==(const Device&, const Device&) = default;
  // "cpu" or "cuda:N".
  std::string str() const;
};

inline constexpr Device kCPU{DeviceType::CPU, 0};
inline constexpr Device kCUDA{DeviceType::CUDA, 0};

// True when loom was compiled with its CUDA backend.
bool cuda_compiled();
// True when the CUDA backend is compiled and at least one device is usable.
bool cuda_available();
// Number of usable CUDA devices (0 without a driver or a GPU).
int cuda_device_count();

}  // namespace loom

template <>
struct fmt::formatter<loom::Device> : fmt::formatter<std::string_view> {
  auto format(const loom::Device& d, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(d.str(), ctx);
  }
};
