// CUDA recurrent layer (contract in kernels/rnn.h): the algorithm of
// kernels/rnn_algorithm.h with cuBLAS GEMMs and one thread per (n, j) element
// in the fused step kernels. For bfloat16 / float16 storage every GEMM is a
// cublasGemmEx on tensor cores: 16-bit operands, CUBLAS_COMPUTE_32F, and a
// float32 or 16-bit output as the algorithm asks. Everything runs in order on cuda::stream() (the
// calling thread's current loom stream, main or side), with no host
// synchronisation and no allocation.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

#include "kernels/cuda/context.h"
#include "kernels/cuda/persistent_rnn.h"
#include "kernels/gemm.h"
#include "kernels/gemm_precision.h"
#include "kernels/half.h"
#include "kernels/rnn.h"
#include "kernels/rnn_algorithm.h"
#include "kernels/rnn_persistent.h"
#include "kernels/rnn_persistent_algorithm.h"
#include "kernels/rnn_wavefront.h"
#include "kernels/rnn_wavefront_algorithm.h"

namespace loom::kernels {

namespace {
constexpr int kThreads = 256;

template <typename T>
__global__ void rnn_step_forward_kernel(rnn_detail::RnnStepForward<T> s) {
  LOOM_CUDA_KERNEL_LOOP(i, s.rows * s.H) {
    rnn_detail::rnn_step_forward_point(s, i / s.H, i % s.H);
  }
}

template <typename T>
__global__ void rnn_step_backward_kernel(rnn_detail::RnnStepBackward<T> s) {
  LOOM_CUDA_KERNEL_LOOP(i, s.rows * s.H) {
    rnn_detail::rnn_step_backward_point(s, i / s.H, i % s.H);
  }
}

template <typename T>
__global__ void rnn_step_forward_output_kernel(rnn_detail::RnnStepForward<T> s) {
  LOOM_CUDA_KERNEL_LOOP(i, s.rows * s.H) {
    rnn_detail::rnn_step_forward_output_point(s, i / s.H, i % s.H);
  }
}

template <typename T>
__global__ void rnn_step_backward_output_kernel(rnn_detail::RnnStepBackward<T> s) {
  LOOM_CUDA_KERNEL_LOOP(i, s.rows * s.H) {
    rnn_detail::rnn_step_backward_output_point(s, i / s.H, i % s.H);
  }
}

// The sum of v over the block (kThreads threads, a power of two) in a fixed
// tree order, returned to every thread. `shared` holds kThreads values.
template <typename F>
__device__ F block_sum(F v, F* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const F sum = shared[0];
  __syncthreads();  // `shared` may be reused at once
  return sum;
}

// RowLayerNorm: one block per row; thread k handles columns k, k + kThreads, ...
// Mean, then the biased variance from a second pass, then the elements (the
// math of kernels/rnn_cells.h). Fixed summation order: deterministic.
template <typename S>
__global__ void layer_norm_rows_kernel(rnn_detail::RowLayerNorm<S> l) {
  using F = opmath_t<S>;
  __shared__ F shared[kThreads];
  const index_t n = blockIdx.x, cols = l.cols;
  F* v = l.v + n * cols;
  F acc = F(0);
  for (index_t j = threadIdx.x; j < cols; j += kThreads) acc += v[j];
  const F mean = block_sum(acc, shared) / F(cols);
  acc = F(0);
  for (index_t j = threadIdx.x; j < cols; j += kThreads) acc += (v[j] - mean) * (v[j] - mean);
  const F rstd = layer_norm_rstd(block_sum(acc, shared) / F(cols), l.eps);
  if (l.rstd && threadIdx.x == 0) l.rstd[n] = static_cast<S>(rstd);
  for (index_t j = threadIdx.x; j < cols; j += kThreads) {
    const F xhat = layer_norm_xhat(v[j], mean, rstd);
    if (l.xhat) l.xhat[n * cols + j] = static_cast<S>(xhat);
    v[j] = xhat * F(l.w[j]) + F(l.b[j]);
  }
}

// RowLayerNormBackward: one block per row, as layer_norm_rows_kernel. Every
// thread reads its own elements of dy before writing them to dx (dx may be dy).
template <typename S>
__global__ void layer_norm_rows_backward_kernel(rnn_detail::RowLayerNormBackward<S> l) {
  using F = opmath_t<S>;
  __shared__ F shared[kThreads];
  const index_t n = blockIdx.x, cols = l.cols;
  const S* dy = l.dy + n * cols;
  const S* xhat = l.xhat + n * cols;
  F a1 = F(0), a2 = F(0);
  for (index_t j = threadIdx.x; j < cols; j += kThreads) {
    const F wdy = F(l.w[j]) * F(dy[j]);
    a1 += wdy;
    a2 += wdy * F(xhat[j]);
  }
  const F m1 = block_sum(a1, shared) / F(cols);
  const F m2 = block_sum(a2, shared) / F(cols);
  const F rstd = F(l.rstd[n]);
  S* dx = l.dx + n * cols;
  for (index_t j = threadIdx.x; j < cols; j += kThreads)
    dx[j] = static_cast<S>(layer_norm_backward_point(F(dy[j]), F(l.w[j]), F(xhat[j]), rstd, m1, m2));
}

template <typename S>
__global__ void add_kernel(S* dst, const opmath_t<S>* a, const S* b, index_t n) {  // b may be null
  using F = opmath_t<S>;
  LOOM_CUDA_KERNEL_LOOP(i, n) { dst[i] = static_cast<S>(a[i] + (b ? F(b[i]) : F(0))); }
}

template <typename To, typename From>
__global__ void convert_kernel(To* dst, const From* src, index_t n) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { dst[i] = static_cast<To>(src[i]); }
}

// out[c] = sum over rows of m[r, c], in a fixed order: lane y of a 32 x 16
// block adds rows y, y + 16, ... in turn, then lane 0 adds the 16 partial sums
// in order. No atomics, so the result is the same bits on every run. Sums in
// F = opmath_t<S>, one rounding to S.
constexpr int kSumCols = 32, kSumLanes = 16;

template <typename S>
__global__ void column_sum_kernel(const S* m, index_t rows, index_t cols, S* out) {
  using F = opmath_t<S>;
  __shared__ F partial[kSumLanes][kSumCols + 1];
  const index_t col = static_cast<index_t>(blockIdx.x) * kSumCols + threadIdx.x;
  F acc = F(0);
  if (col < cols)
    for (index_t r = threadIdx.y; r < rows; r += kSumLanes) acc += F(m[r * cols + col]);
  partial[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    F sum = F(0);
    for (int k = 0; k < kSumLanes; ++k) sum += partial[k][threadIdx.x];
    out[col] = static_cast<S>(sum);
  }
}

// out[c] = sum over rows of a[r, c] * b[r, c], in column_sum_kernel's fixed order.
template <typename S>
__global__ void column_dot_kernel(const S* a, const S* b, index_t rows, index_t cols, S* out) {
  using F = opmath_t<S>;
  __shared__ F partial[kSumLanes][kSumCols + 1];
  const index_t col = static_cast<index_t>(blockIdx.x) * kSumCols + threadIdx.x;
  F acc = F(0);
  if (col < cols)
    for (index_t r = threadIdx.y; r < rows; r += kSumLanes) acc += F(a[r * cols + col]) * F(b[r * cols + col]);
  partial[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    F sum = F(0);
    for (int k = 0; k < kSumLanes; ++k) sum += partial[k][threadIdx.x];
    out[col] = static_cast<S>(sum);
  }
}

// cuBLAS's name for a GEMM operand or result type.
template <typename X>
cudaDataType_t cuda_type() {
  if constexpr (std::is_same_v<X, bfloat16>) return CUDA_R_16BF;
  else if constexpr (std::is_same_v<X, float16>) return CUDA_R_16F;
  else return CUDA_R_32F;
}

template <typename S>
struct CudaOps {
  using F = opmath_t<S>;

  // C [M, N] (Out = S or F) = alpha * op(A) op(B) + beta * C (rnn_algorithm.h).
  // Row-major through column-major cuBLAS as in gemm.cu: C^T = op(B)^T op(A)^T.
  template <typename Out>
  void gemm(bool ta, bool tb, index_t M, index_t N, index_t K, F alpha, const S* A, index_t lda,
            const S* B, index_t ldb, F beta, Out* C, index_t ldc) {
    if constexpr (std::is_same_v<S, F>) {
      gemm_cuda<S>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {  // M, N, K >= 1 always here (rnn_check_shape)
      // The handle's math mode does not matter here: with 16-bit operands and
      // CUBLAS_COMPUTE_32F the products are exact in float32 either way.
      const auto op = [](bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; };
      LOOM_CUBLAS_CHECK(cublasGemmEx(cuda::cublas(), op(tb), op(ta), static_cast<int>(N),
                                     static_cast<int>(M), static_cast<int>(K), &alpha, B,
                                     cuda_type<S>(), static_cast<int>(ldb), A, cuda_type<S>(),
                                     static_cast<int>(lda), &beta, C, cuda_type<Out>(),
                                     static_cast<int>(ldc), CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
    }
  }
  template <typename X>
  void copy(X* dst, const X* src, index_t n) {
    LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(X) * n, cudaMemcpyDeviceToDevice,
                                    cuda::stream()));
  }
  template <typename To, typename From>
  void convert(To* dst, const From* src, index_t n) {
    convert_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(dst, src, n);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  template <typename X>
  void zero(X* dst, index_t n) {  // all-zero bits are 0.0 in every floating type here
    LOOM_CUDA_CHECK(cudaMemsetAsync(dst, 0, sizeof(X) * n, cuda::stream()));
  }
  void add(S* dst, const F* a, const S* b, index_t n) {
    add_kernel<<<cuda::blocks_for(n, kThreads), kThreads, 0, cuda::stream()>>>(dst, a, b, n);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void step_forward(const rnn_detail::RnnStepForward<S>& s) {
    rnn_step_forward_kernel<<<cuda::blocks_for(s.rows * s.H, kThreads), kThreads, 0,
                              cuda::stream()>>>(s);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void step_backward(const rnn_detail::RnnStepBackward<S>& s) {
    rnn_step_backward_kernel<<<cuda::blocks_for(s.rows * s.H, kThreads), kThreads, 0,
                               cuda::stream()>>>(s);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void step_forward_output(const rnn_detail::RnnStepForward<S>& s) {
    rnn_step_forward_output_kernel<<<cuda::blocks_for(s.rows * s.H, kThreads), kThreads, 0,
                                     cuda::stream()>>>(s);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void step_backward_output(const rnn_detail::RnnStepBackward<S>& s) {
    rnn_step_backward_output_kernel<<<cuda::blocks_for(s.rows * s.H, kThreads), kThreads, 0,
                                      cuda::stream()>>>(s);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void layer_norm_rows(const rnn_detail::RowLayerNorm<S>& l) {
    layer_norm_rows_kernel<<<static_cast<unsigned>(l.rows), kThreads, 0, cuda::stream()>>>(l);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void layer_norm_rows_backward(const rnn_detail::RowLayerNormBackward<S>& l) {
    layer_norm_rows_backward_kernel<<<static_cast<unsigned>(l.rows), kThreads, 0, cuda::stream()>>>(l);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void column_dot(const S* a, const S* b, index_t rows, index_t cols, S* out) {
    const unsigned blocks = static_cast<unsigned>((cols + kSumCols - 1) / kSumCols);
    column_dot_kernel<<<blocks, dim3(kSumCols, kSumLanes), 0, cuda::stream()>>>(a, b, rows, cols, out);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  void persistent_forward(const rnn_detail::PersistentForward<S>& p) {
    cuda_persistent::launch_forward(p);
  }
  void persistent_backward(const rnn_detail::PersistentBackward<S>& p) {
    cuda_persistent::launch_backward(p);
  }
  void wavefront_forward(const rnn_detail::WavefrontForward<S>& p) {
    cuda_persistent::launch_wavefront(p);
  }
  void column_sum(const S* m, index_t rows, index_t cols, S* out) {
    const unsigned blocks = static_cast<unsigned>((cols + kSumCols - 1) / kSumCols);
    column_sum_kernel<<<blocks, dim3(kSumCols, kSumLanes), 0, cuda::stream()>>>(m, rows, cols, out);
    LOOM_CUDA_CHECK_LAUNCH();
  }
};
// ---- CUDA graphs (set_rnn_cuda_graphs) -----------------------------------------
//
// A layer call's launch sequence is a pure function of (shape, batch_sizes,
// every pointer in its arguments, the stream and cuBLAS handle it runs on, the
// device, the float32 matmul precision): nothing else is read on the host. So
// a graph captured from one call replays exactly what another call with the
// same key would launch. The cache maps the STRUCTURE (everything but the data
// pointers) to one executable graph and the pointers it was made for:
// - first call of a structure: runs directly (a warm-up, so that lazy module
//   loading and cuBLAS's first-call set-up never happen inside a capture);
// - later calls with the same pointers: launch the graph as it is;
// - later calls with other pointers: capture the call afresh and update the
//   executable graph to it (cudaGraphExecUpdate; re-instantiated if the update
//   is refused), then launch it.
// The stream and handle are part of the structure: a graph's GEMM nodes use
// that handle's workspace, so it may only run in that stream's order.
// Captures use cudaStreamCaptureModeThreadLocal; the launch sequence performs
// no allocation, synchronisation or host copy, so it is capturable.
std::atomic<bool> g_graphs{false};

struct GraphEntry {
  std::vector<std::uint64_t> pointers;  // the call the executable graph was made for
  cudaGraphExec_t exec = nullptr;
};

struct GraphCache {
  std::mutex mutex;
  std::map<std::vector<std::uint64_t>, GraphEntry> entries;  // structure -> graph
};

GraphCache& graph_cache() {
  static auto* cache = new GraphCache();  // never destroyed: outlives the CUDA context teardown
  return *cache;
}

constexpr std::size_t kMaxGraphs = 256;

std::uint64_t word(const void* p) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p));
}
std::uint64_t word(index_t v) { return static_cast<std::uint64_t>(v); }
std::uint64_t bits(double v) {  // a double's bit pattern (zoneout probabilities)
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// A code for the element type: bfloat16 and float16 have the same size.
template <typename T>
std::uint64_t type_code() {
  return sizeof(T) | (std::is_same_v<T, float16> ? 0x100u : 0u);
}

std::vector<std::uint64_t> structure_of(const RnnLayerShape& s, bool backward, std::uint64_t elem) {
  int device = 0;
  LOOM_CUDA_CHECK(cudaGetDevice(&device));
  // The GEMMs' math mode (TF32 or not) is fixed into a captured graph, so the
  // float32 matmul precision is part of the structure.
  const std::uint64_t tf32 = float32_gemm_uses_tf32() ? 1u : 0u;
  // The algorithm and barrier choose the kernels (kernels/rnn_persistent.h).
  const std::uint64_t algo = static_cast<std::uint64_t>(rnn_algorithm()) * 2 +
                             static_cast<std::uint64_t>(persistent_barrier());
  std::vector<std::uint64_t> k = {algo, tf32, word(index_t{device}), word(cuda::stream()), word(cuda::cublas()),
                                  backward ? 1u : 0u,    elem,                 word(index_t(s.mode)),
                                  word(s.N),             word(s.C),            word(s.H),
                                  word(s.P),             s.has_bias ? 1u : 0u, s.has_proj ? 1u : 0u,
                                  s.reverse ? 1u : 0u,   word(s.T),
                                  bits(s.zoneout_h),     bits(s.zoneout_c),
                                  s.layer_norm ? 1u : 0u, bits(s.layer_norm_eps)};
  for (index_t t = 0; t < s.T; ++t) k.push_back(word(s.batch_sizes[t]));
  return k;
}

// Captures what `body` queues on cuda::stream() into a new graph.
template <typename Body>
cudaGraph_t capture(Body& body) {
  cudaStream_t stream = cuda::stream();
  LOOM_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    body();
  } catch (...) {  // end the capture so that the stream is usable again
    cudaGraph_t partial = nullptr;
    if (cudaStreamEndCapture(stream, &partial) == cudaSuccess && partial) cudaGraphDestroy(partial);
    (void)cudaGetLastError();
    throw;
  }
  cudaGraph_t graph = nullptr;
  LOOM_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  return graph;
}

// Runs `body` (a layer call's launch sequence) directly or through the graph
// cache, as described above.
template <typename Body>
void run_graphed(std::vector<std::uint64_t> structure, const std::vector<std::uint64_t>& pointers,
                 Body& body) {
  GraphCache& cache = graph_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  if (cache.entries.size() >= kMaxGraphs && !cache.entries.count(structure)) {
    for (auto& [key, e] : cache.entries)  // in-flight launches complete before release
      if (e.exec) cudaGraphExecDestroy(e.exec);
    cache.entries.clear();
  }
  auto [it, inserted] = cache.entries.try_emplace(std::move(structure));
  GraphEntry& e = it->second;
  if (inserted) {  // warm-up
    body();
    return;
  }
  if (!e.exec || e.pointers != pointers) {
    cudaGraph_t graph = capture(body);
    e.pointers.clear();  // the executable graph matches no call until this completes
    if (e.exec) {
      cudaGraphExecUpdateResultInfo info;
      if (cudaGraphExecUpdate(e.exec, graph, &info) != cudaSuccess) {
        (void)cudaGetLastError();
        cudaGraphExecDestroy(e.exec);
        e.exec = nullptr;
      }
    }
    if (!e.exec) {
      const cudaError_t status = cudaGraphInstantiate(&e.exec, graph, 0);
      if (status != cudaSuccess) {
        e.exec = nullptr;
        cudaGraphDestroy(graph);
        cuda::fail_call("CUDA", "cudaGraphInstantiate(&e.exec, graph, 0)",
                        cudaGetErrorString(status), __FILE__, __LINE__);
      }
    }
    cudaGraphDestroy(graph);
    e.pointers = pointers;
  }
  LOOM_CUDA_CHECK(cudaGraphLaunch(e.exec, cuda::stream()));
}

// The persistent geometry when `pass` of `shape` takes the persistent path
// (kernels/rnn_persistent.h), else nothing (the standard path).
// The device's plan as rnn_path asks for it, kept in *plan. Named functors,
// not lambdas, for rnn_path and rnn_stack_path: nvcc 13.0 refused the lambda
// here once the wavefront was added ("std::function target must be
// copy-constructible").
template <typename T>
struct DeviceLayerPlan {
  const RnnLayerShape* shape;
  RnnPass pass;
  PersistentPlan* plan;
  PersistentPlan operator()() const { return *plan = cuda_persistent::plan<T>(*shape, pass); }
};
template <typename T>
struct DeviceWavefrontPlan {
  const RnnStackShape* shape;
  PersistentPlan operator()() const { return cuda_persistent::wavefront_plan<T>(*shape); }
};

template <typename T>
std::optional<rnn_detail::PersistentGeometry> persistent_geometry(const RnnLayerShape& shape,
                                                                  RnnPass pass) {
  PersistentPlan plan;
  const RnnPath path = rnn_path(rnn_algorithm(), shape, pass, DeviceLayerPlan<T>{&shape, pass, &plan});
  if (path == RnnPath::Standard) return std::nullopt;
  return rnn_detail::PersistentGeometry{plan.blocks, plan.threads, plan.units, plan.staged};
}

template <typename T>
std::vector<std::uint64_t> pointers_of(const RnnWeights<T>& w,
                                       std::initializer_list<const void*> more) {
  std::vector<std::uint64_t> p = {word(w.w_ih),    word(w.w_hh),    word(w.b_ih),    word(w.b_hh),
                                  word(w.w_hr),    word(w.ln_ih_w), word(w.ln_ih_b), word(w.ln_hh_w),
                                  word(w.ln_hh_b), word(w.ln_c_w),  word(w.ln_c_b)};
  for (const void* q : more) p.push_back(word(q));
  return p;
}
}  // namespace

void set_rnn_cuda_graphs(bool enabled) { g_graphs.store(enabled); }
bool rnn_cuda_graphs() { return g_graphs.load(); }

template <typename T>
void rnn_layer_forward_cuda(const RnnLayerShape& shape, const RnnForwardArgs<T>& args) {
  rnn_check_forward(shape, args);
  CudaOps<T> ops;
  const auto persistent = persistent_geometry<T>(shape, RnnPass::Forward);
  auto body = [&] {
    if (persistent) rnn_detail::rnn_forward_persistent(shape, args, *persistent, ops);
    else rnn_detail::rnn_forward(shape, args, ops);
  };
  if (!rnn_cuda_graphs()) return body();
  const RnnForwardArgs<T>& a = args;
  run_graphed(structure_of(shape, false, type_code<T>()),
              pointers_of(a.w, {a.x, a.h0, a.c0, a.y, a.h_n, a.c_n, a.reserve, a.workspace,
                                a.zoneout_h_mask, a.zoneout_c_mask}), body);
}

template <typename T>
void rnn_layer_backward_cuda(const RnnLayerShape& shape, const RnnBackwardArgs<T>& args) {
  rnn_check_backward(shape, args);
  CudaOps<T> ops;
  const auto persistent = persistent_geometry<T>(shape, RnnPass::Backward);
  auto body = [&] {
    if (persistent) rnn_detail::rnn_backward_persistent(shape, args, *persistent, ops);
    else rnn_detail::rnn_backward(shape, args, ops);
  };
  if (!rnn_cuda_graphs()) return body();
  const RnnBackwardArgs<T>& a = args;
  run_graphed(structure_of(shape, true, type_code<T>()),
              pointers_of(a.w, {a.x, a.reserve, a.dy, a.dh_n, a.dc_n, a.workspace, a.dx, a.dh0,
                                a.dc0, a.dw_ih, a.dw_hh, a.db_ih, a.db_hh, a.dw_hr,
                                a.zoneout_h_mask, a.zoneout_c_mask, a.dln_ih_w, a.dln_ih_b,
                                a.dln_hh_w, a.dln_hh_b, a.dln_c_w, a.dln_c_b}),
              body);
}

template <typename T>
RnnPath rnn_cuda_path(const RnnLayerShape& shape, RnnPass pass) {
  rnn_check_shape(shape);
  return persistent_geometry<T>(shape, pass) ? RnnPath::Persistent : RnnPath::Standard;
}

template <typename T>
PersistentPlan rnn_persistent_plan_cuda(const RnnLayerShape& shape, RnnPass pass) {
  rnn_check_shape(shape);
  return cuda_persistent::plan<T>(shape, pass);
}

template <typename T>
PersistentPlan rnn_wavefront_plan_cuda(const RnnStackShape& shape) {
  wavefront_require_eligible(shape);
  return cuda_persistent::wavefront_plan<T>(shape);
}

template <typename T>
RnnStackPath rnn_stack_cuda_path(const RnnStackShape& shape) {
  return rnn_stack_path(rnn_algorithm(), shape, DeviceWavefrontPlan<T>{&shape});
}

template <typename T>
void rnn_stack_forward_cuda(const RnnStackShape& shape, const RnnStackForwardArgs<T>& args) {
  rnn_stack_check_forward(shape, args);
  const PersistentPlan plan = cuda_persistent::wavefront_plan<T>(shape);
  wavefront_require_fit(plan);
  CudaOps<T> ops;
  rnn_detail::rnn_stack_forward_wavefront(
      shape, args, {plan.blocks, plan.threads, plan.units, plan.staged}, ops);
}

#define LOOM_RNN_CUDA(T)                                                                       \
  template void rnn_layer_forward_cuda<T>(const RnnLayerShape&, const RnnForwardArgs<T>&); \
  template void rnn_layer_backward_cuda<T>(const RnnLayerShape&, const RnnBackwardArgs<T>&); \
  template RnnPath rnn_cuda_path<T>(const RnnLayerShape&, RnnPass);                         \
  template PersistentPlan rnn_persistent_plan_cuda<T>(const RnnLayerShape&, RnnPass);        \
  template PersistentPlan rnn_wavefront_plan_cuda<T>(const RnnStackShape&);                  \
  template RnnStackPath rnn_stack_cuda_path<T>(const RnnStackShape&);                        \
  template void rnn_stack_forward_cuda<T>(const RnnStackShape&, const RnnStackForwardArgs<T>&);
LOOM_RNN_CUDA(float)
LOOM_RNN_CUDA(double)
LOOM_RNN_CUDA(bfloat16)
LOOM_RNN_CUDA(float16)

}  // namespace loom::kernels
