// One layer-direction of nn::LSTM / nn::GRU over packed time-major rows,
// composed of loom's differentiable operations step by step: the plain cells,
// or the layer-norm cells of nn/research_cells.h, with zoneout as in
// kernels/rnn.h. The composed twin of the fused layer: the tests run both on
// the same inputs (nn::LSTM/GRU run every variant, layer norm included,
// through the fused kernels). Its layer norms come from `ln`; the ln_*
// members of FusedRnnLayerInputs are not read here.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/rnn.h"
#include "nn/fused_rnn.h"

namespace loom::nn {

// The layer norms of one layer-direction: gain and bias of each (the c pair
// only for LSTM), and eps. ih_weight undefined: no layer norms (plain cell).
struct RnnLayerNormParams {
  Tensor ih_weight, ih_bias;  // (G)
  Tensor hh_weight, hh_bias;  // (G)
  Tensor c_weight, c_bias;    // (H) LSTM
  double eps = 1e-5;
};

// Runs `in` (x [R, C], h0 [N, H], c0 [N, H] LSTM, w_ih, w_hh (possibly a
// weight-dropped temporary), b_ih/b_hh or undefined, zoneout probabilities and
// masks [R, H] or undefined (the expectation)) with the layer norms `ln`
// (plain cells when ln.ih_weight is undefined), mode Lstm or Gru, steps as
// kernels/rnn.h (packed: rows past a sequence's end keep their state;
// reverse: from the last step). Returns y [R, H], h_n, c_n (the same contract
// as fused_rnn_layer); differentiable in every input. Throws loom::Error for
// another mode or w_hr (projection).
FusedRnnLayerOutputs composed_rnn_layer(kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                        bool reverse, const FusedRnnLayerInputs& in, const RnnLayerNormParams& ln);

}  // namespace loom::nn
