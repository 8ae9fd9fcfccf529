// Choosing between the two algorithms of the CUDA recurrent layer (issue 12):
//
// - Standard: kernels/rnn.h's algorithm: one input-projection GEMM, then per
//   step one recurrent cuBLAS GEMM and one pointwise kernel (2 launches a step,
//   W_hh re-read from memory every step).
// - Persistent: the same input-projection GEMM, then ONE cooperative launch for
//   all T steps of the layer and direction (kernels/rnn_persistent_algorithm.h,
//   kernels/cuda/persistent_rnn.cu). Each block of the grid owns a run of
//   hidden units and keeps their rows of W_hh (forward) or columns of W_hh,
//   i.e. rows of W_hh^T (backward), in shared memory for the whole sequence;
//   a grid-wide barrier separates the steps. It writes the same reserve as the
//   standard path, so either backward can consume either forward's reserve.
//
// What takes which path (rnn_path below):
// - Standard always takes the standard path.
// - Auto takes the standard path for now: the persistent kernels have not yet
//   been measured on a GPU (issue 12), so no shape is known to gain.
// - Persistent takes the persistent path where the shape is eligible and fits.
//   Packed input (a shrinking batch), LSTM projections, zoneout and layer norm are NOT eligible:
//   they are routed to the standard path on purpose, with no error. An
//   eligible shape that does not fit the device (persistent_plan) throws
//   loom::Error saying why.
// The setting is process-wide. The CPU has only the standard path.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "kernels/common.h"
#include "kernels/rnn.h"

namespace loom::kernels {

enum class RnnAlgorithm { Auto, Standard, Persistent };

// Sets / reads the process-wide algorithm of the CUDA recurrent layer. Until
// set, it is what the environment variable LOOM_RNN_ALGORITHM names (auto,
// standard or persistent; Auto when unset or empty), read at the first query:
// so a whole test binary or tool can run with the persistent path forced.
// rnn_algorithm() throws loom::Error("LOOM_RNN_ALGORITHM must be auto,
// standard or persistent (or unset), got \"<value>\"") for any other value.
void set_rnn_algorithm(RnnAlgorithm algorithm);
RnnAlgorithm rnn_algorithm();
// The algorithm LOOM_RNN_ALGORITHM asks for, read now (the rule above).
RnnAlgorithm rnn_algorithm_from_environment();
// "auto", "standard", "persistent".
const char* rnn_algorithm_name(RnnAlgorithm algorithm);
// The inverse of rnn_algorithm_name; throws loom::Error for any other text.
RnnAlgorithm parse_rnn_algorithm(std::string_view name);

// Sets the algorithm for its lifetime and restores the previous one after.
class RnnAlgorithmGuard {
 public:
  explicit RnnAlgorithmGuard(RnnAlgorithm algorithm);
  ~RnnAlgorithmGuard();
  RnnAlgorithmGuard(const RnnAlgorithmGuard&) = delete;
  RnnAlgorithmGuard& operator=(const RnnAlgorithmGuard&) = delete;

 private:
  RnnAlgorithm previous_;
};

// The grid-wide barrier the persistent kernels pass between steps:
// cooperative_groups' grid.sync(), or loom's own arrival counter in global
// memory spun on by one thread per block. Both are launched cooperatively, so
// every block is resident. Process-wide, default GridSync; the GPU run
// measures both (issue 12).
enum class PersistentBarrier { GridSync, Flags };
void set_persistent_barrier(PersistentBarrier barrier);
PersistentBarrier persistent_barrier();
// "grid-sync", "flags".
const char* persistent_barrier_name(PersistentBarrier barrier);
// The inverse of persistent_barrier_name; throws loom::Error for any other text.
PersistentBarrier parse_persistent_barrier(std::string_view name);

// What the fit rule needs to know about a device (the CUDA path reads it with
// cudaDeviceGetAttribute; CPU tests pass H100/H200-like numbers).
struct PersistentDeviceProps {
  int sm_count = 0;                    // multiprocessors
  index_t smem_per_block_optin = 0;    // bytes of shared memory one block may opt in to
  index_t smem_per_sm = 0;             // bytes of shared memory per multiprocessor
  index_t regs_per_sm = 0;             // 32-bit registers per multiprocessor
  bool cooperative_launch = false;     // cudaDevAttrCooperativeLaunch
};

// Blocks of `threads` threads using `smem_bytes` of dynamic shared memory that
// fit on one multiprocessor at once (on the device:
// cudaOccupancyMaxActiveBlocksPerMultiprocessor for the kernel in question).
using PersistentOccupancy = std::function<int(int threads, index_t smem_bytes)>;

// A host-side estimate of the same for a kernel using `regs_per_thread`
// registers: the smallest of the shared-memory, register and thread limits
// (1 KB of shared memory reserved per block, 2048 threads per multiprocessor).
int estimate_blocks_per_sm(const PersistentDeviceProps& props, int regs_per_thread, int threads,
                           index_t smem_bytes);

enum class RnnPass { Forward, Backward };

// The persistent launch for one layer, direction and pass.
struct PersistentPlan {
  bool fits = false;
  std::string why;          // when !fits: the reason, for the loom::Error of a forced Persistent
  int blocks = 0;           // grid size: one block per multiprocessor at most
  int threads = 0;          // threads per block
  index_t units = 0;        // hidden units per block: block b owns [b * units, min(H, (b + 1) * units))
  bool staged = false;      // the step's shared operand (h_prev, or the step's dL/dgates) copied
                            // into shared memory each step; otherwise read from L2
  index_t smem_bytes = 0;   // dynamic shared memory per block
};

// Shared-memory bytes of a persistent block of the given pass: the weight
// slice (in the storage type, `storage_bytes` per element) and the per-step
// operands (in the compute type, `compute_bytes` each). Offsets of each region
// are those of kernels/rnn_persistent_algorithm.h (persistent_smem_layout).
index_t persistent_smem_bytes(RnnPass pass, RnnMode mode, index_t N, index_t H, index_t units,
                              bool staged, index_t storage_bytes, index_t compute_bytes);

// The fit rule for an eligible shape (uniform batch, no projection): one block
// per multiprocessor, units = ceil(H / sm_count); the weight slice must fit a
// block's shared memory (staging the per-step operand too where that also
// fits), the device must support cooperative launch, and `occupancy` must
// allow at least one such block per multiprocessor. fits == false with `why`
// otherwise. `storage_bytes`/`compute_bytes`: 4/4 for float, 8/8 double,
// 2/4 bfloat16 and float16.
PersistentPlan persistent_plan(const RnnLayerShape& shape, RnnPass pass, index_t storage_bytes,
                               index_t compute_bytes, const PersistentDeviceProps& props,
                               const PersistentOccupancy& occupancy);

// Why a valid shape is not eligible for the persistent path at all ("" when
// it is): packed input (batch_sizes not all N), an LSTM projection, zoneout
// (the persistent cell step has none) or layer norm.
std::string persistent_ineligible_reason(const RnnLayerShape& shape);

// Internal, shared by persistent_plan and the stack's wavefront_plan
// (kernels/rnn_wavefront.h): the fit rule above for H hidden units split over
// the device's multiprocessors, with `bytes_of(units, staged)` the shared
// memory of one block. `what` names the shape in messages, `weights` what
// the block holds ("the recurrent weights"), and `barriers` the grid-wide
// barriers of one launch, counted in `barrier_unit` ("steps").
PersistentPlan persistent_fit(const std::string& what, const std::string& weights,
                              index_t barriers, const char* barrier_unit, index_t H,
                              const std::function<index_t(index_t units, bool staged)>& bytes_of,
                              const PersistentDeviceProps& props,
                              const PersistentOccupancy& occupancy);

enum class RnnPath { Standard, Persistent };

// The routing rule described at the top of this file, for one call:
// `algorithm` as set, a valid shape, and the plan persistent_plan gives for it
// (only read for an eligible shape under Persistent). Throws loom::Error for
// Persistent on an eligible shape whose plan does not fit, naming the shape
// and plan.why.
RnnPath rnn_path(RnnAlgorithm algorithm, const RnnLayerShape& shape, RnnPass pass,
                 const std::function<PersistentPlan()>& plan);

// The persistent algorithm run on the host (kernels/rnn_persistent_algorithm.h:
// the blocks of each step one after another, the same index computations and
// the same fixed summation order as the CUDA kernels), for testing the
// algorithm without a GPU. Uses plan.blocks and plan.units (the rest is
// launch detail). Throws loom::Error on bad arguments (rnn_check_forward /
// rnn_check_backward), on an ineligible shape, or on a geometry that does not
// cover H. T is float, double, bfloat16 or float16.
template <typename T>
void rnn_layer_forward_persistent_emulated(const RnnLayerShape& shape,
                                           const RnnForwardArgs<T>& args,
                                           const PersistentPlan& plan);
template <typename T>
void rnn_layer_backward_persistent_emulated(const RnnLayerShape& shape,
                                            const RnnBackwardArgs<T>& args,
                                            const PersistentPlan& plan);

#if defined(LOOM_WITH_CUDA)
// The path rnn_layer_forward_cuda (pass Forward) or rnn_layer_backward_cuda
// (Backward) takes for `shape` in storage type T under the current setting on
// the current device; throws as they would for a forced Persistent that
// cannot fit. Tests use it to check that a forced run really was persistent.
template <typename T>
RnnPath rnn_cuda_path(const RnnLayerShape& shape, RnnPass pass);
// The fit plan on the current device (kernels/cuda/persistent_rnn.cu).
template <typename T>
PersistentPlan rnn_persistent_plan_cuda(const RnnLayerShape& shape, RnnPass pass);
#endif

}  // namespace loom::kernels
