// Deterministic mode: the promise that two runs of the same program, on the
// same device and the same build, produce bit-identical results (DESIGN.md,
// "Determinism and randomness"), and the switch that asks for it.
//
// What deterministic mode changes today: NOTHING in any computation, on the
// CPU or on CUDA, and so it costs nothing. Every loom kernel already takes its
// deterministic path unconditionally:
// - reductions add in a fixed order (CPU loops; CUDA: own fixed trees, CUB
//   block reductions, CUB radix sort before the embedding-gradient sums);
//   there is no atomicAdd anywhere in kernels/cuda;
// - every cuBLAS handle (one per loom stream) has its own loom-owned workspace
//   of a fixed size (cublasSetWorkspace) and CUBLAS_ATOMICS_NOT_ALLOWED: the
//   cuBLAS guide ("Results reproducibility") promises bit-identical results
//   on the same GPU model under exactly these conditions, even with several
//   streams (PyTorch's CUBLAS_WORKSPACE_CONFIG=:4096:8), TF32 GEMMs included
//   (set_float32_matmul_precision("high"): same setting, same bits);
// - random numbers come from Philox keyed by (seed, offset): the same seed
//   gives the same dropout masks;
// - the two directions of a bidirectional layer may run on two CUDA streams
//   at once (nn/fused_rnn.h); each direction reads shared inputs and writes
//   only its own buffers, so the overlap cannot change a bit, and deterministic
//   mode leaves it on.
// On the CPU, results also depend on the BLAS library and its thread count
// (OPENBLAS_NUM_THREADS): the same build on the same machine with the same
// settings repeats itself bit for bit; loom does not fix the thread count.
// The switch exists so that a program can state its requirement, and so that
// any future kernel with a faster non-deterministic variant (atomics,
// autotuned algorithm choice) must consult deterministic() and take the
// fixed-order path when it is true.
#pragma once

namespace loom {

// Turns deterministic mode on or off for the whole process (every thread),
// overriding LOOM_DETERMINISTIC.
void set_deterministic(bool enabled);

// True when deterministic mode is on. Until set_deterministic() is called, the
// first call reads the environment (deterministic_from_environment()) and
// keeps the answer; it throws loom::Error, on this and every later call until
// set_deterministic(), when LOOM_DETERMINISTIC holds anything but the values
// below.
bool deterministic();

// Forgets any set_deterministic() call: the next deterministic() reads
// LOOM_DETERMINISTIC again. For tests and embedders.
void reset_deterministic();

// The value LOOM_DETERMINISTIC asks for, read now. The rule: unset, "" or "0"
// mean off; "1" means on; anything else (e.g. "true", "yes", " 1", "2") throws
// loom::Error("LOOM_DETERMINISTIC must be 0 or 1 (or unset), got \"<value>\"")
// rather than guess.
bool deterministic_from_environment();

}  // namespace loom
