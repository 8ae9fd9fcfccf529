// The stacked-layer wavefront (kernels/rnn_wavefront.h) for the inference
// forward of nn::RNN, nn::LSTM and nn::GRU: all layers of a unidirectional
// stack in one cooperative CUDA launch, layer l at step t while layer l + 1
// is at step t - 1. Taken only under kernels::RnnAlgorithm::Persistent, and
// only where nothing is lost: no autograd graph is recorded, nothing random
// happens between layers, and the stack fits the device. Everything else
// runs layer by layer exactly as before.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/rnn.h"
#include "nn/rnn.h"

namespace loom::nn {

// Why a module with `options` cannot hand its stack to the wavefront in a
// call (training: the module's training flag), "" when it may (then the
// kernels decide by device, shape and fit): one layer, bidirectional, a
// projection, layer norm, zoneout, or, in training, dropout between layers
// or weight drop (masks drawn per call).
std::string rnn_stack_wavefront_blocker(const RNNOptions& options, bool training);

// The stack's inputs: x [T N, C] (batch_sizes all N), h0/c0 [L, N, H]
// (c0 for LSTM only), and per layer its weight_ih, weight_hh and (bias) the
// two biases. One dtype and device.
struct FusedRnnStackInputs {
  Tensor x, h0, c0;
  std::vector<Tensor> w_ih, w_hh, b_ih, b_hh;  // [L] each (biases empty without bias)
};

struct FusedRnnStackOutputs {
  Tensor y;    // [T N, H] the last layer's output
  Tensor h_n;  // [L, N, H]
  Tensor c_n;  // [L, N, H] LSTM only
};

// Runs the stack as one wavefront when this call can: CUDA tensors, no input
// requiring grad while grad mode is on, and kernels::rnn_stack_cuda_path
// says Wavefront for the shape and dtype. Returns nothing otherwise (on the
// CPU always): the caller then runs the layers one by one. The outputs carry
// no autograd history.
std::optional<FusedRnnStackOutputs> fused_rnn_stack_wavefront(
    kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
    const FusedRnnStackInputs& in);

}  // namespace loom::nn
