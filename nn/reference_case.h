// Runs a PyTorch reference case for RNN/LSTM/GRU (the `rnn-reference-case/1`
// HDF5 layout of ../shared/FIXTURES.md) through loom and measures how far
// every output and gradient is from PyTorch's.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace loom::nn {

struct ReferenceTolerance {
  double rtol = 1e-9;   // FIXTURES.md: float64 1e-9 / 1e-11, float32 1e-4 / 1e-5
  double atol = 1e-11;
  // The suggested tolerance for a dtype.
  static ReferenceTolerance for_dtype(DType dtype);
};

// One compared quantity ("output", "h_n", "grad/input", "grad/params/weight_ih_l0", ...).
struct ReferenceQuantity {
  std::string name;
  double max_abs_error = 0;  // worst |loom - pytorch|
  double worst_ratio = 0;    // worst |a - e| / (atol + rtol |e|): <= 1 passes
  bool ok = true;
};

struct ReferenceCaseReport {
  std::string path;
  std::string summary;  // e.g. "LSTM in=3 hid=4 layers=2 bidir packed h0"
  std::vector<ReferenceQuantity> quantities;
  bool ok = true;       // every quantity within tolerance
};

// Loads the case at `path`, builds the module it describes in eval mode with
// the stored parameters, runs forward and then backward with the stored
// upstream gradients, in `dtype` on `device`, and compares everything the
// file holds. Throws loom::Error naming `path` when the file is not a valid
// reference case (wrong format tag, missing or mis-shaped datasets, unknown
// mode or layout, sizes that disagree with the stored parameters, inputs the
// layer refuses) or is damaged; sizes are checked against the stored
// parameters before the module is allocated.
ReferenceCaseReport run_reference_case(const std::string& path, Device device, DType dtype,
                                       ReferenceTolerance tolerance);

}  // namespace loom::nn
