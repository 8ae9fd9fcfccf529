// The stacked-layer wavefront of the persistent algorithm (issue 12 item 2):
// the inference forward of a unidirectional stack of L recurrent layers in
// ONE cooperative launch, in which layer l runs step t while layer l + 1 runs
// step t - 1. Phase p = 0 .. T + L - 2 runs step p - l of every layer l with
// 0 <= p - l < T, and one grid-wide barrier ends each phase: T + L - 1
// barriers instead of the L * T of L persistent launches.
//
// Layer 0's input projection x W_ih^T stays one GEMM before the launch, as in
// the single-layer persistent path. A layer l > 0 reads layer l - 1's output
// of the same step, which exists only inside the launch, so its input
// projection is computed in the kernel: each block holds the rows of W_ih_l
// of its hidden units in shared memory beside those of W_hh_l (layout in
// kernels/rnn_wavefront_algorithm.h), and takes the same fixed-order dot
// product as for the recurrent part. Every block owns the same run of hidden
// units in every layer, so the work of a phase is balanced over the grid.
//
// Eligible: 2 <= L <= kWavefrontMaxLayers, every sequence of length T
// (packed input with a shrinking batch is not), no projection, no zoneout,
// no reserve (inference only: nothing is saved for backward). The nn layers
// take the wavefront only under RnnAlgorithm::Persistent, without grad,
// without dropout between layers, and when the stack fits
// (rnn_stack_path); anything else runs layer by layer exactly as before
// (kernels/rnn_persistent.h decides each layer's path).
//
// Shapes use the legend of kernels/common.h; L is the number of layers.
#pragma once

#include <functional>
#include <string>

#include "kernels/common.h"
#include "kernels/rnn.h"
#include "kernels/rnn_persistent.h"

namespace loom::kernels {

// The most layers one wavefront launch takes (their pointers travel in the
// kernel's parameters).
constexpr index_t kWavefrontMaxLayers = 8;

// A unidirectional stack of L layers of one mode over a plain batch.
struct RnnStackShape {
  RnnMode mode = RnnMode::Lstm;
  index_t L = 0;  // layers
  index_t T = 0;  // steps (= entries of batch_sizes)
  index_t N = 0;  // batch
  index_t C = 0;  // layer 0's input features (layers above take H)
  index_t H = 0;  // hidden size of every layer
  bool has_bias = true;
  const index_t* batch_sizes = nullptr;  // host [T], as RnnLayerShape's

  index_t G() const { return gate_rows(mode, H); }
  // Layer l's own shape (forward direction, no projection, no zoneout).
  RnnLayerShape layer(index_t l) const;
};

// The stack's parameters and buffers. Every pointer is a host pointer for the
// emulation and a device pointer for CUDA; `w` itself is a host array.
template <typename T>
struct RnnStackForwardArgs {
  const T* x = nullptr;                // [T N, C] layer 0's input
  RnnWeights<T> w[kWavefrontMaxLayers];  // entry l: layer l ([G, C] or [G, H], [G, H], [G], [G]; w_hr null)
  const T* h0 = nullptr;               // [L, N, H] initial hidden states; null means zeros
  const T* c0 = nullptr;               // [L, N, H] LSTM initial cell states; null means zeros
  T* y = nullptr;                      // [T N, H] out: the last layer's output
  T* h_n = nullptr;                    // [L, N, H] out (may be h0's buffer)
  T* c_n = nullptr;                    // [L, N, H] out, LSTM (may be c0's buffer)
  T* workspace = nullptr;              // [rnn_stack_workspace_elements<T>] scratch, 16-byte aligned
};

// Why `shape` cannot run as one wavefront ("" when it can, fit aside):
// fewer than 2 or more than kWavefrontMaxLayers layers, or packed input.
// Throws loom::Error for an invalid shape (rnn_check_shape of any layer).
std::string wavefront_ineligible_reason(const RnnStackShape& shape);

// Elements of T the workspace of a wavefront forward needs (a valid shape).
template <typename T>
index_t rnn_stack_workspace_elements(const RnnStackShape& shape);

// Throws loom::Error for an ineligible or invalid shape, a required pointer
// that is null, a pointer the shape says is absent (biases without bias, c0/c_n
// outside LSTM, any w_hr), or a misaligned 16-bit workspace.
template <typename T>
void rnn_stack_check_forward(const RnnStackShape& shape, const RnnStackForwardArgs<T>& args);

// Shared-memory bytes of one wavefront block (kernels/rnn_wavefront_algorithm.h,
// wavefront_smem_layout): the weight slices of `units` hidden units of every
// layer in the storage type (storage_bytes), the per-phase dot products and
// (staged) each layer's latest output in the compute type (compute_bytes).
index_t wavefront_smem_bytes(RnnMode mode, index_t L, index_t N, index_t H, index_t units,
                             bool staged, index_t storage_bytes, index_t compute_bytes);

// The fit rule of the wavefront, persistent_plan's for the whole stack: one
// block per multiprocessor, units = ceil(H / sm_count), and the slices of
// every layer (W_hh of layer 0; W_ih and W_hh of each layer above) in one
// block's shared memory, staging the layers' latest outputs where that also
// fits; cooperative launch, occupancy >= 1, (T + L - 1) barriers of `blocks`
// arrivals within 32 bits. fits == false with `why` otherwise.
PersistentPlan wavefront_plan(const RnnStackShape& shape, index_t storage_bytes,
                              index_t compute_bytes, const PersistentDeviceProps& props,
                              const PersistentOccupancy& occupancy);

// Throws loom::Error("<MODE> wavefront: <reason>") for an ineligible shape.
void wavefront_require_eligible(const RnnStackShape& shape);
// Throws loom::Error("the wavefront cannot run <plan.why>") unless plan.fits.
void wavefront_require_fit(const PersistentPlan& plan);

enum class RnnStackPath { PerLayer, Wavefront };

// The stack's route for one inference forward: Wavefront when `algorithm` is
// Persistent, the shape is eligible (wavefront_ineligible_reason) and
// `plan()` fits; PerLayer otherwise, with no error (each layer then takes the
// path rnn_path gives it, which throws for a forced Persistent that cannot
// fit). `plan` is only called for an eligible shape under Persistent.
RnnStackPath rnn_stack_path(RnnAlgorithm algorithm, const RnnStackShape& shape,
                            const std::function<PersistentPlan()>& plan);

// The wavefront on the host (kernels/rnn_wavefront_algorithm.h: per phase the
// blocks one after another, the same index computations, ring buffers and
// summation order as the CUDA kernel), for testing the schedule without a
// GPU. Uses plan.blocks, plan.units and plan.staged. Throws loom::Error on
// bad arguments (rnn_stack_check_forward) or a geometry that does not cover
// H. T is float, double, bfloat16 or float16.
template <typename T>
void rnn_stack_forward_wavefront_emulated(const RnnStackShape& shape,
                                          const RnnStackForwardArgs<T>& args,
                                          const PersistentPlan& plan);

#if defined(LOOM_WITH_CUDA)
// The wavefront on the current CUDA device: the layer-0 GEMM and one
// cooperative launch, queued on kernels::cuda::stream() without host
// synchronisation or allocation. Throws loom::Error on bad arguments or when
// the stack does not fit the device (the plan's why), whatever the
// algorithm setting. Deterministic: the same bits on every run.
template <typename T>
void rnn_stack_forward_cuda(const RnnStackShape& shape, const RnnStackForwardArgs<T>& args);
// The route of an inference forward of `shape` in storage type T under the
// current setting on the current device (rnn_stack_path with the device's plan).
template <typename T>
RnnStackPath rnn_stack_cuda_path(const RnnStackShape& shape);
// The wavefront's fit plan on the current device.
template <typename T>
PersistentPlan rnn_wavefront_plan_cuda(const RnnStackShape& shape);
#endif

}  // namespace loom::kernels
