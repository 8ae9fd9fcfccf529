// The 32-bit size limit of the BLAS libraries behind kernels/gemm.h.
#include "core/error.h"
#include "kernels/gemm.h"

namespace loom::kernels {

void gemm_check_sizes(const char* who, index_t M, index_t N, index_t K, index_t lda, index_t ldb,
                      index_t ldc, index_t batch) {
  const struct {
    const char* name;
    index_t value;
  } values[] = {{"M", M}, {"N", N}, {"K", K}, {"batch", batch},
                {"lda", lda}, {"ldb", ldb}, {"ldc", ldc}};
  for (const auto& v : values)
    LOOM_CHECK(v.value <= kMaxGemmSize,
               "{}: {} = {} exceeds {}, the largest size BLAS and cuBLAS accept (they take 32-bit "
               "int sizes; M = {}, N = {}, K = {})",
               who, v.name, v.value, kMaxGemmSize, M, N, K);
}

}  // namespace loom::kernels
