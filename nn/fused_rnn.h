// The fused recurrent layer as autograd nodes: ONE node per layer and
// direction (fused_rnn_layer), or one node for both directions of a
// bidirectional layer (fused_rnn_bidirectional_layer on CUDA), so that the two
// directions can run at the same time on two CUDA streams, forward and backward.
//
// Forward runs kernels::rnn_layer_forward_{cpu,cuda} (one input-projection GEMM
// for all steps, then per step a recurrent GEMM and a fused pointwise kernel)
// and keeps the kernels' reserve space; backward runs backpropagation through
// time with kernels::rnn_layer_backward_{cpu,cuda}. nn::RNN, nn::LSTM and
// nn::GRU stack these nodes into layers and directions.
#pragma once

#include <array>
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
  // Zoneout (kernels/rnn.h, RnnLayerShape::zoneout_h): probabilities (0: off)
  // and, in training, the masks (1 = keep the previous value; exactly 0 or 1,
  // x's dtype and device, not differentiated). Undefined masks with a
  // probability > 0 give the expectation (eval).
  double zoneout_h = 0, zoneout_c = 0;
  Tensor zoneout_h_mask;  // [R, P]
  Tensor zoneout_c_mask;  // [R, H] LSTM
  // Layer norm (kernels/rnn.h, RnnLayerShape::layer_norm; LSTM and GRU, no
  // projection): gains and biases, all undefined for none; the c pair for
  // LSTM only. Differentiated like the weights.
  Tensor ln_ih_w, ln_ih_b;  // [G]
  Tensor ln_hh_w, ln_hh_b;  // [G]
  Tensor ln_c_w, ln_c_b;    // [H] LSTM
  double layer_norm_eps = 1e-5;
};

struct FusedRnnLayerOutputs {
  Tensor y;    // [R, P]
  Tensor h_n;  // [N, P]
  Tensor c_n;  // [N, H] LSTM only
};

// Runs one layer-direction. `batch_sizes` has one entry per step
// (non-increasing, batch_sizes[0] == N). All tensors share x's dtype and
// device. Differentiable in every defined input when grad mode is on, twice
// (create_graph through the node's backward runs the composed backward of
// nn/rnn_double_backward.h, layer norms and zoneout included).
FusedRnnLayerOutputs fused_rnn_layer(kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                     bool reverse, const FusedRnnLayerInputs& in);

// Both directions of one bidirectional layer: element 0 is the forward
// direction over `forward`, element 1 the reverse direction over `reverse`,
// each exactly what fused_rnn_layer(mode, batch_sizes, false/true, ...) returns,
// bit for bit. On CUDA with direction overlap on (the default) this is
// fused_rnn_bidirectional_layer_joint: the two directions run concurrently.
// Otherwise (CPU, or overlap off) it is the two fused_rnn_layer calls, one
// autograd node each: the CPU path is unchanged.
std::array<FusedRnnLayerOutputs, 2> fused_rnn_bidirectional_layer(
    kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
    const FusedRnnLayerInputs& forward, const FusedRnnLayerInputs& reverse);

// The joint path itself, on any device: ONE autograd node for both
// directions. On CUDA the reverse direction's forward and backward run on
// side stream 1 (kernels/cuda/context.h) while the forward direction runs on
// the main stream: every buffer either direction touches is allocated before
// the fork and released after the join, and the directions write disjoint
// buffers, so results equal the two-node path bit for bit (the gradient of an
// input shared by both directions, such as x, is the sum of the two
// directions' gradients, added by the engine as with two nodes; IEEE addition
// of two terms is commutative). On the CPU the directions run one after the
// other. Exposed so that the joint node can be tested on any machine.
std::array<FusedRnnLayerOutputs, 2> fused_rnn_bidirectional_layer_joint(
    kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
    const FusedRnnLayerInputs& forward, const FusedRnnLayerInputs& reverse);

// Whether fused_rnn_bidirectional_layer overlaps the two directions on CUDA
// (process-wide, default true). Deterministic mode does not turn it off: the
// overlap cannot change results (see fused_rnn_bidirectional_layer_joint).
void set_rnn_direction_overlap(bool enabled);
bool rnn_direction_overlap();

}  // namespace loom::nn
