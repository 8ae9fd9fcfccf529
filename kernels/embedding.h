// Embedding lookup (a row gather) and its gradient (a deterministic row
// scatter-sum).
//
// Legend (beyond kernels/common.h): V rows of the table (num_embeddings),
// E the embedding dimension (embedding_dim), n the number of indices.
//
// Forward: out[i, :] = weight[indices[i], :].
// Backward: grad_weight[v, :] = sum over i with indices[i] == v of grad[i, :],
// the terms added in increasing i, starting from 0. No atomics: the CPU loops
// over i in order; CUDA sorts the positions by index with a stable radix sort
// (CUB) and gives each run of equal indices to one block, which adds that
// run's rows in position order. Both devices therefore add the same numbers in
// the same order and agree bit for bit, run after run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"

namespace loom::kernels {

// True when v is a row of a table of V rows.
LOOM_HD bool embedding_index_ok(std::int64_t v, index_t V) { return v >= 0 && v < V; }

// ---- CPU reference (T = float or double) ----------------------------------------------

// Throws loom::Error("index out of range in self") and writes nothing when an
// index is outside [0, V).
template <typename T>
void embedding_forward_cpu(index_t n, index_t V, index_t E,
                           const T* weight,              // [V, E]
                           const std::int64_t* indices,  // [n]
                           T* out);                      // [n, E]

// Overwrites grad_weight. Indices outside [0, V) contribute nothing (the
// forward has rejected them). `workspace` is unused on the CPU.
template <typename T>
void embedding_backward_cpu(index_t n, index_t V, index_t E,
                            const T* grad,                // [n, E]
                            const std::int64_t* indices,  // [n]
                            T* grad_weight,               // [V, E]
                            void* workspace, std::size_t workspace_bytes);

// Throws loom::Error("index out of range in self") (PyTorch's words); shared by
// both devices so that the .cu file needs no fmt.
namespace embedding_detail {
[[noreturn]] void fail_index_out_of_range();
}  // namespace embedding_detail

#if defined(LOOM_WITH_CUDA)
// ---- CUDA: the same contracts on device pointers, on loom's stream -------------------

// An out-of-range index is flagged by the kernel (which writes zeros for that row
// and never reads outside the table) in host-mapped memory; the launcher waits
// for the kernel (one stream synchronisation per call) and then throws
// loom::Error("index out of range in self") from this call.
template <typename T>
void embedding_forward_cuda(index_t n, index_t V, index_t E,
                            const T* weight,              // [V, E]
                            const std::int64_t* indices,  // [n]
                            T* out);                      // [n, E]

// Bytes of device workspace embedding_backward_cuda needs for n indices into V rows.
std::size_t embedding_backward_workspace_bytes_cuda(index_t n, index_t V);

// `workspace`: a device buffer of at least embedding_backward_workspace_bytes_cuda(n, V)
// bytes, 256-byte aligned. Asynchronous.
template <typename T>
void embedding_backward_cuda(index_t n, index_t V, index_t E,
                             const T* grad,                // [n, E]
                             const std::int64_t* indices,  // [n]
                             T* grad_weight,               // [V, E]
                             void* workspace, std::size_t workspace_bytes);
#endif

}  // namespace loom::kernels
