// Seed files for loom-fuzz-readers: small, valid inputs of each reader,
// written by loom's own writers so that the harness needs nothing on disk.
#pragma once

#include <string>
#include <vector>

namespace loom::fuzz {

// The readers the harness feeds (see readers.h).
enum class Reader { Checkpoint, Tensors, Reference };
inline constexpr Reader kAllReaders[] = {Reader::Checkpoint, Reader::Tensors, Reader::Reference};

// "checkpoint", "tensors", "reference".
const char* reader_name(Reader r);
// The inverse of reader_name; throws loom::Error for another name.
Reader reader_from_name(const std::string& name);

// Writes the built-in seed files of `reader` into folder `dir` (which must
// exist) and returns their paths:
//   checkpoint  an LSTM(3, 5) + Linear(5, 2) state_dict after two Adam steps
//               (amsgrad state) with a CosineAnnealingLR schedule, step 2 and
//               one metadata entry (nn::save_checkpoint)
//   tensors     float32, float64, int64, bool, scalar, empty and nested-group
//               tensors (save_tensors)
//   reference   two rnn-reference-case/1 files: an LSTM with h0/c0 (batched)
//               and a packed bidirectional GRU, whose expected values are
//               loom's own outputs (the harness checks refusal, not accuracy)
std::vector<std::string> write_seeds(Reader reader, const std::string& dir);

}  // namespace loom::fuzz
