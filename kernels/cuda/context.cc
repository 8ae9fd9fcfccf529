// loom's per-device CUDA stream and cuBLAS handle (see context.h).
#include "kernels/cuda/context.h"

#include <array>
#include <mutex>

#include "core/error.h"

namespace loom::kernels::cuda {

namespace {
constexpr int kMaxDevices = 64;
constexpr size_t kCublasWorkspaceBytes = 32u << 20;  // fixed: deterministic cuBLAS

struct DeviceContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* workspace = nullptr;
};

std::array<DeviceContext, kMaxDevices> g_contexts;
std::array<std::once_flag, kMaxDevices> g_once;

DeviceContext& context() {
  int device = 0;
  LOOM_CUDA_CHECK(cudaGetDevice(&device));
  LOOM_CHECK(device < kMaxDevices, "CUDA device {} is beyond loom's limit of {}", device,
             kMaxDevices);
  std::call_once(g_once[device], [device] {
    DeviceContext& c = g_contexts[device];
    LOOM_CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
    LOOM_CUBLAS_CHECK(cublasCreate(&c.cublas));
    LOOM_CUBLAS_CHECK(cublasSetStream(c.cublas, c.stream));
    LOOM_CUBLAS_CHECK(cublasSetMathMode(c.cublas, CUBLAS_DEFAULT_MATH));
    LOOM_CUDA_CHECK(cudaMalloc(&c.workspace, kCublasWorkspaceBytes));
    LOOM_CUBLAS_CHECK(cublasSetWorkspace(c.cublas, c.workspace, kCublasWorkspaceBytes));
  });
  return g_contexts[device];
}
}  // namespace

cudaStream_t stream() { return context().stream; }
cublasHandle_t cublas() { return context().cublas; }

void synchronize() { LOOM_CUDA_CHECK(cudaStreamSynchronize(stream())); }

void fail_call(const char* api, const char* call, const char* message, const char* file,
               int line) {
  throw Error(fmt::format("{} error in {} at {}:{}: {}", api, call, file, line, message));
}

}  // namespace loom::kernels::cuda
