// Word-level text for examples/word_lm: cutting a text into word tokens, a
// vocabulary with <unk> for rare words, the contiguous train/valid/test split,
// the streams read by variable-length backpropagation through time, and its
// plan of sequence lengths.
//
// The tokenizer's rule (tokenize_words):
//   - the text is lowercased (ASCII letters only; other bytes are kept as they are);
//   - a word is a maximal run of letters, with every apostrophe that follows a
//     letter of it joined ("pharaoh's", "moses'");
//   - every other byte that is not white space (. , : ; ? ! ( ) - ' ...) is a
//     token of its own;
//   - each line ends with the token "<eos>" (as in the Penn Treebank and
//     WikiText files AWD-LSTM trains on); empty lines give none.
//
// Streams follow examples/text_data.h's layout: the token sequence is cut into
// `batch` equally long contiguous streams (column n of every span comes from
// stream n) and the targets are the inputs shifted by one token.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace loom::examples {

inline const char* const kUnknownWord = "<unk>";
inline const char* const kEndOfLine = "<eos>";

// The tokens of `text` by the rule at the top of this file.
inline std::vector<std::string> tokenize_words(const std::string& text) {
  std::vector<std::string> tokens;
  std::string word;
  bool line_has_tokens = false;
  auto end_word = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter || (c == '\'' && !word.empty())) {
      word += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      line_has_tokens = true;
      continue;
    }
    end_word();
    if (c == '\n') {
      if (line_has_tokens) tokens.emplace_back(kEndOfLine);
      line_has_tokens = false;
    } else if (!(c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f')) {
      tokens.emplace_back(1, ch);
      line_has_tokens = true;
    }
  }
  end_word();
  if (line_has_tokens) tokens.emplace_back(kEndOfLine);  // a last line without '\n'
  return tokens;
}

// A word vocabulary: id 0 is <unk>, then every token that occurs at least
// `min_count` times in the tokens it is built from, by falling count (ties in
// byte order). <eos> is an ordinary token of the text. Words it does not hold
// encode as <unk>.
class WordVocab {
 public:
  // min_count >= 1 (1 keeps every word). Throws loom::Error otherwise.
  WordVocab(const std::vector<std::string>& tokens, std::int64_t min_count) {
    LOOM_CHECK(min_count >= 1, "WordVocab: min_count must be at least 1, got {}", min_count);
    std::map<std::string, std::int64_t> counts;
    for (const std::string& t : tokens) ++counts[t];
    std::vector<std::pair<std::string, std::int64_t>> kept;
    for (const auto& [word, count] : counts)
      if (count >= min_count && word != kUnknownWord) kept.emplace_back(word, count);
    std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    words_.emplace_back(kUnknownWord);
    for (const auto& [word, count] : kept) words_.push_back(word);
    for (std::size_t i = 0; i < words_.size(); ++i) index_[words_[i]] = static_cast<std::int64_t>(i);
  }

  // Number of ids, <unk> included.
  std::int64_t size() const { return static_cast<std::int64_t>(words_.size()); }
  // The id of `word`, 0 (<unk>) for a word outside the vocabulary.
  std::int64_t id(const std::string& word) const {
    auto it = index_.find(word);
    return it == index_.end() ? 0 : it->second;
  }
  // The ids of `tokens`, and (when `unknown` is given) how many became <unk>.
  std::vector<std::int64_t> encode(const std::vector<std::string>& tokens, std::int64_t* unknown = nullptr) const {
    std::vector<std::int64_t> ids;
    ids.reserve(tokens.size());
    std::int64_t unk = 0;
    for (const std::string& t : tokens) {
      ids.push_back(id(t));
      unk += ids.back() == 0 ? 1 : 0;
    }
    if (unknown != nullptr) *unknown = unk;
    return ids;
  }
  // The word with id `id` (0 <= id < size()).
  const std::string& word(std::int64_t id) const { return words_.at(static_cast<std::size_t>(id)); }

 private:
  std::vector<std::string> words_;
  std::map<std::string, std::int64_t> index_;
};

// Three contiguous blocks of a token sequence, in order.
struct TextSplit {
  std::vector<std::string> train, valid, test;
};

// The first `train_fraction` of `tokens` for training, the next
// `valid_fraction` for validation, the rest for testing (sizes rounded to the
// nearest token). Throws loom::Error unless both fractions are positive with a
// sum below 1 and every block gets at least `min_tokens` tokens.
inline TextSplit split_contiguous(const std::vector<std::string>& tokens, double train_fraction,
                                  double valid_fraction, std::int64_t min_tokens) {
  LOOM_CHECK(train_fraction > 0 && valid_fraction > 0 && train_fraction + valid_fraction < 1,
             "the train and validation fractions must be positive with a sum below 1, got {} and {}",
             train_fraction, valid_fraction);
  const double n = static_cast<double>(tokens.size());
  const auto n_train = static_cast<std::int64_t>(std::llround(n * train_fraction));
  const auto n_valid = static_cast<std::int64_t>(std::llround(n * valid_fraction));
  const std::int64_t n_test = static_cast<std::int64_t>(tokens.size()) - n_train - n_valid;
  LOOM_CHECK(std::min({n_train, n_valid, n_test}) >= min_tokens,
             "{} tokens split {:.2f}/{:.2f}/{:.2f} give {}/{}/{} tokens: each part needs at least {}", tokens.size(),
             train_fraction, valid_fraction, 1 - train_fraction - valid_fraction, n_train, n_valid, n_test,
             min_tokens);
  TextSplit s;
  s.train.assign(tokens.begin(), tokens.begin() + n_train);
  s.valid.assign(tokens.begin() + n_train, tokens.begin() + n_train + n_valid);
  s.test.assign(tokens.begin() + n_train + n_valid, tokens.end());
  return s;
}

// A token sequence read as `batch` parallel streams (see the top of this file):
// stream n covers positions [n L, (n + 1) L) of the sequence with
// L = stream_length() = (tokens - 1) / batch; the target of position i is
// token i + 1.
class WordStreams {
 public:
  // tokens: at least batch + 1 of them; batch >= 1. Throws loom::Error otherwise.
  WordStreams(std::vector<std::int64_t> tokens, std::int64_t batch) : tokens_(std::move(tokens)), batch_(batch) {
    LOOM_CHECK(batch >= 1, "WordStreams: batch must be positive, got {}", batch);
    stream_length_ = (static_cast<std::int64_t>(tokens_.size()) - 1) / batch;
    LOOM_CHECK(stream_length_ >= 1, "{} tokens are too few for {} streams", tokens_.size(), batch);
  }

  std::int64_t batch() const { return batch_; }
  std::int64_t stream_length() const { return stream_length_; }
  // Positions with a target per pass (batch * stream_length()).
  std::int64_t tokens_per_pass() const { return batch_ * stream_length_; }

  // Steps [start, start + length) of every stream: (inputs, targets), both
  // Int64 (length, batch) on `device`. Throws loom::Error unless
  // 0 <= start, 1 <= length and start + length <= stream_length().
  std::pair<Tensor, Tensor> span(std::int64_t start, std::int64_t length, Device device) const {
    LOOM_CHECK(start >= 0 && length >= 1 && start + length <= stream_length_,
               "span [{}, {}) is not inside the streams' {} steps", start, start + length, stream_length_);
    std::vector<std::int64_t> inputs(static_cast<std::size_t>(length * batch_)), targets(inputs.size());
    for (std::int64_t t = 0; t < length; ++t)
      for (std::int64_t n = 0; n < batch_; ++n) {
        const auto at = static_cast<std::size_t>(n * stream_length_ + start + t);
        inputs[static_cast<std::size_t>(t * batch_ + n)] = tokens_[at];
        targets[static_cast<std::size_t>(t * batch_ + n)] = tokens_[at + 1];
      }
    return {tensor_int64(inputs, {length, batch_}, device), tensor_int64(targets, {length, batch_}, device)};
  }

 private:
  std::vector<std::int64_t> tokens_;
  std::int64_t batch_, stream_length_ = 0;
};

// One training step's slice of the streams.
struct BpttSpan {
  std::int64_t start, length;
};

// AWD-LSTM's variable-length BPTT (Merity et al. 2017, section 4.1) for one
// pass over streams of `stream_length` steps: from step 0, each span's
// nominal length is `bptt` with probability 0.95 and bptt / 2 otherwise; its
// length is max(min(5, bptt), floor(N(nominal, 5^2))) cut to the steps left.
// The spans tile [0, stream_length) in order. Throws loom::Error unless
// stream_length, bptt >= 1.
inline std::vector<BpttSpan> variable_bptt_plan(std::int64_t stream_length, std::int64_t bptt, std::mt19937_64& rng) {
  LOOM_CHECK(stream_length >= 1 && bptt >= 1, "variable_bptt_plan: stream length and bptt must be positive, got {} and {}",
             stream_length, bptt);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<BpttSpan> plan;
  for (std::int64_t start = 0; start < stream_length;) {
    const double nominal = coin(rng) < 0.95 ? static_cast<double>(bptt) : static_cast<double>(bptt) / 2;
    const double drawn = std::floor(std::normal_distribution<double>(nominal, 5.0)(rng));
    const std::int64_t shortest = std::min<std::int64_t>(5, bptt);
    std::int64_t length = std::max<std::int64_t>(shortest, static_cast<std::int64_t>(std::max(drawn, 0.0)));
    length = std::min(length, stream_length - start);
    plan.push_back({start, length});
    start += length;
  }
  return plan;
}

// Fixed-length spans of `bptt` steps tiling [0, stream_length) (the last may
// be shorter): how validation and test text is read.
inline std::vector<BpttSpan> fixed_bptt_plan(std::int64_t stream_length, std::int64_t bptt) {
  LOOM_CHECK(stream_length >= 1 && bptt >= 1, "fixed_bptt_plan: stream length and bptt must be positive, got {} and {}",
             stream_length, bptt);
  std::vector<BpttSpan> plan;
  for (std::int64_t start = 0; start < stream_length; start += bptt)
    plan.push_back({start, std::min(bptt, stream_length - start)});
  return plan;
}

}  // namespace loom::examples
