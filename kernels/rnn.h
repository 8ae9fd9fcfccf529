// One recurrent layer in one direction: RNN (tanh or relu), LSTM (optionally
// with projection) and GRU, forward and backward, on packed time-major data.
//
// Shapes use the legend of kernels/common.h. The input is a packed sequence:
// step t has batch_sizes[t] active rows (non-increasing in t), stored one step
// after the other, so x is [R, C] with R = sum_t batch_sizes[t] and step t's
// rows start at packed row sum_{s<t} batch_sizes[s]. A plain batch of N
// sequences of equal length T is the case batch_sizes[t] = N for every t.
// Row n of every step belongs to sequence n (sequences sorted by decreasing
// length, as PyTorch's PackedSequence).
//
// Semantics are exactly PyTorch's (and cuDNN's) for packed sequences:
// - forward direction: t = 0 .. T-1, updating only rows [0, batch_sizes[t]);
//   a row that has ended keeps its state, so h_n[n] is the state after row
//   n's last step;
// - reverse direction (reverse = true): t = T-1 .. 0; a row starts from
//   h0/c0 at the first step where it is active; h_n is the state after t = 0.
// Gate orders are PyTorch's: LSTM i, f, g, o; GRU r, z, n with
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h.
// With projection (LSTM only, P < H): h = (o * tanh(c)) W_hr^T.
// With layer norm (RnnLayerShape::layer_norm, LSTM and GRU; nn/research_cells.h):
// LN(v; w, b) = (v - mean(v)) * rstd * w + b per row, rstd = 1 / sqrt(var(v) + eps)
// (biased variance), over all G columns of x W_ih^T and of h W_hh^T separately:
//   LSTM  a = LN(x W_ih^T; ln_ih) + b_ih + LN(h W_hh^T; ln_hh) + b_hh,
//         c = f * c_prev + i * g (carried on), h = o * tanh(LN(c; ln_c));
//   GRU   gi = LN(x W_ih^T; ln_ih) + b_ih, gh = LN(h W_hh^T; ln_hh) + b_hh, then
//         PyTorch's GRU with gi, gh in place of its two projections.
//
// Algorithm (cuDNN's standard algorithm, haste): forward is one GEMM for the
// input projection of all R rows, then per step one recurrent GEMM and one
// fused pointwise step (kernels/rnn_cells.h); backward is, per step in the
// opposite order, one fused pointwise step and one GEMM for dh_prev, then
// whole-sequence GEMMs for dx, dW_ih, dW_hh, dW_hr and fixed-order column sums
// for the biases (no atomics: results are bit-identical run to run).
// With layer norm: a row layer norm of the input projection (all R rows, once)
// and of each step's recurrent projection (its rows), both in place before the
// pointwise step; for LSTM the step runs in two passes around a row layer norm
// of the new c (kernels/rnn_algorithm.h). Backward mirrors them (per step for
// the recurrent and c norms, once over all R rows for the input norm); the
// gains' and biases' gradients are fixed-order column sums.
//
// Precision. T (the element type of every pointer below) is the storage type:
// float, double, bfloat16 or float16 (kernels/half.h). The compute type is
// F = opmath_t<T>: T itself for float and double, float for the two 16-bit
// types. With T = bfloat16 or float16 (on CUDA: GEMMs on tensor cores through
// cublasGemmEx, 16-bit operands, CUBLAS_COMPUTE_32F):
//   in T:  x, weights, biases, h0, c0, y, h_n, c_n, dy, dh_n, dc_n, and every
//          gradient output (dx, dh0, dc0, dW, db); the running hidden state h
//          (it is the recurrent GEMM's operand, and y holds the same values);
//          the whole reserve (activated gates, h_prev, c_prev, o * tanh(c),
//          GRU's W_hn h + b_hn, the layer norms' xhat and rstd); the
//          pre-activation gradients dg/dgh, their layer-norm backward and
//          the projection's dL/dh (operands of the backward GEMMs).
//   in F:  GEMM results that feed the cell math (x W_ih^T for all steps,
//          h W_hh^T per step, dL/dh W_hr per step); gate pre-activations, the
//          cell math and the LSTM cell state c across steps; the running
//          gradients dL/dh and dL/dc across steps (the dh_prev GEMM
//          accumulates into them in F); bias-gradient column sums; the layer
//          norms' row statistics and outputs (normalised in place in F).
//   rounded once to T: each value stored in T, after the F computation that
//          makes it (a GEMM's T output: products summed in F, then rounded;
//          dW = dg^T x etc. accumulate over all R rows in F, one rounding).
// The CPU reference runs the same algorithm: its GEMMs convert the T operands
// to float, call the float32 CBLAS product and round as cuBLAS does, so the
// CPU and CUDA round at the same places. For float and double nothing
// changes: every value is in T.
//
// Memory: the caller allocates everything. `reserve` (rnn_reserve_size
// elements) carries what forward saves for backward; `workspace`
// (rnn_workspace_size elements) is scratch for forward and backward alike,
// and need not be preserved between them. No function here allocates device
// memory, and the CUDA versions never wait for the device.
#pragma once

#include "kernels/common.h"

namespace loom::kernels {

enum class RnnMode { RnnTanh, RnnRelu, Lstm, Gru };

// cuDNN's / PyTorch's name of the mode, as error messages print it:
// "RNN_TANH", "RNN_RELU", "LSTM", "GRU".
constexpr const char* rnn_mode_name(RnnMode mode) {
  switch (mode) {
    case RnnMode::RnnTanh: return "RNN_TANH";
    case RnnMode::RnnRelu: return "RNN_RELU";
    case RnnMode::Lstm: return "LSTM";
    case RnnMode::Gru: return "GRU";
  }
  return "RNN";
}

// Rows of the stacked gate matrices: G = 4H (LSTM), 3H (GRU), H (RNN).
LOOM_HD constexpr index_t gate_rows(RnnMode mode, index_t H) {
  return mode == RnnMode::Lstm ? 4 * H : mode == RnnMode::Gru ? 3 * H : H;
}

// The sizes and options of one layer in one direction.
struct RnnLayerShape {
  RnnMode mode = RnnMode::Lstm;
  index_t T = 0;  // steps (= number of entries of batch_sizes)
  index_t N = 0;  // batch: rows of h0 and h_n; must equal batch_sizes[0]
  index_t C = 0;  // input features
  index_t H = 0;  // hidden size
  index_t P = 0;  // output/recurrent size: proj_size with projection, else must equal H
  bool has_bias = true;   // b_ih and b_hh present
  bool has_proj = false;  // LSTM projection w_hr (then 1 <= P < H)
  bool reverse = false;   // the reverse direction of a bidirectional layer
  // Zoneout (Krueger et al. 2016) of the state after each step, probability
  // in [0, 1) (0: off; LSTM and GRU and RNN, not with projection):
  //   h_t = m h_{t-1} + (1 - m) h~_t (c likewise, LSTM; zoneout_c), where h~_t
  //   is the cell's output computed from the un-zoned c~_t, and m is the
  //   training mask element (args' zoneout_h_mask: 1 = keep the previous
  //   value) or, without a mask, the expectation m = zoneout_h (eval).
  double zoneout_h = 0;
  double zoneout_c = 0;  // LSTM only
  // Layer norm (see the top of this file): LSTM and GRU, not with projection.
  bool layer_norm = false;
  double layer_norm_eps = 1e-5;  // > 0
  const index_t* batch_sizes = nullptr;  // host [T]: non-increasing, batch_sizes[0] == N, all >= 1

  index_t G() const { return gate_rows(mode, H); }
  // R: total packed rows, sum of batch_sizes.
  index_t rows() const {
    index_t r = 0;
    for (index_t t = 0; t < T; ++t) r += batch_sizes[t];
    return r;
  }
};

// Where forward's saved values live in the reserve: element offsets of
// [R, .] matrices whose row i is packed row i. -1 marks a part this mode lacks.
struct RnnReserveLayout {
  index_t gates = 0;   // [R, G] activated gates: RNN h; LSTM i, f, g, o; GRU r, z, n
  index_t hprev = 0;   // [R, P] the hidden state entering the step (h0 or the row's previous h)
  index_t cprev = -1;  // [R, H] LSTM: the cell state entering the step
  index_t rproj = -1;  // [R, H] LSTM with projection: o * tanh(c), the input of W_hr
  index_t hn = -1;     // [R, H] GRU: W_hn h_prev + b_hn
  // Layer norm only (-1 otherwise): per row, the normalised values
  // xhat = (v - mean) * rstd and rstd of each of the three layer norms.
  index_t ln_ih_xhat = -1;  // [R, G] of x W_ih^T
  index_t ln_ih_rstd = -1;  // [R]
  index_t ln_hh_xhat = -1;  // [R, G] of h_prev W_hh^T
  index_t ln_hh_rstd = -1;  // [R]
  index_t ln_c_xhat = -1;   // [R, H] LSTM: of the new cell state c (before zoneout)
  index_t ln_c_rstd = -1;   // [R] LSTM
  index_t size = 0;    // total elements
};

// Throws loom::Error unless the shape is valid: T, N, C, H, P >= 1; batch_sizes
// present, batch_sizes[0] == N, non-increasing, all >= 1; P == H without
// projection; projection only for LSTM and then P < H; zoneout probabilities
// in [0, 1), zoneout_c only for LSTM, no zoneout with projection; layer norm
// only for LSTM and GRU, not with projection, and with layer_norm_eps > 0.
void rnn_check_shape(const RnnLayerShape& shape);

// The reserve layout for a valid shape (see RnnReserveLayout).
RnnReserveLayout rnn_reserve_layout(const RnnLayerShape& shape);
// Elements of the reserve buffer forward fills and backward reads (valid shape).
index_t rnn_reserve_size(const RnnLayerShape& shape);
// Elements of scratch that one forward (training or inference) or one
// backward needs (valid shape), for T = float or double.
index_t rnn_workspace_size(const RnnLayerShape& shape);
// The same in elements of T, for any storage type T (equal to
// rnn_workspace_size for float and double; for bfloat16 and float16 the
// scratch also holds float regions, so more elements, and the workspace
// pointer must be 16-byte aligned).
template <typename T>
index_t rnn_workspace_elements(const RnnLayerShape& shape);

// The layer's parameters, PyTorch's names and layouts.
template <typename T>
struct RnnWeights {
  const T* w_ih = nullptr;  // [G, C]
  const T* w_hh = nullptr;  // [G, P]
  const T* b_ih = nullptr;  // [G], null when !has_bias
  const T* b_hh = nullptr;  // [G], null when !has_bias
  const T* w_hr = nullptr;  // [P, H], LSTM projection; null when !has_proj
  // Layer-norm gains and biases: present exactly when shape.layer_norm (the
  // c pair LSTM only). Backward reads the gains and ln_c_b.
  const T* ln_ih_w = nullptr;  // [G]
  const T* ln_ih_b = nullptr;  // [G]
  const T* ln_hh_w = nullptr;  // [G]
  const T* ln_hh_b = nullptr;  // [G]
  const T* ln_c_w = nullptr;   // [H] LSTM
  const T* ln_c_b = nullptr;   // [H] LSTM
};

template <typename T>
struct RnnForwardArgs {
  const T* x = nullptr;  // [R, C] packed input
  RnnWeights<T> w;
  const T* h0 = nullptr;  // [N, P] initial hidden state; null means zeros
  const T* c0 = nullptr;  // [N, H] LSTM initial cell state; null means zeros
  T* y = nullptr;         // [R, P] out: the hidden state after every (step, row)
  T* h_n = nullptr;       // [N, P] out: final hidden state per row (may be the same buffer as h0)
  T* c_n = nullptr;       // [N, H] out, LSTM only: final cell state (may be the same buffer as c0)
  T* reserve = nullptr;   // [rnn_reserve_size] out: saved for backward; null for inference
  T* workspace = nullptr; // [rnn_workspace_elements<T>] scratch
  // Zoneout training masks (exactly 0 or 1), row i for packed row i; null:
  // the expectation (shape.zoneout_h / zoneout_c). Only read when the shape's
  // probability is > 0.
  const T* zoneout_h_mask = nullptr;  // [R, P]
  const T* zoneout_c_mask = nullptr;  // [R, H] LSTM
};

template <typename T>
struct RnnBackwardArgs {
  const T* x = nullptr;  // [R, C] the forward input
  RnnWeights<T> w;       // the forward weights (biases are not read)
  const T* reserve = nullptr;  // [rnn_reserve_size] as filled by the matching forward
  const T* dy = nullptr;       // [R, P] dL/dy; null means zeros
  const T* dh_n = nullptr;     // [N, P] dL/dh_n; null means zeros
  const T* dc_n = nullptr;     // [N, H] LSTM: dL/dc_n; null means zeros
  T* workspace = nullptr;      // [rnn_workspace_elements<T>] scratch
  // Outputs, OVERWRITTEN (not accumulated). dh0 (and dc0 for LSTM) are
  // required; each of the others may be null when that gradient is not wanted.
  T* dx = nullptr;     // [R, C]
  T* dh0 = nullptr;    // [N, P] (may be the same buffer as dh_n)
  T* dc0 = nullptr;    // [N, H] LSTM (may be the same buffer as dc_n)
  T* dw_ih = nullptr;  // [G, C]
  T* dw_hh = nullptr;  // [G, P]
  T* db_ih = nullptr;  // [G] (has_bias)
  T* db_hh = nullptr;  // [G] (has_bias); for GRU its n-part differs from db_ih's (times r)
  T* dw_hr = nullptr;  // [P, H] (has_proj)
  // Layer norm only (else must be null): the gains' and biases' gradients.
  T* dln_ih_w = nullptr;  // [G]
  T* dln_ih_b = nullptr;  // [G]
  T* dln_hh_w = nullptr;  // [G]
  T* dln_hh_b = nullptr;  // [G]
  T* dln_c_w = nullptr;   // [H] LSTM
  T* dln_c_b = nullptr;   // [H] LSTM
  // The forward's zoneout masks (the same pointers, or null for the expectation).
  const T* zoneout_h_mask = nullptr;  // [R, P]
  const T* zoneout_c_mask = nullptr;  // [R, H] LSTM
};

// Throw loom::Error for an invalid shape or a required pointer that is null
// (or a pointer given that the shape says is absent).
template <typename T>
void rnn_check_forward(const RnnLayerShape& shape, const RnnForwardArgs<T>& args);
template <typename T>
void rnn_check_backward(const RnnLayerShape& shape, const RnnBackwardArgs<T>& args);

// Runs the layer forward on host memory: fills y, h_n, c_n and, unless
// args.reserve is null (inference), the reserve. Throws loom::Error on bad
// arguments (rnn_check_forward). Apart from h_n/h0 and c_n/c0, buffers must
// not overlap. T is float, double, bfloat16 or float16 ("Precision" above).
template <typename T>
void rnn_layer_forward_cpu(const RnnLayerShape& shape, const RnnForwardArgs<T>& args);

// Backpropagates through the layer on host memory, from the reserve of a
// training forward with the same shape, inputs and weights. Overwrites every
// non-null gradient output. Throws loom::Error on bad arguments.
template <typename T>
void rnn_layer_backward_cpu(const RnnLayerShape& shape, const RnnBackwardArgs<T>& args);

#if defined(LOOM_WITH_CUDA)
// The same two functions on the current CUDA device: every pointer in args is
// a device pointer (shape.batch_sizes stays on the host). All work is queued
// on kernels::cuda::stream() -- the calling thread's current loom stream: the
// main stream, or a side stream selected by a kernels::cuda::StreamRoute --
// without host synchronisation or allocation; results are ready when that
// stream reaches them. So two calls with disjoint outputs may run concurrently
// on two streams (nn/fused_rnn.cc does this for the two directions of a
// bidirectional layer). Deterministic: the same bits on every run.
template <typename T>
void rnn_layer_forward_cuda(const RnnLayerShape& shape, const RnnForwardArgs<T>& args);
template <typename T>
void rnn_layer_backward_cuda(const RnnLayerShape& shape, const RnnBackwardArgs<T>& args);

// Whether the two functions above replay CUDA graphs instead of launching
// their kernels one by one (process-wide; default false). When on, a call
// whose shape, batch_sizes, stream, cuBLAS handle and float32 matmul precision
// were seen before is captured into a graph (the first call of a shape runs
// directly, as a warm-up) and later calls with the same pointers replay it with
// one cudaGraphLaunch; other pointers re-capture and update the executable graph.
// Results are those of the direct launches (the graph holds the same kernels
// with the same arguments). Pays off where per-step launch cost dominates
// (small batch, long sequences) and the caller reuses its buffers. Assumes one
// host thread queues work on a given loom stream at a time (work another
// thread queued on that stream during a capture would be captured too).
// Relies on CUDA's documented semantics: cudaGraphExecUpdate applies to later
// launches only, and destroying an executable graph in flight frees it when
// it completes. Compiled, tested only by tests/kernels/rnn_cuda_test.cc
// (RnnCudaGraphs), which needs a GPU.
void set_rnn_cuda_graphs(bool enabled);
bool rnn_cuda_graphs();
#endif

}  // namespace loom::kernels
