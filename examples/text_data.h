// Character-level text for the examples: reading a file, a vocabulary of the
// characters it holds, a train/validation split, the batches of truncated
// backpropagation through time, and the unigram baseline.
//
// Batches follow the classic language-model layout: the token sequence is cut
// into `batch` equally long contiguous streams (column n of every batch comes
// from stream n), and chunk k of an epoch holds steps [k * bptt, (k + 1) * bptt)
// of every stream. A model that carries its recurrent state from chunk k to
// chunk k + 1 therefore continues each stream where it left off.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace loom::examples {

// The whole file at `path` as bytes. Throws loom::Error naming the path when it
// cannot be read or is empty.
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LOOM_CHECK(in.good(), "cannot open the text file '{}' (give another with --data PATH)", path);
  std::ostringstream text;
  text << in.rdbuf();
  LOOM_CHECK(!in.bad(), "cannot read the text file '{}'", path);
  LOOM_CHECK(!text.str().empty(), "the text file '{}' is empty", path);
  return text.str();
}

// The distinct bytes of a text, in byte order, and the index of each.
class CharVocab {
 public:
  explicit CharVocab(const std::string& text) {
    std::array<bool, 256> seen{};
    for (unsigned char c : text) seen[c] = true;
    index_.fill(-1);
    for (int c = 0; c < 256; ++c)
      if (seen[c]) {
        index_[c] = static_cast<std::int64_t>(chars_.size());
        chars_.push_back(static_cast<char>(c));
      }
  }

  // Number of distinct characters.
  std::int64_t size() const { return static_cast<std::int64_t>(chars_.size()); }
  // The index of every character of `text`; throws loom::Error for a
  // character outside the vocabulary.
  std::vector<std::int64_t> encode(const std::string& text) const {
    std::vector<std::int64_t> ids;
    ids.reserve(text.size());
    for (unsigned char c : text) {
      LOOM_CHECK(index_[c] >= 0, "the character {:?} (byte {}) is not in the vocabulary", static_cast<char>(c),
                 static_cast<int>(c));
      ids.push_back(index_[c]);
    }
    return ids;
  }
  // True when `c` occurs in the vocabulary.
  bool contains(char c) const { return index_[static_cast<unsigned char>(c)] >= 0; }
  // The character with index `id` (0 <= id < size()).
  char decode(std::int64_t id) const { return chars_.at(static_cast<std::size_t>(id)); }
  // All characters in index order.
  const std::string& chars() const { return chars_; }

 private:
  std::string chars_;
  std::array<std::int64_t, 256> index_;
};

// A 32-bit FNV-1a hash of a text (identifies the data a checkpoint was trained on).
inline std::uint32_t fnv1a32(const std::string& text) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// The cross-entropy, in nats per character, of `eval` under the unigram
// distribution of `train` over `vocab_size` symbols with add-one smoothing:
// the loss of the best model that ignores context (what a character LM must beat).
inline double unigram_cross_entropy(const std::vector<std::int64_t>& train, const std::vector<std::int64_t>& eval,
                                    std::int64_t vocab_size) {
  std::vector<double> counts(static_cast<std::size_t>(vocab_size), 1.0);
  for (std::int64_t id : train) counts[static_cast<std::size_t>(id)] += 1;
  const double total = static_cast<double>(train.size()) + static_cast<double>(vocab_size);
  double nats = 0;
  for (std::int64_t id : eval) nats -= std::log(counts[static_cast<std::size_t>(id)] / total);
  return eval.empty() ? 0.0 : nats / static_cast<double>(eval.size());
}

// The chunks of truncated BPTT over one token sequence (see the top of this file).
class TbpttBatches {
 public:
  // tokens: at least batch + 1 of them; batch, bptt >= 1. Each of the `batch`
  // streams has stream_length() = (tokens - 1) / batch input positions (the
  // remainder at the end is dropped); the targets are the inputs shifted by one.
  TbpttBatches(std::vector<std::int64_t> tokens, std::int64_t batch, std::int64_t bptt)
      : tokens_(std::move(tokens)), batch_(batch), bptt_(bptt) {
    LOOM_CHECK(batch >= 1 && bptt >= 1, "TbpttBatches: batch and bptt must be positive, got {} and {}", batch, bptt);
    stream_length_ = (static_cast<std::int64_t>(tokens_.size()) - 1) / batch;
    LOOM_CHECK(stream_length_ >= 1, "a text of {} characters is too short for {} streams", tokens_.size(), batch);
  }

  std::int64_t batch() const { return batch_; }
  std::int64_t stream_length() const { return stream_length_; }
  // Chunks per pass over the streams; the last may be shorter than bptt.
  std::int64_t chunks_per_epoch() const { return (stream_length_ + bptt_ - 1) / bptt_; }
  // Input positions per epoch (batch * stream_length).
  std::int64_t tokens_per_epoch() const { return batch_ * stream_length_; }

  // Chunk k (0 <= k < chunks_per_epoch()): (inputs, targets), both Int64
  // (T, batch) with T = min(bptt, stream_length - k * bptt), on `device`.
  std::pair<Tensor, Tensor> chunk(std::int64_t k, Device device) const {
    LOOM_CHECK(k >= 0 && k < chunks_per_epoch(), "chunk {} out of range [0, {})", k, chunks_per_epoch());
    const std::int64_t start = k * bptt_, T = std::min(bptt_, stream_length_ - start);
    std::vector<std::int64_t> inputs(static_cast<std::size_t>(T * batch_)), targets(inputs.size());
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t n = 0; n < batch_; ++n) {
        const std::size_t at = static_cast<std::size_t>(n * stream_length_ + start + t);
        inputs[static_cast<std::size_t>(t * batch_ + n)] = tokens_[at];
        targets[static_cast<std::size_t>(t * batch_ + n)] = tokens_[at + 1];
      }
    return {tensor_int64(inputs, {T, batch_}, device), tensor_int64(targets, {T, batch_}, device)};
  }

 private:
  std::vector<std::int64_t> tokens_;
  std::int64_t batch_, bptt_, stream_length_ = 0;
};

}  // namespace loom::examples
