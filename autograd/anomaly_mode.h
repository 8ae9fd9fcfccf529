// Anomaly detection for the backward pass, as torch.autograd.detect_anomaly.
//
// While anomaly mode is on:
// - every autograd node created records where it was created: a C++
//   backtrace of the creating call (raw return addresses, symbolised only if
//   an error is reported) and the names of the AnomalyContext scopes open on
//   the creating thread. Its name, sequence number and the shapes, dtypes and
//   devices of its inputs are on the node already;
// - backward checks every gradient a node computes for an input that needs
//   one, and throws loom::Error when it holds a NaN or an infinity:
//
//     Function 'LogBackward' returned nan values in its 0th output.
//     Error detected in LogBackward (sequence number 12), created by the forward call:
//       inputs: [0] [3] float32 cpu
//       context: model > loss
//       backtrace (most recent call first):
//         #0 loom::log(loom::Tensor const&) (libloom.so+0x1a2b3)
//         ...
//
//   The first line is PyTorch's ("MulBackward0" there is "MulBackward" in
//   loom). PyTorch 1.13 checks NaN only; loom also reports +-inf ("returned
//   inf values"), because the issue asks for both and an infinite gradient
//   makes the next optimizer step produce NaN. Nodes created while the mode
//   was off carry no record; their error says so, in PyTorch's words.
//
// Cost when off: one relaxed atomic load per node created and one per
// backward call; nothing is recorded or checked. When on, each node costs a
// backtrace() (a few microseconds) and each gradient a copy to the host:
// for debugging, as in PyTorch.
//
// Symbols: frames are named with dladdr() and __cxa_demangle, which see only
// dynamic symbols: functions in shared libraries, and in an executable linked
// with -rdynamic (CMake: ENABLE_EXPORTS ON; loom_tests is). Other frames show
// as "binary+0xOFFSET", which `addr2line -C -f -e binary 0xOFFSET` names.
// AnomalyContext scopes name what the program was doing independently of
// symbols.
//
// Threads: the switch is one process-wide flag, thread-safe in the same way
// as loom::set_deterministic (core/determinism.h): an atomic, read by every
// thread; like PyTorch 1.13's AnomalyMode it is not per thread. Guards used
// on several threads at once restore in whatever order they end, so turn the
// mode on around the whole program, or from one thread. AnomalyContext scopes
// are per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace loom {
class Node;
}

namespace loom::autograd {

// Turns anomaly mode on or off for the whole process (every thread).
void set_detect_anomaly(bool enabled);

// True when anomaly mode is on (false until set_detect_anomaly(true) or a guard).
bool is_anomaly_enabled();

// Turns anomaly mode on for its scope and puts back the previous state (on
// or off) when it ends, so guards nest. torch.autograd.detect_anomaly.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard();
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

// PyTorch's spelling: `autograd::detect_anomaly guard;`.
using detect_anomaly = DetectAnomalyGuard;

// Names what the current thread is doing ("epoch 3", "decoder step 7") for
// the nodes created inside its scope while anomaly mode is on; scopes nest
// and are joined with " > " in the report. When anomaly mode is off at
// construction the scope does nothing (and costs one atomic load).
class AnomalyContext {
 public:
  explicit AnomalyContext(std::string name);
  ~AnomalyContext();
  AnomalyContext(const AnomalyContext&) = delete;
  AnomalyContext& operator=(const AnomalyContext&) = delete;

 private:
  bool pushed_;
};

// The names of the AnomalyContext scopes open on this thread, outermost
// first, joined with " > " ("" when none).
std::string current_anomaly_context();

// What a node records at creation while anomaly mode is on.
struct AnomalyMetadata {
  std::vector<void*> frames;  // return addresses, innermost first, recording frames dropped
  std::string context;        // current_anomaly_context() at creation
};

// Records the calling thread's backtrace and context (called by Node's constructor).
std::shared_ptr<const AnomalyMetadata> capture_anomaly_metadata();

// The backtrace as lines "#i function (module+0xoffset)", demangled where a
// symbol is known, one per frame.
std::vector<std::string> symbolize(const std::vector<void*>& frames);

// The report's part after PyTorch's first line: the node's name, sequence
// number, inputs and where it was created (or PyTorch's "No forward pass
// information available..." when it carries no record).
std::string describe_creation(const Node& node);

// Throws loom::Error, PyTorch's line "Function 'X' returned nan values in its
// ith output." (or "inf values") followed by a count and describe_creation(),
// when a floating gradient in `grads` that goes somewhere (node.next_edges[i]
// has a node) holds a NaN or an infinity; NaN is named when both occur.
// Copies each such gradient to the host.
void check_gradients_finite(const Node& node, const std::vector<Tensor>& grads);

}  // namespace loom::autograd
