// The CUDA execution context every launcher uses: loom's stream, the cuBLAS
// handle bound to it, and the checks that turn CUDA/cuBLAS failures into
// loom::Error naming the call, the file and the line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/common.h"

namespace loom::kernels::cuda {

// loom's stream on the current device: all loom work is queued on it, in order.
cudaStream_t stream();
// The cuBLAS handle of the current device, bound to stream(), with a fixed
// workspace (deterministic), pointer mode host and TF32 off.
cublasHandle_t cublas();
// Waits for all work on stream(); reports an asynchronous failure as loom::Error.
void synchronize();

// Throws loom::Error("CUDA error in <call> at <file>:<line>: <message>").
[[noreturn]] void fail_call(const char* api, const char* call, const char* message,
                            const char* file, int line);

// Grid size covering n items with `threads` threads per block (at least 1).
inline unsigned blocks_for(index_t n, int threads) {
  index_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535LL * 32) b = 65535LL * 32;  // grid-stride loops cover the rest
  return static_cast<unsigned>(b);
}

}  // namespace loom::kernels::cuda

#define LOOM_CUDA_CHECK(expr)                                                        \
  do {                                                                               \
    cudaError_t loom_status_ = (expr);                                               \
    if (loom_status_ != cudaSuccess)                                                 \
      ::loom::kernels::cuda::fail_call("CUDA", #expr, cudaGetErrorString(loom_status_), \
                                       __FILE__, __LINE__);                          \
  } while (0)

#define LOOM_CUBLAS_CHECK(expr)                                                          \
  do {                                                                                   \
    cublasStatus_t loom_status_ = (expr);                                                \
    if (loom_status_ != CUBLAS_STATUS_SUCCESS)                                           \
      ::loom::kernels::cuda::fail_call("cuBLAS", #expr, cublasGetStatusString(loom_status_), \
                                       __FILE__, __LINE__);                              \
  } while (0)

// After every kernel launch: reports a bad launch configuration at once.
#define LOOM_CUDA_CHECK_LAUNCH() LOOM_CUDA_CHECK(cudaGetLastError())

// Grid-stride loop over [0, n).
#define LOOM_CUDA_KERNEL_LOOP(i, n)                                                   \
  for (::loom::kernels::index_t i = blockIdx.x * (::loom::kernels::index_t)blockDim.x + \
                                    threadIdx.x;                                      \
       i < (n); i += (::loom::kernels::index_t)blockDim.x * gridDim.x)
