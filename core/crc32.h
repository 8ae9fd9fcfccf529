// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320: the CRC of zlib's
// crc32(), Python's zlib.crc32 and PNG), for checking stored bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace loom {

// The CRC-32 of `bytes`, continuing from `crc` (0 to start; pass a previous
// result to checksum data in pieces). crc32 of the ASCII bytes "123456789" is
// 0xCBF43926.
std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc = 0);

}  // namespace loom
