// examples/word_data.h and examples/nt_asgd.h (the word_lm example's helpers):
// the tokenizer's rule, the vocabulary's order and <unk>, the contiguous split,
// the stream layout, the BPTT plans and the NT-ASGD trigger. Expected values
// are worked out by hand in the comments.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "examples/nt_asgd.h"
#include "examples/word_data.h"
#include "testing.h"

namespace loom::examples {
namespace {

using Words = std::vector<std::string>;
using ::loom::testing::expect_error_containing;

TEST(TokenizeWords, LowercasesSplitsPunctuationAndEndsLines) {
  // Letters with apostrophes after a letter are one word; every other
  // non-space byte is a token; "<eos>" after each non-empty line, also the
  // last one without '\n'; the empty line gives nothing.
  const std::string text = "In the beginning, God's\nAnd (he) said: Moses' rod-ward!\n\n  'tis LAST";
  EXPECT_EQ(tokenize_words(text),
            (Words{"in", "the", "beginning", ",", "god's", "<eos>", "and", "(", "he", ")", "said", ":", "moses'",
                   "rod", "-", "ward", "!", "<eos>", "'", "tis", "last", "<eos>"}));
  EXPECT_EQ(tokenize_words(""), Words{});
  EXPECT_EQ(tokenize_words("\n \n"), Words{});
  EXPECT_EQ(tokenize_words("a\r\nb"), (Words{"a", "<eos>", "b", "<eos>"}));
}

TEST(WordVocab, UnknownFirstThenByCountThenByteOrder) {
  // Counts: c 3, b 2, a 1, d 1. min_count 2 keeps c and b: ids <unk> 0, c 1, b 2.
  const WordVocab v(Words{"b", "a", "b", "c", "c", "c", "d"}, 2);
  EXPECT_EQ(v.size(), 3);
  EXPECT_EQ(v.word(0), "<unk>");
  EXPECT_EQ(v.word(1), "c");
  EXPECT_EQ(v.word(2), "b");
  std::int64_t unknown = -1;
  EXPECT_EQ(v.encode(Words{"a", "b", "c", "zebra"}, &unknown), (std::vector<std::int64_t>{0, 2, 1, 0}));
  EXPECT_EQ(unknown, 2);
  // Equal counts: byte order ("<eos>" < "x" < "y").
  const WordVocab ties(Words{"y", "x", "y", "x", "<eos>", "<eos>"}, 1);
  EXPECT_EQ(ties.size(), 4);
  EXPECT_EQ(ties.word(1), "<eos>");
  EXPECT_EQ(ties.word(2), "x");
  EXPECT_EQ(ties.word(3), "y");
  expect_error_containing([&] { (void)WordVocab(Words{"a"}, 0); }, "min_count must be at least 1, got 0");
}

TEST(SplitContiguous, BlocksInOrder) {
  Words t;
  for (int i = 0; i < 10; ++i) t.push_back(std::to_string(i));
  // 10 tokens at 0.8 / 0.1: 8, 1 and the remaining 1.
  const TextSplit s = split_contiguous(t, 0.8, 0.1, 1);
  EXPECT_EQ(s.train, (Words{"0", "1", "2", "3", "4", "5", "6", "7"}));
  EXPECT_EQ(s.valid, Words{"8"});
  EXPECT_EQ(s.test, Words{"9"});
  expect_error_containing([&] { (void)split_contiguous(t, 0.8, 0.1, 2); },
                          "give 8/1/1 tokens: each part needs at least 2");
  expect_error_containing([&] { (void)split_contiguous(t, 0.9, 0.1, 1); }, "positive with a sum below 1");
  expect_error_containing([&] { (void)split_contiguous(t, 0.0, 0.1, 1); }, "positive with a sum below 1");
}

TEST(WordStreams, SpansReadEveryStreamAndTargetsAreOneFurther) {
  // Tokens 0..23, 3 streams of (24 - 1) / 3 = 7 steps, starting at 0, 7, 14.
  std::vector<std::int64_t> tokens(24);
  for (std::int64_t i = 0; i < 24; ++i) tokens[static_cast<std::size_t>(i)] = i;
  const WordStreams w(tokens, 3);
  EXPECT_EQ(w.stream_length(), 7);
  EXPECT_EQ(w.tokens_per_pass(), 21);
  // Steps 2..4: row t, column n = token 7 n + 2 + t.
  auto [x, y] = w.span(2, 3, kCPU);
  EXPECT_EQ(x.shape(), (Shape{3, 3}));
  EXPECT_EQ(x.to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 9, 16, 3, 10, 17, 4, 11, 18}));
  EXPECT_EQ(y.to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, 10, 17, 4, 11, 18, 5, 12, 19}));
  // The last step's targets reach token 21.
  auto [x6, y6] = w.span(6, 1, kCPU);
  EXPECT_EQ(y6.to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, 14, 21}));
  expect_error_containing([&] { (void)w.span(5, 3, kCPU); },
                          "span [5, 8) is not inside the streams' 7 steps");
  expect_error_containing([&] { (void)w.span(0, 0, kCPU); }, "is not inside");
  expect_error_containing([&] { (void)WordStreams(std::vector<std::int64_t>{1, 2}, 2); },
                          "2 tokens are too few for 2 streams");
}

TEST(BpttPlan, FixedSpansTileTheStreams) {
  const auto plan = fixed_bptt_plan(10, 4);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].start, 0);
  EXPECT_EQ(plan[0].length, 4);
  EXPECT_EQ(plan[1].start, 4);
  EXPECT_EQ(plan[2].start, 8);
  EXPECT_EQ(plan[2].length, 2);
}

TEST(BpttPlan, VariableSpansTileTheStreamsWithAwdLengths) {
  std::mt19937_64 rng(7);
  const std::int64_t L = 200000, bptt = 35;
  const auto plan = variable_bptt_plan(L, bptt, rng);
  std::int64_t next = 0;
  double sum = 0;
  std::int64_t half = 0;  // spans whose nominal length was surely bptt / 2: at most 17.5 + 3.5 sigma
  for (std::size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(plan[i].start, next);
    if (i + 1 < plan.size()) EXPECT_GE(plan[i].length, 5);
    next += plan[i].length;
    sum += static_cast<double>(plan[i].length);
    half += plan[i].length <= 17 ? 1 : 0;
  }
  EXPECT_EQ(next, L);
  // Mean of floor(N(m, 25)) with m = 35 (p 0.95) or 17.5 (p 0.05):
  // 0.95 * 35 + 0.05 * 17.5 - 0.5 = 33.625; over ~6000 spans its standard
  // error is about 0.1 (sd of a length about 6.3).
  const double mean = sum / static_cast<double>(plan.size());
  EXPECT_NEAR(mean, 33.625, 0.4);
  // Lengths <= 17: half-length spans below their mean (0.05 * 0.46) plus full
  // ones 3.6 sigma down (negligible): about 2.3% of ~6000 spans, 138 +- 12.
  EXPECT_GT(half, 90);
  EXPECT_LT(half, 190);
  // The same seed gives the same plan.
  std::mt19937_64 again(7);
  const auto replay = variable_bptt_plan(L, bptt, again);
  ASSERT_EQ(replay.size(), plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) EXPECT_EQ(replay[i].length, plan[i].length);
  // A short bptt: spans are at least bptt long only where the draw allows; never < min(5, bptt) = 2.
  std::mt19937_64 r2(1);
  for (const BpttSpan& s : variable_bptt_plan(1000, 2, r2))
    if (s.start + s.length < 1000) EXPECT_GE(s.length, 2);
  expect_error_containing([&] { (void)variable_bptt_plan(0, 35, rng); },
                          "stream length and bptt must be positive");
}

TEST(NtAsgdTrigger, WorseThanTheBestBeforeTheLastNonmono) {
  // nonmono 2: needs 3 earlier losses; compares with the min of all but the last 2.
  EXPECT_FALSE(nt_asgd_triggered({5.0, 4.0}, 9.0, 2));        // too few evaluations
  EXPECT_TRUE(nt_asgd_triggered({5.0, 4.0, 3.0}, 5.5, 2));     // min(5.0) = 5.0 < 5.5
  EXPECT_FALSE(nt_asgd_triggered({5.0, 4.0, 3.0}, 5.0, 2));    // equal is not worse
  EXPECT_FALSE(nt_asgd_triggered({5.0, 4.0, 3.0}, 4.5, 2));    // still better than 5.0
  EXPECT_TRUE(nt_asgd_triggered({5.0, 4.0, 3.0, 3.5}, 4.5, 2)); // min(5.0, 4.0) = 4.0 < 4.5
  // The last nonmono losses do not count: a low one among them does not trigger.
  EXPECT_FALSE(nt_asgd_triggered({5.0, 4.0, 3.0, 1.0}, 3.9, 2));
  expect_error_containing([&] { (void)nt_asgd_triggered({1.0}, 1.0, 0); },
                          "nonmono must be at least 1, got 0");
}

}  // namespace
}  // namespace loom::examples
