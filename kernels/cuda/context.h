// The CUDA execution context every launcher uses: loom's stream, the cuBLAS
// handle bound to it, and the checks that turn CUDA/cuBLAS failures into
// loom::Error naming the call, the file and the line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/common.h"

namespace loom::kernels::cuda {

// Each device has loom's MAIN stream (index 0), where all loom work is queued
// in order, and kSideStreams SIDE streams (indices 1..kSideStreams), created on
// first use, where a caller may run independent work concurrently (the reverse
// direction of a bidirectional recurrent layer). Every stream has its own
// cuBLAS handle with its own fixed-size, loom-owned workspace, so concurrent
// GEMMs never share scratch and cuBLAS stays bit-reproducible (cuBLAS guide,
// "Results reproducibility": one handle and workspace per stream).
inline constexpr int kSideStreams = 1;

// The stream the calling thread's launches go to on the current device: the
// main stream, or the side stream a live StreamRoute selected.
cudaStream_t stream();
// The cuBLAS handle bound to stream(): workspace fixed per handle
// (deterministic), pointer mode host, CUBLAS_ATOMICS_NOT_ALLOWED, and
// CUBLAS_DEFAULT_MATH at creation; gemm.cu sets the math mode before each
// GEMM (TF32 or not: kernels/cuda/gemm_math.h).
cublasHandle_t cublas();
// loom's main stream on the current device, whatever route is active.
cudaStream_t main_stream();
// Waits for all work on stream() (the main stream unless a StreamRoute is
// active); reports an asynchronous failure as loom::Error. Side-stream work is
// always joined into the main stream before control returns to loom's
// callers (SideStreamFork), so waiting for the main stream waits for it too.
void synchronize();

// Fork/join of side stream `index` (1..kSideStreams) with the main stream of
// the current device. Construction makes the side stream wait for everything
// queued on the main stream so far (an event recorded on main); join() makes
// the main stream wait for everything queued on the side stream so far. The
// destructor joins if join() was not called (also when unwinding after an
// error), so nothing queued on the side stream can outlive the fork unordered.
//
// Memory rule (the caching allocator of core/allocator.cc is not stream-aware:
// it hands a freed block out again at once, trusting stream order): the side
// stream may only touch memory that was allocated BEFORE the fork and is freed
// only AFTER the join. Then every earlier use of a reused block is ordered
// before the side stream's work by the fork event, and every later reuse is
// ordered after it by the join. So: allocate everything the side work needs,
// fork, launch (no allocation, no copy to or from the host, no free of those
// buffers), join, then let the buffers go.
class SideStreamFork {
 public:
  explicit SideStreamFork(int index = 1);
  ~SideStreamFork();
  SideStreamFork(const SideStreamFork&) = delete;
  SideStreamFork& operator=(const SideStreamFork&) = delete;
  // The main stream waits for the side stream's work queued so far. Throws
  // loom::Error if CUDA fails. At most once.
  void join();
  int index() const { return index_; }

 private:
  int device_ = 0;  // the current device at construction
  int index_;
  bool joined_ = false;
};

// For its lifetime, routes the calling thread's stream() and cublas() (and so
// every loom launcher) to side stream `index` of the current device; restores
// the previous route when destroyed. Use it inside a SideStreamFork.
class StreamRoute {
 public:
  explicit StreamRoute(int index);
  ~StreamRoute();
  StreamRoute(const StreamRoute&) = delete;
  StreamRoute& operator=(const StreamRoute&) = delete;

 private:
  int previous_;
};

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
