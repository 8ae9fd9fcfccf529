// Tests for core/crc32.h against the CRC-32 standard's check value and
// values of Python's zlib.crc32 (an independent implementation).
#include "core/crc32.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string_view>
#include <vector>

namespace loom {
namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

TEST(Crc32, MatchesTheStandardCheckValueAndZlib) {
  EXPECT_EQ(crc32(bytes_of("123456789")), 0xCBF43926u);  // the catalogued check value
  EXPECT_EQ(crc32(bytes_of("")), 0u);
  // /usr/bin/python3 -c 'import zlib; print(hex(zlib.crc32(bytes(64))), hex(zlib.crc32(b"loom")))'
  EXPECT_EQ(crc32(std::vector<std::byte>(64)), 0x758d6336u);
  EXPECT_EQ(crc32(bytes_of("loom")), 0xc2597137u);
}

TEST(Crc32, LongAndUnalignedInputsMatchZlib) {
  // /usr/bin/python3 -c 'import zlib; b = bytes((i * 31 + 7) % 256 for i in range(1001));
  //                      print(hex(zlib.crc32(b)), hex(zlib.crc32(b[3:])))'
  std::vector<std::byte> b(1001);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>((i * 31 + 7) % 256);
  EXPECT_EQ(crc32(b), 0xa58cdd0du);
  EXPECT_EQ(crc32(std::span<const std::byte>(b).subspan(3)), 0x8b30c392u);
}

TEST(Crc32, PiecesGiveTheWholesCrc) {
  std::vector<std::byte> all = bytes_of("the quick brown fox jumps over the lazy dog");
  std::span<const std::byte> s(all);
  EXPECT_EQ(crc32(s.subspan(10), crc32(s.first(10))), crc32(s));
}

}  // namespace
}  // namespace loom
