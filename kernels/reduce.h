// Row reductions: x viewed as [outer, inner], reduced over inner.
// Fixed summation order on both devices (deterministic): the CPU reference
// sums sequentially in double; CUDA gives one block per row, each thread a
// fixed strided partial, combined by a fixed block-reduction tree.
#pragma once

#include "kernels/common.h"

namespace loom::kernels {

enum class ReduceOp : int { Sum, Mean, Max };

// T: float, double, int64_t (integer sums are exact and wrap; Mean is for
// floating T only). out: [outer]; for Max, indices (may be null): [outer], the first maximum's
// position within its row (NaN counts as the maximum, as PyTorch). inner >= 1
// for Max; an empty Sum gives 0 and an empty Mean gives NaN.
template <typename T>
void reduce_rows_cpu(ReduceOp op, index_t outer, index_t inner, const T* x /* [outer, inner] */,
                     T* out /* [outer] */, index_t* indices /* [outer] or null */);

#if defined(LOOM_WITH_CUDA)
template <typename T>
void reduce_rows_cuda(ReduceOp op, index_t outer, index_t inner, const T* x, T* out,
                      index_t* indices);
#endif

}  // namespace loom::kernels
