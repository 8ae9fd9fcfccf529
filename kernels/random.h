// Random fills from the counter-based stream of kernels/philox.h.
//
// Every fill writes out[i] = f(element i of the stream (seed, offset)), i in [0, n),
// so the CPU and CUDA versions give the same bits for the same (seed, offset, i),
// and element i does not depend on n. A fill of n elements consumes
// counters_used(n) = ceil(n / 4) counters (kernels/philox.h): the caller advances
// its offset by that much before the next draw (loom::Generator::reserve does it):
//
//   const uint64_t offset = default_generator().reserve(counters_used(n));
//   fill_normal_cpu<float>(n, default_generator().seed(), offset, 0.f, 1.f, out);
//
// Bad arguments (n < 0, and those named below) throw loom::Error; nothing is written.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/philox.h"

namespace loom::kernels {

// ---- CPU references (T = float or double) -------------------------------------------

// out[i] = low + (high - low) * uniform<T>(i), in [low, high) (a value that rounds up
// to high becomes low, as in PyTorch). Requires low <= high and high - low finite.
template <typename T>
void fill_uniform_cpu(index_t n, std::uint64_t seed, std::uint64_t offset, T low, T high,
                      T* out);  // [n]

// out[i] = mean + std * normal<T>(i) (Box-Muller, pairing in kernels/philox.h).
// Requires std >= 0.
template <typename T>
void fill_normal_cpu(index_t n, std::uint64_t seed, std::uint64_t offset, T mean, T std,
                     T* out);  // [n]

// Inverted-dropout mask: mask[i] = 1 / (1 - p) when uniform<T>(i) >= p (kept, with
// probability 1 - p), else 0. p = 0 gives all ones, p = 1 all zeros.
// Requires 0 <= p <= 1.
template <typename T>
void fill_dropout_mask_cpu(index_t n, std::uint64_t seed, std::uint64_t offset, T p,
                           T* mask);  // [n]

#if defined(LOOM_WITH_CUDA)
// ---- CUDA: the same values, bit for bit, on loom's stream (kernels/cuda/context.h).
// `out` / `mask` are device pointers; the calls are asynchronous. Same contracts.

template <typename T>
void fill_uniform_cuda(index_t n, std::uint64_t seed, std::uint64_t offset, T low, T high,
                       T* out);  // [n]

template <typename T>
void fill_normal_cuda(index_t n, std::uint64_t seed, std::uint64_t offset, T mean, T std,
                      T* out);  // [n]

template <typename T>
void fill_dropout_mask_cuda(index_t n, std::uint64_t seed, std::uint64_t offset, T p,
                            T* mask);  // [n]
#endif

// ---- argument checks shared by both devices (throw loom::Error) ---------------------
namespace random_detail {
void check_count(const char* what, index_t n);
template <typename T>
void check_uniform_args(T low, T high);
template <typename T>
void check_normal_args(T std);
template <typename T>
void check_dropout_args(T p);
}  // namespace random_detail

}  // namespace loom::kernels
