// loom's per-device CUDA streams and cuBLAS handles (see context.h).
#include "kernels/cuda/context.h"

#include <array>
#include <mutex>

#include "core/error.h"

namespace loom::kernels::cuda {

namespace {
constexpr int kMaxDevices = 64;
constexpr int kStreams = 1 + kSideStreams;           // main + side streams
constexpr size_t kCublasWorkspaceBytes = 32u << 20;  // fixed per handle: deterministic cuBLAS

// One stream with its cuBLAS handle and workspace, and the events used to
// order it against the main stream (side streams only).
struct StreamContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* workspace = nullptr;
  cudaEvent_t fork_event = nullptr;  // recorded on the main stream, waited for by this one
  cudaEvent_t join_event = nullptr;  // recorded on this stream, waited for by the main one
};

std::array<std::array<StreamContext, kStreams>, kMaxDevices> g_contexts;
std::array<std::array<std::once_flag, kStreams>, kMaxDevices> g_once;

// The route of the calling thread: 0 = main stream, k = side stream k.
thread_local int t_route = 0;

void create(StreamContext& c, bool side) {
  LOOM_CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
  LOOM_CUBLAS_CHECK(cublasCreate(&c.cublas));
  LOOM_CUBLAS_CHECK(cublasSetStream(c.cublas, c.stream));
  LOOM_CUBLAS_CHECK(cublasSetPointerMode(c.cublas, CUBLAS_POINTER_MODE_HOST));
  LOOM_CUBLAS_CHECK(cublasSetMathMode(c.cublas, CUBLAS_DEFAULT_MATH));
  LOOM_CUBLAS_CHECK(cublasSetAtomicsMode(c.cublas, CUBLAS_ATOMICS_NOT_ALLOWED));
  LOOM_CUDA_CHECK(cudaMalloc(&c.workspace, kCublasWorkspaceBytes));
  LOOM_CUBLAS_CHECK(cublasSetWorkspace(c.cublas, c.workspace, kCublasWorkspaceBytes));
  if (side) {
    LOOM_CUDA_CHECK(cudaEventCreateWithFlags(&c.fork_event, cudaEventDisableTiming));
    LOOM_CUDA_CHECK(cudaEventCreateWithFlags(&c.join_event, cudaEventDisableTiming));
  }
}

// Stream `index` of the current device, created on first use.
StreamContext& context(int index) {
  int device = 0;
  LOOM_CUDA_CHECK(cudaGetDevice(&device));
  LOOM_CHECK(device < kMaxDevices, "CUDA device {} is beyond loom's limit of {}", device,
             kMaxDevices);
  LOOM_CHECK(index >= 0 && index < kStreams, "loom stream index {} out of range [0, {})", index,
             kStreams);
  std::call_once(g_once[device][index],
                 [device, index] { create(g_contexts[device][index], index > 0); });
  return g_contexts[device][index];
}

void check_side(int index) {
  LOOM_CHECK(index >= 1 && index <= kSideStreams, "side stream index must be in [1, {}], got {}",
             kSideStreams, index);
}
}  // namespace

cudaStream_t stream() { return context(t_route).stream; }
cublasHandle_t cublas() { return context(t_route).cublas; }
cudaStream_t main_stream() { return context(0).stream; }

void synchronize() { LOOM_CUDA_CHECK(cudaStreamSynchronize(stream())); }

SideStreamFork::SideStreamFork(int index) : index_(index) {
  check_side(index);
  LOOM_CUDA_CHECK(cudaGetDevice(&device_));
  StreamContext& main = context(0);
  StreamContext& side = context(index);
  LOOM_CUDA_CHECK(cudaEventRecord(side.fork_event, main.stream));
  LOOM_CUDA_CHECK(cudaStreamWaitEvent(side.stream, side.fork_event, 0));
}

void SideStreamFork::join() {
  LOOM_CHECK(!joined_, "SideStreamFork::join called twice");
  joined_ = true;
  StreamContext& main = g_contexts[device_][0];  // both created by the constructor
  StreamContext& side = g_contexts[device_][index_];
  LOOM_CUDA_CHECK(cudaEventRecord(side.join_event, side.stream));
  LOOM_CUDA_CHECK(cudaStreamWaitEvent(main.stream, side.join_event, 0));
}

SideStreamFork::~SideStreamFork() {
  if (joined_) return;
  // Unwinding (or a caller that forgot): order the main stream after the side
  // stream all the same, without throwing from a destructor. Both streams exist.
  StreamContext& main = g_contexts[device_][0];
  StreamContext& side = g_contexts[device_][index_];
  if (cudaEventRecord(side.join_event, side.stream) == cudaSuccess)
    (void)cudaStreamWaitEvent(main.stream, side.join_event, 0);
  (void)cudaGetLastError();
}

StreamRoute::StreamRoute(int index) : previous_(t_route) {
  check_side(index);
  (void)context(index);  // create it now, outside any launch sequence
  t_route = index;
}

StreamRoute::~StreamRoute() { t_route = previous_; }

void fail_call(const char* api, const char* call, const char* message, const char* file,
               int line) {
  throw Error(fmt::format("{} error in {} at {}:{}: {}", api, call, file, line, message));
}

}  // namespace loom::kernels::cuda
