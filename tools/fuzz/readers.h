// The readers loom-fuzz-readers feeds, and how an input's outcome is judged.
#pragma once

#include <string>

#include "tools/fuzz/seeds.h"

namespace loom::fuzz {

// What happened to one input.
enum class Verdict {
  Accepted,    // the reader succeeded
  Refused,     // loom::Error naming the file: the wanted refusal
  Unnamed,     // loom::Error whose message does not name the file (a defect)
  WrongType,   // an exception other than loom::Error escaped (a defect)
  Leaked,      // HDF5 objects or file descriptors were left open afterwards (a defect)
};

struct Outcome {
  Verdict verdict = Verdict::Accepted;
  std::string message;  // the error's text, or what leaked
};

// "accepted", "refused", ... for reports.
const char* verdict_name(Verdict v);
// True for Accepted and Refused.
bool is_pass(Verdict v);

// Feeds `path` to `reader` as a user's program would and judges the result:
//   checkpoint  nn::load_checkpoint, then nn::restore into the seed's network,
//               Adam and schedule, then one training step (errors after the
//               load must be loom::Error; only the load knows the file name)
//   tensors     load_tensors, then every value is read back as a double
//   reference   nn::run_reference_case on the CPU in float64 (what
//               loom-rnn-check runs per file); a FAIL report is "accepted"
// Never throws; also checks that no HDF5 object and no file descriptor stays
// open afterwards.
Outcome run_reader(Reader reader, const std::string& path);

}  // namespace loom::fuzz
