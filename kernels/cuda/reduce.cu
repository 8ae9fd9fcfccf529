// Deterministic row reductions: one block per row, fixed strided partials,
// combined by CUB's block reduction (a fixed tree).
#include <cub/block/block_reduce.cuh>

#include <climits>
#include <cmath>
#include <type_traits>

#include "kernels/cuda/context.h"
#include "kernels/reduce.h"

namespace loom::kernels {

namespace {
constexpr int kThreads = 256;

// V: double for floating rows, long long for int64 rows (compared exactly).
template <typename V>
struct ArgMax {
  V value;
  index_t index;
};

template <typename V>
struct ArgMaxOp {
  __device__ ArgMax<V> operator()(const ArgMax<V>& a, const ArgMax<V>& b) const {
    // NaN wins; among equals, the lower index wins.
    if constexpr (!std::is_integral_v<V>) {
      bool a_nan = isnan(a.value), b_nan = isnan(b.value);
      if (a_nan || b_nan) {
        if (a_nan && b_nan) return a.index <= b.index ? a : b;
        return a_nan ? a : b;
      }
    }
    if (a.value != b.value) return a.value > b.value ? a : b;
    return a.index <= b.index ? a : b;
  }
};

template <typename T>
__global__ void reduce_rows_kernel(ReduceOp op, index_t inner,
                                   const T* x,         // [outer, inner]
                                   T* out,             // [outer]
                                   index_t* indices) {  // [outer] or null
  const T* row = x + blockIdx.x * inner;
  constexpr bool kIntegral = std::is_integral_v<T>;
  using V = std::conditional_t<kIntegral, long long, double>;  // exact for both
  if (op == ReduceOp::Max) {
    using Reduce = cub::BlockReduce<ArgMax<V>, kThreads>;
    __shared__ typename Reduce::TempStorage temp;
    // An idle thread's candidate: the lowest value at index `inner`, so it never wins
    // over a real element (a tie with one goes to the lower index).
    const V lowest = kIntegral ? static_cast<V>(LLONG_MIN) : static_cast<V>(-INFINITY);
    ArgMax<V> best{lowest, inner};
    bool first = true;
    for (index_t i = threadIdx.x; i < inner; i += kThreads) {
      ArgMax<V> cand{static_cast<V>(row[i]), i};
      best = first ? cand : ArgMaxOp<V>()(best, cand);
      first = false;
    }
    if (first) best = ArgMax<V>{lowest, inner};
    ArgMax<V> r = Reduce(temp).Reduce(best, ArgMaxOp<V>());
    if (threadIdx.x == 0) {
      out[blockIdx.x] = static_cast<T>(r.value);
      if (indices) indices[blockIdx.x] = r.index;
    }
    return;
  }
  if constexpr (kIntegral) {  // exact, wrapping sum (unsigned arithmetic)
    using Reduce = cub::BlockReduce<unsigned long long, kThreads>;
    __shared__ typename Reduce::TempStorage temp;
    unsigned long long acc = 0;
    for (index_t i = threadIdx.x; i < inner; i += kThreads)
      acc += static_cast<unsigned long long>(row[i]);
    unsigned long long total = Reduce(temp).Sum(acc);
    if (threadIdx.x == 0) out[blockIdx.x] = static_cast<T>(total);
  } else {
    using Reduce = cub::BlockReduce<double, kThreads>;
    __shared__ typename Reduce::TempStorage temp;
    double acc = 0;
    for (index_t i = threadIdx.x; i < inner; i += kThreads) acc += static_cast<double>(row[i]);
    double total = Reduce(temp).Sum(acc);
    if (threadIdx.x == 0) {
      if (op == ReduceOp::Mean) total = inner == 0 ? NAN : total / static_cast<double>(inner);
      out[blockIdx.x] = static_cast<T>(total);
    }
  }
}
}  // namespace

template <typename T>
void reduce_rows_cuda(ReduceOp op, index_t outer, index_t inner, const T* x, T* out,
                      index_t* indices) {
  for (index_t start = 0; start < outer; start += 65535LL * 1024) {
    index_t rows = outer - start < 65535LL * 1024 ? outer - start : 65535LL * 1024;
    if (rows <= 0) break;
    // gridDim.x allows 2^31-1 blocks; chunking keeps the arithmetic in range.
    reduce_rows_kernel<T><<<static_cast<unsigned>(rows), kThreads, 0, cuda::stream()>>>(
        op, inner, x + start * inner, out + start, indices ? indices + start : nullptr);
    LOOM_CUDA_CHECK_LAUNCH();
  }
}

template void reduce_rows_cuda<float>(ReduceOp, index_t, index_t, const float*, float*, index_t*);
template void reduce_rows_cuda<std::int64_t>(ReduceOp, index_t, index_t, const std::int64_t*,
                                             std::int64_t*, index_t*);
template void reduce_rows_cuda<double>(ReduceOp, index_t, index_t, const double*, double*,
                                       index_t*);

}  // namespace loom::kernels
