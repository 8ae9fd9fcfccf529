// Shared definitions for every kernel, CPU and CUDA.
//
// Dimension legend, used in every shape comment in kernels/:
//   T  time steps            N  batch            C  input features
//   H  hidden size           P  projection size (LSTM proj_size; P = H without projection)
//   G  gate rows: 4H LSTM, 3H GRU, H RNN          D  directions (1 or 2)
//   R  rows of a packed sequence = sum over t of batch_sizes[t]
// Pointers are row-major and contiguous unless the comment says otherwise:
//   const float* w_ih,  // [G, C]
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LOOM_HD __host__ __device__ __forceinline__
#else
#define LOOM_HD inline
#endif

namespace loom::kernels {

using index_t = std::int64_t;

}  // namespace loom::kernels
