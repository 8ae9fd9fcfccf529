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
// and dtype the ops support. Zoneout (masks as constants, or the expectation
// in eval) and the layer norms of the LN variant (their backward written out
// with the same ops) are part of the re-run and of the hand-written BPTT.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/rnn.h"
#include "nn/fused_rnn.h"
#include "nn/rnn_composed_layer.h"

namespace loom::nn {

// Gradients of one layer-direction, differentiable, with the layer norms of
// nn/rnn_composed_layer.h. `in` holds the layer's inputs (x [R, C], h0 [N, P],
// c0 [N, H] for LSTM, w_ih [G, C], w_hh [G, P], b_ih/b_hh [G] or undefined,
// w_hr [P, H] or undefined) carrying the history the gradients should be
// differentiable along, and its zoneout (probabilities; masks [R, P] / [R, H]
// in training, constants, or undefined for the expectation, as the fused
// kernels); `ln` the layer norms (ln.ih_weight undefined: none; their six
// tensors may carry history too; Lstm and Gru only, not with w_hr); `grads`
// are the gradients of y [R, P], h_n [N, P] and (LSTM) c_n [N, H]; `wants[i]`
// (14 entries) says whether input i needs its gradient, in the order x, h0,
// c0, w_ih, w_hh, b_ih, b_hh, w_hr, ln.ih_weight, ln.ih_bias, ln.hh_weight,
// ln.hh_bias, ln.c_weight, ln.c_bias. Returns fourteen gradients in that
// order, undefined where not wanted or where the input is undefined. Same
// semantics as the fused kernels and composed_rnn_layer (packed rows,
// `batch_sizes` non-increasing, `reverse` walks the steps backwards; zoneout
// h_t = m h_{t-1} + (1 - m) h~_t, c likewise, h~ from the un-zoned c~).
// Throws loom::Error for layer norms with another mode or with w_hr, or a
// `wants` without 14 entries.
std::vector<Tensor> rnn_layer_backward_composed(kernels::RnnMode mode,
                                                const std::vector<std::int64_t>& batch_sizes,
                                                bool reverse, const FusedRnnLayerInputs& in,
                                                const RnnLayerNormParams& ln,
                                                const std::array<Tensor, 3>& grads,
                                                const std::vector<bool>& wants);

// The same without layer norms: `wants` and the result cover the first eight
// inputs (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr). The fused node's backward
// when a graph must be built.
std::vector<Tensor> rnn_layer_backward_composed(kernels::RnnMode mode,
                                                const std::vector<std::int64_t>& batch_sizes,
                                                bool reverse, const FusedRnnLayerInputs& in,
                                                const std::array<Tensor, 3>& grads,
                                                const std::array<bool, 8>& wants);

}  // namespace loom::nn
