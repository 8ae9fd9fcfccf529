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
  // When > 0 (the bfloat16/float16 default), rtol and atol are both set per
  // case to per_rounding * T * num_layers, T the sequence length: see
  // for_dtype and README "Recurrent layers in bfloat16 and float16".
  double per_rounding = 0;
  // When true, each quantity's atol is multiplied by max(1, max|expected|)
  // of that quantity (stated, never silent: loom-rnn-check --scale-atol). For
  // float32 weight gradients that are sums with cancellation: a small element
  // carries the rounding of the large ones (docs/variant-cases.md).
  bool scale_atol = false;
  // The suggested tolerance for a dtype. float64/float32: FIXTURES.md's fixed
  // values. bfloat16/float16 (unit roundoff u = 2^-8 / 2^-11): per_rounding =
  // 2u, i.e. rtol = atol = 2u * T * num_layers. The low-precision layer rounds
  // every step's hidden state (and its gradient) once, and T * num_layers is
  // the longest chain of such roundings a value can depend on (bidirectional
  // layers stacked); the factor 2 covers the backward pass retracing it.
  static ReferenceTolerance for_dtype(DType dtype);
  // The tolerance used for a case of sequence length T with num_layers layers.
  ReferenceTolerance for_case(std::int64_t T, std::int64_t num_layers) const;
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
  ReferenceTolerance tolerance;  // the one applied (for_case of the one asked for)
  std::string summary;  // e.g. "LSTM in=3 hid=4 layers=2 bidir packed h0"
  std::vector<ReferenceQuantity> quantities;
  bool ok = true;       // every quantity within tolerance
};

// Loads the case at `path`, builds the module it describes in eval mode with
// the stored parameters, runs forward and then backward with the stored
// upstream gradients, in `dtype` on `device` (bfloat16/float16: parameters,
// input, initial states and upstream gradients are rounded to that type), and compares everything the
// file holds. Throws loom::Error naming `path` when the file is not a valid
// reference case (wrong format tag, missing or mis-shaped datasets, unknown
// mode or layout, sizes that disagree with the stored parameters, inputs the
// layer refuses) or is damaged; sizes are checked against the stored
// parameters before the module is allocated.
ReferenceCaseReport run_reference_case(const std::string& path, Device device, DType dtype,
                                       ReferenceTolerance tolerance);

}  // namespace loom::nn
