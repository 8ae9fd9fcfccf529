// Probes for compute-sanitizer initcheck (issue 9; docs/gpu-runs/2026-11-30-h200-b/
// README.md): does initcheck see the stores of the cuBLAS kernels that compute
// a recurrent layer's input gradient? Each test writes buffers straight from
// cudaMalloc (never touched by any other store) ONLY through the GEMM of
// kernels/rnn_algorithm.h's backward, dx [R, C] = dg [R, G] W_ih [G, C], with
// the shapes of MatmulPrecisionCuda's 2-layer bidirectional LSTM (R = T N =
// 640, G = 4H = 1024; C = 2H = 512 for the second layer, C = 256 for the
// first), then reads every element of dx once with loom's elementwise add
// (binary_kernel<float>, out = dx + b with b initialised), as the autograd
// engine does when it sums the two directions' input gradients.
//
// Without a sanitizer, every test checks out against float64 (so the GEMM
// did write every element). Under initcheck, run each alone, e.g.
//     tools/gpu_bundle.sh remote 'initcheck=InitcheckProbeCuda.Tf32GemmOutputReadByAdd'
// (the side-stream and float32 tests likewise) and read its ERROR SUMMARY:
// one report per element of dx that initcheck thinks unwritten, so 0 =
// initcheck sees both GEMMs' stores; 327,680 (= 640 x 512) = it misses the
// second layer's, 163,840 (= 640 x 256) the first layer's, 491,520 both.
// Anything but 0 means initcheck does not see that cuBLAS kernel's stores
// (nothing else writes or reads dx): the reports on the recurrent layers'
// backward are then false positives. The "highest" (float32) test is the
// control. These tests are deliberately NOT in tests/sanitizer_filters.txt:
// their initcheck count is the finding itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/matmul_precision.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "testing.h"

#ifdef LOOM_WITH_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/context.h"
#endif

namespace loom {
namespace {

// The elements of out = dg W + b (b: the first R C elements of dg, dg [R, G],
// W [G, C], float32 on the host) that are NaN or farther from float64 than the
// GEMM's error bound (Higham 3.5; input rounding v = 2^-10 under "high", 0
// under "highest") plus the roundings of the product and of the sum. Prints
// the worst error in units of the bound.
std::size_t count_beyond_bound(const std::vector<float>& out, const Tensor& dg, const Tensor& w,
                               const std::string& precision) {
  const std::int64_t R = dg.size(0), G = dg.size(1), C = w.size(1);
  const Tensor dg64 = dg.to(kFloat64), w64 = w.to(kFloat64);
  const std::vector<double> exact = matmul(dg64, w64).to_vector<double>();
  const std::vector<double> size = matmul(abs(dg64), abs(w64)).to_vector<double>();
  const std::vector<double> b = dg64.reshape({R * G}).to_vector<double>();
  const double u = 0x1p-24, v = precision == "highest" ? 0.0 : 0x1p-10;
  const double g = static_cast<double>(G) * u / (1 - static_cast<double>(G) * u);
  const double rel = (1 + v) * (1 + v) * (1 + g) - 1 + u;  // the GEMM, then dx rounded to float32
  std::size_t bad = 0, at = 0;
  double worst = 0;
  for (std::size_t i = 0; i < out.size() && i < exact.size(); ++i) {
    const double expected = exact[i] + b[i];
    const double bound = rel * size[i] + 2 * u * (size[i] + std::abs(b[i]));
    const double ratio = std::abs(out[i] - expected) / bound;
    if (!(ratio <= 1)) ++bad;  // NaN counts as bad
    if (!(ratio <= worst)) worst = ratio, at = i;
  }
  if (out.size() != static_cast<std::size_t>(R * C)) return out.size() + 1;
  std::printf("[ measured ] %s, dx [%lld, %lld]: dx + b, worst error / bound %.3g (at %zu: got %.9g, "
              "float64 %.9g)\n", precision.c_str(), static_cast<long long>(R), static_cast<long long>(C),
              worst, at, static_cast<double>(out[at]), exact[at] + b[at]);
  return bad;
}

// The check above on the CPU (OpenBLAS float32, the same GEMM and add): it
// accepts the right sum and refuses one without b, with one element off by a
// few bounds, or with a NaN (what reading poisoned memory would give).
TEST(InitcheckProbe, CpuSumPassesTheProbesCheckAndWrongSumsFail) {
  const kernels::index_t R = 64, C = 48, G = 1024;
  Tensor dg = testing::random_tensor({R, G}, 41, kFloat32), w = testing::random_tensor({G, C}, 42, kFloat32);
  const float* pdg = static_cast<const float*>(dg.data_ptr());
  std::vector<float> dx(R * C), out(R * C);
  kernels::gemm_cpu<float>(false, false, R, C, G, 1.0f, pdg, G, static_cast<const float*>(w.data_ptr()),
                           C, 0.0f, dx.data(), C);
  kernels::OffsetCalc<2> contiguous;
  contiguous.ndim = 1;
  contiguous.sizes[0] = R * C;
  contiguous.strides[0][0] = contiguous.strides[1][0] = 1;
  kernels::binary_cpu<float>(kernels::BinaryOp::Add, R * C, contiguous, dx.data(), pdg, out.data());
  EXPECT_EQ(count_beyond_bound(out, dg, w, "highest"), 0u);
  EXPECT_EQ(count_beyond_bound(out, dg, w, "high"), 0u);
  // |b| is uniform in [0, 1); the float32 bound here is about 6e-5 x 256.
  EXPECT_GT(count_beyond_bound(dx, dg, w, "highest"), static_cast<std::size_t>(R * C * 9 / 10)) << "b left out";
  // Element 7 (row 0, column 7) moved by 3 of its "high" bounds: rel ~ 2^-9 times sum_k |dg_0k| |w_k7|.
  double size7 = 0;
  for (kernels::index_t k = 0; k < G; ++k)
    size7 += std::abs(static_cast<double>(pdg[k])) * std::abs(static_cast<double>(static_cast<const float*>(w.data_ptr())[k * C + 7]));
  std::vector<float> off = out;
  off[7] += static_cast<float>(3 * 0x1p-9 * size7 + 1e-3);
  EXPECT_EQ(count_beyond_bound(off, dg, w, "high"), 1u) << "one element off by 3 bounds";
  off = out;
  off[R * C - 1] = NAN;
  EXPECT_EQ(count_beyond_bound(off, dg, w, "highest"), 1u) << "a NaN";
}

#ifdef LOOM_WITH_CUDA
// `n` floats straight from cudaMalloc: no memset, not loom's caching allocator
// (whose blocks may have been written before), freed on scope exit.
struct FreshDeviceFloats {
  float* ptr = nullptr;
  explicit FreshDeviceFloats(std::size_t n) { LOOM_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(float))); }
  FreshDeviceFloats(const FreshDeviceFloats&) = delete;
  FreshDeviceFloats& operator=(const FreshDeviceFloats&) = delete;
  ~FreshDeviceFloats() { cudaFree(ptr); }
};

// dx = dg W_ih (dg [R, G], W_ih [G, C]) by loom's gemm_cuda into fresh
// memory, then out = dx + b by binary_cuda (b: the first R C elements of dg,
// initialised); checks out against float64 within the GEMM's error bound
// (Higham 3.5; input rounding v = 2^-10 under "high", 0 under "highest") plus
// the roundings of dx and of the sum.
// With `side`, the GEMM runs on side stream 1 inside a SideStreamFork, as the
// reverse direction's does in nn/fused_rnn.cc, and the add on the main stream
// after the join.
void gemm_then_add(const std::string& precision, kernels::index_t R, kernels::index_t C,
                   kernels::index_t G, bool side) {
  SCOPED_TRACE(fmt::format("{}: [{}, {}] x [{}, {}]{}", precision, R, G, G, C, side ? " on the side stream" : ""));
  Tensor dg = testing::random_tensor({R, G}, 41, kFloat32), w = testing::random_tensor({G, C}, 42, kFloat32);
  FreshDeviceFloats d_dg(R * G), d_w(G * C), d_dx(R * C), d_out(R * C);
  LOOM_CUDA_CHECK(cudaMemcpy(d_dg.ptr, dg.data_ptr(), R * G * sizeof(float), cudaMemcpyHostToDevice));
  LOOM_CUDA_CHECK(cudaMemcpy(d_w.ptr, w.data_ptr(), G * C * sizeof(float), cudaMemcpyHostToDevice));
  LOOM_CUDA_CHECK(cudaDeviceSynchronize());  // the uploads (legacy stream) before loom's stream reads them

  set_float32_matmul_precision(precision);
  // As rnn_algorithm.h: gemm(false, false, R, C, G, 1, dg, G, w_ih, C, 0, dx, C).
  {
    kernels::cuda::SideStreamFork fork(1);
    if (side) {
      kernels::cuda::StreamRoute route(1);
      kernels::gemm_cuda<float>(false, false, R, C, G, 1.0f, d_dg.ptr, G, d_w.ptr, C, 0.0f, d_dx.ptr, C);
    } else {
      kernels::gemm_cuda<float>(false, false, R, C, G, 1.0f, d_dg.ptr, G, d_w.ptr, C, 0.0f, d_dx.ptr, C);
    }
    fork.join();
  }
  kernels::OffsetCalc<2> contiguous;
  contiguous.ndim = 1;
  contiguous.sizes[0] = R * C;
  contiguous.strides[0][0] = contiguous.strides[1][0] = 1;
  kernels::binary_cuda<float>(kernels::BinaryOp::Add, R * C, contiguous, d_dx.ptr, d_dg.ptr, d_out.ptr);
  kernels::cuda::synchronize();

  std::vector<float> out(R * C);
  LOOM_CUDA_CHECK(cudaMemcpy(out.data(), d_out.ptr, R * C * sizeof(float), cudaMemcpyDeviceToHost));
  const std::size_t bad = count_beyond_bound(out, dg, w, precision);
  EXPECT_EQ(bad, 0u);
}

// Both layers' input-gradient GEMMs of MatmulPrecisionCuda's workload under
// `precision`, on the main stream or (`side`) on side stream 1.
void probe(const std::string& precision, bool side = false) {
  const std::string previous = get_float32_matmul_precision();
  struct Restore {
    std::string p;
    ~Restore() { set_float32_matmul_precision(p); }
  } restore{previous};
  gemm_then_add(precision, 640, 512, 1024, side);  // second layer: C = 2H
  gemm_then_add(precision, 640, 256, 1024, side);  // first layer: C = 256
}
#endif

TEST(InitcheckProbeCuda, Tf32GemmOutputReadByAdd) {
  LOOM_SKIP_WITHOUT_CUDA();
#ifdef LOOM_WITH_CUDA
  probe("high");
#endif
}

// The same with the GEMMs on the side stream (the reverse direction's route).
TEST(InitcheckProbeCuda, Tf32GemmOnSideStreamOutputReadByAdd) {
  LOOM_SKIP_WITHOUT_CUDA();
#ifdef LOOM_WITH_CUDA
  probe("high", true);
#endif
}

TEST(InitcheckProbeCuda, Float32GemmOutputReadByAdd) {
  LOOM_SKIP_WITHOUT_CUDA();
#ifdef LOOM_WITH_CUDA
  probe("highest");
#endif
}

}  // namespace
}  // namespace loom
