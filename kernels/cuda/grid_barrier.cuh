// The two grid-wide barriers of the persistent recurrent kernels
// (kernels/rnn_persistent.h, PersistentBarrier), in one place so that the
// kernels and the barrier microbenchmark (bench/barrier_bench.cu) run the same
// code. Both need every block of the grid resident: a cooperative launch.
#pragma once

#include <cooperative_groups.h>

namespace loom::kernels::cuda_persistent {

// The grid-wide barrier after phase `arrival` (1-based) of a launch: every
// block's writes before it are visible to every block's reads after it.
// kFlags = false: cooperative_groups' grid.sync(). kFlags = true: one thread
// per block adds 1 to `counter` (zero at the launch's start) and spins until
// it reaches arrival * gridDim.x, with fences on both sides; the count must
// stay below 2^32 (the fit rules check it).
template <bool kFlags>
__device__ __forceinline__ void grid_barrier(unsigned int* counter, unsigned int arrival) {
  if constexpr (!kFlags) {
    cooperative_groups::this_grid().sync();
  } else {
    __syncthreads();
    if (threadIdx.x == 0) {
      const unsigned int target = arrival * gridDim.x;
      __threadfence();
      atomicAdd(counter, 1u);
      while (*static_cast<volatile unsigned int*>(counter) < target) {
      }
      __threadfence();
    }
    __syncthreads();
  }
}

}  // namespace loom::kernels::cuda_persistent
