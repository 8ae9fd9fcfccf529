// examples/text_data.h and examples/progress_bar.h (the char_lstm example's
// helpers): the truncated-BPTT batch layout, the unigram baseline, the
// vocabulary and the duration format. Expected values are worked out by hand
// in the comments.
#include <cmath>

#include "examples/progress_bar.h"
#include "examples/text_data.h"
#include "testing.h"

namespace loom::examples {
namespace {

// Tokens 0, 1, ..., n - 1: every element then names its own position.
std::vector<std::int64_t> iota_tokens(std::int64_t n) {
  std::vector<std::int64_t> t(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = i;
  return t;
}

TEST(TbpttBatches, StreamsAreContiguousAndChunksContinueThem) {
  // 24 tokens, 3 streams: stream length (24 - 1) / 3 = 7, streams start at 0,
  // 7, 14; bptt 3 gives chunks of 3, 3 and 1 steps.
  TbpttBatches b(iota_tokens(24), 3, 3);
  EXPECT_EQ(b.stream_length(), 7);
  EXPECT_EQ(b.chunks_per_epoch(), 3);
  EXPECT_EQ(b.tokens_per_epoch(), 21);
  auto [x0, y0] = b.chunk(0, kCPU);
  EXPECT_EQ(x0.shape(), (Shape{3, 3}));
  EXPECT_EQ(x0.dtype(), kInt64);
  // Row t, column n: stream n's step t = token 7 n + t; targets one further.
  EXPECT_EQ(x0.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 7, 14, 1, 8, 15, 2, 9, 16}));
  EXPECT_EQ(y0.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 8, 15, 2, 9, 16, 3, 10, 17}));
  auto [x1, y1] = b.chunk(1, kCPU);
  EXPECT_EQ(x1.to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, 10, 17, 4, 11, 18, 5, 12, 19}));
  // The last chunk is one step long; its targets reach the last used token, 21.
  auto [x2, y2] = b.chunk(2, kCPU);
  EXPECT_EQ(x2.shape(), (Shape{1, 3}));
  EXPECT_EQ(x2.to_vector<std::int64_t>(), (std::vector<std::int64_t>{6, 13, 20}));
  EXPECT_EQ(y2.to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, 14, 21}));
}

TEST(TbpttBatches, Errors) {
  EXPECT_ERROR_TEXT(TbpttBatches(iota_tokens(3), 3, 2), "a text of 3 characters is too short for 3 streams");
  EXPECT_ERROR_TEXT(TbpttBatches(iota_tokens(10), 0, 2), "TbpttBatches: batch and bptt must be positive, got 0 and 2");
  TbpttBatches b(iota_tokens(10), 3, 2);  // stream length 3: chunks 0 and 1
  EXPECT_ERROR_TEXT(b.chunk(2, kCPU), "chunk 2 out of range [0, 2)");
}

TEST(UnigramCrossEntropy, AddOneSmoothedFrequencies) {
  // Train {0, 0, 1} over 3 symbols: add-one counts 3, 2, 1 of 6, so the
  // probabilities of 0, 1, 2 are 1/2, 1/3, 1/6.
  const double expected = -(std::log(0.5) + std::log(1.0 / 3) + std::log(1.0 / 6)) / 3;
  EXPECT_NEAR(unigram_cross_entropy({0, 0, 1}, {0, 1, 2}, 3), expected, 1e-15);
  // Uniform over 4 symbols (every count equal): log 4.
  EXPECT_NEAR(unigram_cross_entropy({0, 1, 2, 3}, {3, 3, 0}, 4), std::log(4.0), 1e-15);
}

TEST(CharVocab, SortedBytesEncodeAndDecode) {
  CharVocab v("banana!");
  EXPECT_EQ(v.chars(), "!abn");
  EXPECT_EQ(v.size(), 4);
  EXPECT_EQ(v.encode("nab!"), (std::vector<std::int64_t>{3, 1, 2, 0}));
  EXPECT_EQ(v.decode(2), 'b');
  EXPECT_TRUE(v.contains('a'));
  EXPECT_FALSE(v.contains('z'));
  EXPECT_ERROR_TEXT(v.encode("bz"), "the character 'z' (byte 122) is not in the vocabulary");
}

TEST(FormatDuration, MinutesAndHours) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65.4), "1:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
}

}  // namespace
}  // namespace loom::examples
