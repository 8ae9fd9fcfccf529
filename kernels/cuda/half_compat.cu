// Checks, at compile time, that loom's 16-bit types (kernels/half.h) have the
// size, alignment and bit layout of CUDA's __nv_bfloat16 and __half, so a
// kernel may reinterpret a loom::bfloat16* as a __nv_bfloat16* (and cuBLAS
// may read loom's buffers as CUDA_R_16BF / CUDA_R_16F), and that
// loom's conversions agree with CUDA's on values where both are defined
// (tests/core/half_cuda_test.cc compares every bit pattern on the device).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "kernels/cuda/context.h"
#include "kernels/half.h"

namespace loom::kernels {

static_assert(sizeof(bfloat16) == sizeof(__nv_bfloat16) && alignof(bfloat16) == alignof(__nv_bfloat16));
static_assert(sizeof(float16) == sizeof(__half) && alignof(float16) == alignof(__half));
static_assert(std::is_trivially_copyable_v<__nv_bfloat16> && std::is_trivially_copyable_v<__half>);

namespace {
// out[i] = loom's bits XOR CUDA's bits of the rounding of x[i] (0 where they
// agree); NaN inputs are skipped by the caller.
__global__ void compare_rounding_kernel(std::int64_t n, const float* x,  // [n]
                                        std::uint32_t* out) {            // [n]
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    bfloat16 a(x[i]);
    float16 b(x[i]);
    __nv_bfloat16 ca = __float2bfloat16_rn(x[i]);
    __half cb = __float2half_rn(x[i]);
    std::uint16_t ra, rb;
    memcpy(&ra, &ca, 2);
    memcpy(&rb, &cb, 2);
    out[i] = (static_cast<std::uint32_t>(a.bits ^ ra) << 16) | static_cast<std::uint32_t>(b.bits ^ rb);
  }
}
}  // namespace

void compare_half_rounding_with_cuda(std::int64_t n, const float* x, std::uint32_t* out) {
  if (n == 0) return;
  compare_rounding_kernel<<<cuda::blocks_for(n, 256), 256, 0, cuda::stream()>>>(n, x, out);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace loom::kernels
