// GEMM with an empty inner dimension (K = 0): C = alpha * [M, 0] x [0, N] +
// beta * C is beta * C, and exactly 0 where beta is 0 (whatever C held, NaN
// included: BLAS does not read C then). cuBLAS is not called for K = 0; the
// CUDA path runs loom's own scale kernel (kernels/cuda/gemm.cu), which no other
// test reaches. Expected values are written out here, not taken from either
// device. Row-major with ldc > N, so the padding between rows must stay as it was.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "testing.h"

#if defined(LOOM_WITH_CUDA)
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/context.h"
#endif

namespace loom::kernels {
namespace {

constexpr index_t kM = 3, kN = 5, kLdc = 7;  // C [kM, kLdc], the first kN columns in use
constexpr index_t kBatch = 2;                // batched: two such matrices, kM * kLdc apart

// C before the product: element (b, i, j) holds 1 + b * 100 + i * 10 + j, and the
// padding columns j >= kN hold -7; a NaN at (0, 1, 2) checks that beta = 0 ignores it.
template <typename T>
std::vector<T> initial_c() {
  std::vector<T> c(static_cast<std::size_t>(kBatch * kM * kLdc));
  for (index_t b = 0; b < kBatch; ++b)
    for (index_t i = 0; i < kM; ++i)
      for (index_t j = 0; j < kLdc; ++j)
        c[static_cast<std::size_t>((b * kM + i) * kLdc + j)] =
            j < kN ? T(1 + b * 100 + i * 10 + j) : T(-7);
  c[static_cast<std::size_t>(1 * kLdc + 2)] = std::numeric_limits<T>::quiet_NaN();
  return c;
}

// What every element must be after C = alpha * A B + beta * C with K = 0 over
// the first `batches` matrices.
template <typename T>
std::vector<T> expected_c(T beta, index_t batches) {
  std::vector<T> c = initial_c<T>();
  for (index_t b = 0; b < batches; ++b)
    for (index_t i = 0; i < kM; ++i)
      for (index_t j = 0; j < kN; ++j) {
        T& x = c[static_cast<std::size_t>((b * kM + i) * kLdc + j)];
        x = beta == T(0) ? T(0) : beta * x;
      }
  return c;
}

// Equal elements, NaN equal to NaN (the NaN that beta = 0.5 keeps).
template <typename T>
void expect_same(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t k = 0; k < want.size(); ++k) {
    if (std::isnan(want[k])) {
      EXPECT_TRUE(std::isnan(got[k])) << what << " element " << k << ": " << got[k];
    } else {
      EXPECT_EQ(got[k], want[k]) << what << " element " << k;
    }
  }
}

// Runs one single and one batched K = 0 product per beta through `run`, which
// takes (batched, beta, C on the host) and leaves the result in C.
template <typename T, typename Run>
void check_empty_inner_dimension(Run run, const std::string& device) {
  for (T beta : {T(0), T(0.5), T(1)}) {
    for (bool batched : {false, true}) {
      std::vector<T> c = initial_c<T>();
      run(batched, beta, c);
      expect_same(c, expected_c<T>(beta, batched ? kBatch : 1),
                  device + (batched ? " batched" : " single") + " beta " + std::to_string(beta) +
                      (sizeof(T) == 4 ? " float" : " double"));
    }
  }
}

// A and B are never read for K = 0; they point at a one-element dummy.
template <typename T>
void run_cpu(bool batched, T beta, std::vector<T>& c) {
  const T dummy[1] = {T(0)};
  if (batched) {
    gemm_batched_cpu<T>(false, false, kBatch, kM, kN, 0, T(2), dummy, 1, 0, dummy, kN, 0, beta,
                        c.data(), kLdc, kM * kLdc);
  } else {
    gemm_cpu<T>(false, false, kM, kN, 0, T(2), dummy, 1, dummy, kN, beta, c.data(), kLdc);
  }
}

TEST(Gemm, EmptyInnerDimensionScalesOrZeroesC) {
  check_empty_inner_dimension<float>(run_cpu<float>, "cpu");
  check_empty_inner_dimension<double>(run_cpu<double>, "cpu");
}

#if defined(LOOM_WITH_CUDA)
template <typename T>
void run_cuda(bool batched, T beta, std::vector<T>& c) {
  T* dev = nullptr;
  T* dummy = nullptr;
  const std::size_t bytes = sizeof(T) * c.size();
  LOOM_CUDA_CHECK(cudaMalloc(&dev, bytes));
  LOOM_CUDA_CHECK(cudaMalloc(&dummy, sizeof(T)));
  LOOM_CUDA_CHECK(cudaMemset(dummy, 0, sizeof(T)));
  LOOM_CUDA_CHECK(cudaMemcpy(dev, c.data(), bytes, cudaMemcpyHostToDevice));
  LOOM_CUDA_CHECK(cudaDeviceSynchronize());  // loom's stream does not wait for the legacy one
  if (batched) {
    gemm_batched_cuda<T>(false, false, kBatch, kM, kN, 0, T(2), dummy, 1, 0, dummy, kN, 0, beta,
                         dev, kLdc, kM * kLdc);
  } else {
    gemm_cuda<T>(false, false, kM, kN, 0, T(2), dummy, 1, dummy, kN, beta, dev, kLdc);
  }
  cuda::synchronize();
  LOOM_CUDA_CHECK(cudaMemcpy(c.data(), dev, bytes, cudaMemcpyDeviceToHost));
  LOOM_CUDA_CHECK(cudaFree(dev));
  LOOM_CUDA_CHECK(cudaFree(dummy));
}
#endif

TEST(GemmCuda, EmptyInnerDimensionScalesOrZeroesC) {
  LOOM_SKIP_WITHOUT_CUDA();
#if defined(LOOM_WITH_CUDA)
  check_empty_inner_dimension<float>(run_cuda<float>, "cuda");
  check_empty_inner_dimension<double>(run_cuda<double>, "cuda");
#endif
}

}  // namespace
}  // namespace loom::kernels
