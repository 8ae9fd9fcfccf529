// The fused recurrent layer as ONE autograd node per layer and direction.
//
// Forward runs kernels::rnn_layer_forward_{cpu,cuda} (one input-projection GEMM
// for all steps, then per step a recurrent GEMM and a fused pointwise kernel)
// and keeps the kernels' reserve space; backward runs backpropagation through
// time with kernels::rnn_layer_backward_{cpu,cuda}. nn::RNN, nn::LSTM and
// nn::GRU stack these nodes into layers and directions.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "kernels/rnn.h"

namespace loom::nn {

// One layer in one direction over a packed time-major input.
struct FusedRnnLayerInputs {
  Tensor x;       // [R, C] packed rows (step t's rows follow step t-1's)
  Tensor h0;      // [N, P] initial hidden state
  Tensor c0;      // [N, H] LSTM initial cell state (undefined otherwise)
  Tensor w_ih;    // [G, C]
  Tensor w_hh;    // [G, P]
  Tensor b_ih;    // [G] or undefined (bias=false)
  Tensor b_hh;    // [G] or undefined
  Tensor w_hr;    // [P, H] LSTM projection or undefined
};

struct FusedRnnLayerOutputs {
  Tensor y;    // [R, P]
  Tensor h_n;  // [N, P]
  Tensor c_n;  // [N, H] LSTM only
};

// Runs one layer-direction. `batch_sizes` has one entry per step
// (non-increasing, batch_sizes[0] == N). All tensors share x's dtype and
// device. Differentiable in every defined input when grad mode is on.
FusedRnnLayerOutputs fused_rnn_layer(kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                     bool reverse, const FusedRnnLayerInputs& in);

}  // namespace loom::nn
