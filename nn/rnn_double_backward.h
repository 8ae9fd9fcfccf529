// The differentiable backward of one fused recurrent layer-direction, for
// double backward (autograd::grad(..., create_graph = true) through
// nn::RNN / LSTM / GRU).
//
// The fused node's usual backward runs the BPTT kernels, whose result is a
// plain tensor with no history. When the engine builds a graph (grad mode on
// during backward), the node calls this instead: it re-runs the recorded layer
// from the node's inputs as composed differentiable ops (matmul, sigmoid,
// tanh, mul, cat, ...; the math of nn/cells.cc), then writes backpropagation
// through time by hand with the same ops, using those re-computed values. The
// gradients it returns are therefore differentiable functions of the inputs,
// the initial states, the weights and the incoming gradients, on any device
// and dtype the ops support.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/rnn.h"
#include "nn/fused_rnn.h"

namespace loom::nn {

// Gradients of one layer-direction, differentiable. `in` holds the layer's
// inputs (x [R, C], h0 [N, P], c0 [N, H] for LSTM, w_ih [G, C], w_hh [G, P],
// b_ih/b_hh [G] or undefined, w_hr [P, H] or undefined) carrying the history
// the gradients should be differentiable along; `grads` are the gradients of
// y [R, P], h_n [N, P] and (LSTM) c_n [N, H]; `wants[i]` says whether input i
// (order x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr) needs its gradient. Returns
// eight gradients in that order, undefined where not wanted or where the
// input is undefined. Same semantics as the fused kernels (packed rows,
// `batch_sizes` non-increasing, `reverse` walks the steps backwards).
std::vector<Tensor> rnn_layer_backward_composed(kernels::RnnMode mode,
                                                const std::vector<std::int64_t>& batch_sizes,
                                                bool reverse, const FusedRnnLayerInputs& in,
                                                const std::array<Tensor, 3>& grads,
                                                const std::array<bool, 8>& wants);

}  // namespace loom::nn
