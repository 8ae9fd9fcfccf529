// The persistent recurrent kernels (algorithm and geometry in
// kernels/rnn_persistent_algorithm.h): one cooperative launch runs every step
// of one layer and direction, each block keeping its slice of W_hh (forward)
// or W_hh^T (backward) in shared memory for the whole sequence, with a
// grid-wide barrier between steps: cooperative_groups' grid.sync() or an
// arrival counter in global memory (persistent_barrier()).
//
// Per block: 256 threads = 8 warps. A warp computes one dot product at a time
// (lanes strided over k, fused multiply-adds, then a butterfly of
// __shfl_xor_sync: the order persistent_dot_host reproduces on the host);
// pointwise work maps one thread to each owned (n, j). Values another block
// wrote during the launch (h_prev, the step's dgh) are read with ld.global.cg
// (__ldcg: L2, not the SM's L1), after the barrier's fence.
//
// The stacked-layer wavefront (kernels/rnn_wavefront.h) is one more kernel of
// the same kind: each block holds the W_hh rows (and, above layer 0, the W_ih
// rows) of its units in every layer, and a phase's dot products of all active
// layers are spread over the block's warps together.
#include "kernels/cuda/persistent_rnn.h"

#include <cooperative_groups.h>

#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "kernels/cuda/context.h"
#include "kernels/cuda/grid_barrier.cuh"
#include "kernels/half.h"

namespace loom::kernels::cuda_persistent {

namespace {

using rnn_detail::PersistentBackward;
using rnn_detail::PersistentForward;
using rnn_detail::WavefrontForward;

constexpr int kThreads = 256;
constexpr int kCounterSlots = 64;

// One arrival counter per (device, stream) slot for the flag barrier; zeroed
// on the stream before each launch.
__device__ unsigned int g_barrier_counters[kCounterSlots];

// A value another block may have written during this launch: read from L2.
template <typename S>
__device__ __forceinline__ S load_cg(const S* p) {
  if constexpr (sizeof(S) == 2) {
    const unsigned short bits = __ldcg(reinterpret_cast<const unsigned short*>(p));
    S v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  } else {
    return __ldcg(p);
  }
}

template <typename F>
__device__ __forceinline__ F warp_butterfly(F v) {
  for (int s = rnn_detail::kPersistentWarp / 2; s >= 1; s /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, s);
  return v;
}

template <typename S, bool kFlags>
__global__ void __launch_bounds__(kThreads)
    persistent_forward_kernel(PersistentForward<S> p, unsigned int* counter) {
  using F = opmath_t<S>;
  extern __shared__ __align__(16) unsigned char smem[];
  const index_t N = p.N, H = p.H, U = p.units, ng = rnn_detail::gates_per_unit(p.mode);
  const rnn_detail::PersistentSmemLayout layout = rnn_detail::persistent_smem_layout(
      false, p.mode, N, H, U, p.staged, sizeof(S), sizeof(F));
  S* w = reinterpret_cast<S*>(smem + layout.w);      // [ng U, H]
  F* acc = reinterpret_cast<F*>(smem + layout.acc);  // [N, ng U]
  F* hs = reinterpret_cast<F*>(smem + layout.op);    // [N, H] when staged
  const index_t j0 = static_cast<index_t>(blockIdx.x) * U;
  const index_t here = H - j0 < U ? H - j0 : U;  // units this block owns
  const int lane = threadIdx.x % rnn_detail::kPersistentWarp;
  const int warp = threadIdx.x / rnn_detail::kPersistentWarp;
  const int warps = blockDim.x / rnn_detail::kPersistentWarp;

  for (index_t i = threadIdx.x; i < ng * U * H; i += blockDim.x) {
    const index_t lr = i / H, k = i % H, g = lr / U, u = lr % U;
    w[i] = u < here ? p.w_hh[(g * H + j0 + u) * H + k] : S(0.0f);
  }
  __syncthreads();

  index_t prev = -1;
  for (index_t step = 0; step < p.T; ++step) {
    const index_t t = rnn_detail::persistent_step(p.T, p.reverse, step);
    const S* h_prev = prev < 0 ? p.h0 : p.y + prev * N * H;  // [N, H] or null (zeros)
    if (h_prev && p.staged) {
      for (index_t e = threadIdx.x; e < N * H; e += blockDim.x) hs[e] = F(load_cg(h_prev + e));
      __syncthreads();
    }
    for (index_t q = warp; q < ng * U * N; q += warps) {  // (local gate row, batch row)
      const index_t lr = q / N, n = q % N;
      if (lr % U >= here) continue;  // warp-uniform
      F v = F(0);
      if (h_prev) {
        const S* wr = w + lr * H;
        if (p.staged) {
          const F* hr = hs + n * H;
          v = rnn_detail::persistent_lane_sum<F>(
              H, lane, [&](index_t k) { return F(wr[k]); }, [&](index_t k) { return hr[k]; });
        } else {
          const S* hr = h_prev + n * H;
          v = rnn_detail::persistent_lane_sum<F>(
              H, lane, [&](index_t k) { return F(wr[k]); },
              [&](index_t k) { return F(load_cg(hr + k)); });
        }
        v = warp_butterfly(v);
      }
      if (lane == 0) acc[n * ng * U + lr] = v;
    }
    __syncthreads();
    for (index_t e = threadIdx.x; e < N * here; e += blockDim.x) {
      const index_t n = e / here, u = e % here, j = j0 + u;
      const S hp = h_prev ? load_cg(h_prev + n * H + j) : S(0.0f);
      rnn_detail::persistent_forward_point(p, t, acc + n * ng * U, hp, n, u, j);
    }
    grid_barrier<kFlags>(counter, static_cast<unsigned int>(step + 1));
    prev = t;
  }
  // After the last barrier: nobody reads h0 any more (it may alias h_n).
  for (index_t e = threadIdx.x; e < N * here; e += blockDim.x) {
    const index_t n = e / here, j = j0 + e % here;
    p.h_n[n * H + j] = p.y[(prev * N + n) * H + j];
  }
}

template <typename S, bool kFlags>
__global__ void __launch_bounds__(kThreads)
    persistent_backward_kernel(PersistentBackward<S> p, unsigned int* counter) {
  using F = opmath_t<S>;
  extern __shared__ __align__(16) unsigned char smem[];
  const index_t N = p.N, H = p.H, U = p.units, G = gate_rows(p.mode, H);
  const bool gru = p.mode == RnnMode::Gru;
  const rnn_detail::PersistentSmemLayout layout = rnn_detail::persistent_smem_layout(
      true, p.mode, N, H, U, p.staged, sizeof(S), sizeof(F));
  S* wt = reinterpret_cast<S*>(smem + layout.w);  // [U, G]: W_hh column j0 + u
  F* ds = reinterpret_cast<F*>(smem + layout.op);  // [N, G] when staged
  const index_t j0 = static_cast<index_t>(blockIdx.x) * U;
  const index_t here = H - j0 < U ? H - j0 : U;
  const int lane = threadIdx.x % rnn_detail::kPersistentWarp;
  const int warp = threadIdx.x / rnn_detail::kPersistentWarp;
  const int warps = blockDim.x / rnn_detail::kPersistentWarp;

  for (index_t i = threadIdx.x; i < U * G; i += blockDim.x) {
    const index_t u = i / G, g = i % G;
    wt[i] = u < here ? p.w_hh[g * H + j0 + u] : S(0.0f);
  }
  __syncthreads();

  for (index_t step = 0; step < p.T; ++step) {
    const index_t t = rnn_detail::persistent_step(p.T, !p.reverse, step);
    for (index_t e = threadIdx.x; e < N * here; e += blockDim.x)
      rnn_detail::persistent_backward_point(p, t, e / here, j0 + e % here);
    grid_barrier<kFlags>(counter, static_cast<unsigned int>(step + 1));
    const S* d = p.dgh + t * N * G;  // [N, G], every block's part written
    if (p.staged) {
      for (index_t e = threadIdx.x; e < N * G; e += blockDim.x) ds[e] = F(load_cg(d + e));
      __syncthreads();
    }
    for (index_t q = warp; q < here * N; q += warps) {
      const index_t u = q / N, n = q % N;
      const S* wr = wt + u * G;
      F v;
      if (p.staged) {
        const F* dr = ds + n * G;
        v = rnn_detail::persistent_lane_sum<F>(
            G, lane, [&](index_t g) { return F(wr[g]); }, [&](index_t g) { return dr[g]; });
      } else {
        const S* dr = d + n * G;
        v = rnn_detail::persistent_lane_sum<F>(
            G, lane, [&](index_t g) { return F(wr[g]); },
            [&](index_t g) { return F(load_cg(dr + g)); });
      }
      v = warp_butterfly(v);
      if (lane == 0) {
        F& dh = p.dh[n * H + j0 + u];
        dh = gru ? dh + v : v;
      }
    }
    // The next step's pointwise reads dh[n, j] that another warp of this
    // block wrote just now.
    __syncthreads();
  }
}

// The stacked-layer wavefront (kernels/rnn_wavefront_algorithm.h): phase p
// runs step p - l of every active layer l; one grid-wide barrier a phase.
template <typename S, bool kFlags>
__global__ void __launch_bounds__(kThreads)
    wavefront_forward_kernel(WavefrontForward<S> p, unsigned int* counter) {
  using F = opmath_t<S>;
  extern __shared__ __align__(16) unsigned char smem[];
  const index_t L = p.L, T = p.T, N = p.N, H = p.H, U = p.units;
  const index_t ngu = rnn_detail::gates_per_unit(p.mode) * U;
  const rnn_detail::WavefrontSmemLayout layout = rnn_detail::wavefront_smem_layout(
      p.mode, L, N, H, U, p.staged, sizeof(S), sizeof(F));
  S* w = reinterpret_cast<S*>(smem + layout.w);      // [2L - 1][ng U, H]
  F* acc = reinterpret_cast<F*>(smem + layout.acc);  // [L][N][2 ng U]
  F* vs = reinterpret_cast<F*>(smem + layout.op);    // [L][N, H] when staged
  const index_t j0 = static_cast<index_t>(blockIdx.x) * U;
  const index_t here = H - j0 < U ? H - j0 : U;  // units this block owns in each layer
  const int lane = threadIdx.x % rnn_detail::kPersistentWarp;
  const int warp = threadIdx.x / rnn_detail::kPersistentWarp;
  const int warps = blockDim.x / rnn_detail::kPersistentWarp;

  for (index_t i = threadIdx.x; i < (2 * L - 1) * ngu * H; i += blockDim.x) {
    const index_t m = i / (ngu * H), r = i % (ngu * H), lr = r / H, k = r % H;
    const index_t g = lr / U, u = lr % U;
    w[i] = u < here ? rnn_detail::wavefront_weight_row(p, m, g * H + j0 + u)[k] : S(0.0f);
  }
  __syncthreads();

  const index_t per_part = ngu * N;  // (local gate row, batch row) pairs of one matrix
  for (index_t phase = 0; phase < T + L - 1; ++phase) {
    const rnn_detail::WavefrontLayers act = rnn_detail::wavefront_layers(T, L, phase);
    const index_t lo = act.lo, hi = act.hi;  // the active layers
    if (p.staged) {  // v_l of every layer read in this phase
      for (index_t l = act.first_read(); l <= hi; ++l) {
        const S* v = rnn_detail::wavefront_latest(p, l, phase);
        for (index_t e = threadIdx.x; e < N * H; e += blockDim.x)
          vs[l * N * H + e] = v ? F(load_cg(v + e)) : F(0);
      }
      __syncthreads();
    }
    // Dot products: items (layer, part, local gate row, batch row), one warp each.
    for (index_t q = warp; q < (hi - lo + 1) * 2 * per_part; q += warps) {
      const index_t l = lo + q / (2 * per_part), rest = q % (2 * per_part);
      const int part = static_cast<int>(rest / per_part);
      const index_t lr = rest % per_part / N, n = rest % per_part % N;
      if ((part == 1 && l == 0) || lr % U >= here) continue;  // warp-uniform
      const index_t lv = part == 0 ? l : l - 1;  // v_l (recurrent) or v_{l-1} (input)
      const S* v = rnn_detail::wavefront_latest(p, lv, phase);
      F val = F(0);
      if (v) {  // warp-uniform
        const S* wr = w + (rnn_detail::wavefront_matrix(l, part) * ngu + lr) * H;
        if (p.staged) {
          const F* vr = vs + (lv * N + n) * H;
          val = rnn_detail::persistent_lane_sum<F>(
              H, lane, [&](index_t k) { return F(wr[k]); }, [&](index_t k) { return vr[k]; });
        } else {
          const S* vr = v + n * H;
          val = rnn_detail::persistent_lane_sum<F>(
              H, lane, [&](index_t k) { return F(wr[k]); },
              [&](index_t k) { return F(load_cg(vr + k)); });
        }
        val = warp_butterfly(val);
      }
      if (lane == 0) acc[(l * N + n) * 2 * ngu + part * ngu + lr] = val;
    }
    __syncthreads();
    for (index_t l = lo; l <= hi; ++l) {
      const S* v = rnn_detail::wavefront_latest(p, l, phase);
      for (index_t e = threadIdx.x; e < N * here; e += blockDim.x) {
        const index_t n = e / here, u = e % here, j = j0 + u;
        const S hp = v ? load_cg(v + n * H + j) : S(0.0f);
        rnn_detail::wavefront_point(p, l, phase - l, acc + (l * N + n) * 2 * ngu, hp, n, u, j);
      }
    }
    grid_barrier<kFlags>(counter, static_cast<unsigned int>(phase + 1));
  }
  // After the last barrier: nobody reads h0 any more (it may alias h_n).
  for (index_t l = 0; l < L; ++l) {
    const S* last = rnn_detail::wavefront_output(p, l, T - 1);
    for (index_t e = threadIdx.x; e < N * here; e += blockDim.x) {
      const index_t n = e / here, j = j0 + e % here;
      p.h_n[(l * N + n) * H + j] = last[n * H + j];
    }
  }
}

// ---- host side ------------------------------------------------------------------

template <typename S, bool kFlags>
const void* forward_kernel() {
  return reinterpret_cast<const void*>(&persistent_forward_kernel<S, kFlags>);
}
template <typename S, bool kFlags>
const void* backward_kernel() {
  return reinterpret_cast<const void*>(&persistent_backward_kernel<S, kFlags>);
}

template <typename S>
const void* wavefront_kernel_for(PersistentBarrier barrier) {
  return barrier == PersistentBarrier::Flags
             ? reinterpret_cast<const void*>(&wavefront_forward_kernel<S, true>)
             : reinterpret_cast<const void*>(&wavefront_forward_kernel<S, false>);
}

template <typename S>
const void* kernel_for(RnnPass pass, PersistentBarrier barrier) {
  const bool flags = barrier == PersistentBarrier::Flags;
  if (pass == RnnPass::Forward) return flags ? forward_kernel<S, true>() : forward_kernel<S, false>();
  return flags ? backward_kernel<S, true>() : backward_kernel<S, false>();
}

// Raises the kernel's dynamic shared-memory limit to the device's opt-in maximum (once
// per kernel and device).
void allow_full_smem(const void* kernel, index_t optin) {
  static std::mutex mutex;
  static std::map<std::pair<const void*, int>, bool> done;
  int device = 0;
  LOOM_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  if (done[{kernel, device}]) return;
  LOOM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(optin)));
  done[{kernel, device}] = true;
}

// The counter slot of the current (device, stream).
unsigned int* counter_for_stream() {
  static std::mutex mutex;
  static std::map<std::pair<int, cudaStream_t>, int> slots;
  static std::map<int, int> used;
  int device = 0;
  LOOM_CUDA_CHECK(cudaGetDevice(&device));
  int slot = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = slots.find({device, cuda::stream()});
    if (it == slots.end()) {
      if (used[device] >= kCounterSlots)  // loom has a main and one side stream per device
        cuda::fail_call("loom", "the persistent barrier's counter slots",
                        "more streams than counter slots on this device", __FILE__, __LINE__);
      it = slots.emplace(std::pair{device, cuda::stream()}, used[device]++).first;
    }
    slot = it->second;
  }
  void* base = nullptr;
  LOOM_CUDA_CHECK(cudaGetSymbolAddress(&base, g_barrier_counters));
  return static_cast<unsigned int*>(base) + slot;
}

template <typename Params>
void launch(const void* kernel, const Params& p, index_t smem_bytes) {
  allow_full_smem(kernel, device_props().smem_per_block_optin);
  unsigned int* counter = counter_for_stream();
  LOOM_CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof(unsigned int), cuda::stream()));
  Params params = p;
  void* args[] = {&params, &counter};
  LOOM_CUDA_CHECK(cudaLaunchCooperativeKernel(kernel, dim3(static_cast<unsigned>(p.blocks)),
                                              dim3(static_cast<unsigned>(p.threads)), args,
                                              static_cast<size_t>(smem_bytes), cuda::stream()));
}

}  // namespace

PersistentDeviceProps device_props() {
  static std::mutex mutex;
  static std::map<int, PersistentDeviceProps> cache;
  int device = 0;
  LOOM_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(device);
  if (it != cache.end()) return it->second;
  const auto attr = [device](cudaDeviceAttr a) {
    int v = 0;
    LOOM_CUDA_CHECK(cudaDeviceGetAttribute(&v, a, device));
    return v;
  };
  PersistentDeviceProps p;
  p.sm_count = attr(cudaDevAttrMultiProcessorCount);
  p.smem_per_block_optin = attr(cudaDevAttrMaxSharedMemoryPerBlockOptin);
  p.smem_per_sm = attr(cudaDevAttrMaxSharedMemoryPerMultiprocessor);
  p.regs_per_sm = attr(cudaDevAttrMaxRegistersPerMultiprocessor);
  p.cooperative_launch = attr(cudaDevAttrCooperativeLaunch) != 0;
  cache.emplace(device, p);
  return p;
}

template <typename S>
PersistentPlan plan(const RnnLayerShape& shape, RnnPass pass) {
  using F = opmath_t<S>;
  const PersistentDeviceProps props = device_props();
  const void* kernel = kernel_for<S>(pass, persistent_barrier());
  allow_full_smem(kernel, props.smem_per_block_optin);
  const PersistentOccupancy occupancy = [kernel](int threads, index_t smem) {
    int blocks = 0;
    LOOM_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads,
                                                                  static_cast<size_t>(smem)));
    return blocks;
  };
  return persistent_plan(shape, pass, sizeof(S), sizeof(F), props, occupancy);
}

template <typename S>
PersistentPlan wavefront_plan(const RnnStackShape& shape) {
  using F = opmath_t<S>;
  const PersistentDeviceProps props = device_props();
  const void* kernel = wavefront_kernel_for<S>(persistent_barrier());
  allow_full_smem(kernel, props.smem_per_block_optin);
  const PersistentOccupancy occupancy = [kernel](int threads, index_t smem) {
    int blocks = 0;
    LOOM_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads,
                                                                  static_cast<size_t>(smem)));
    return blocks;
  };
  return kernels::wavefront_plan(shape, sizeof(S), sizeof(F), props, occupancy);
}

template <typename S>
void launch_wavefront(const WavefrontForward<S>& p) {
  const index_t smem = rnn_detail::wavefront_smem_layout(p.mode, p.L, p.N, p.H, p.units, p.staged,
                                                         sizeof(S), sizeof(opmath_t<S>))
                           .size;
  launch(wavefront_kernel_for<S>(persistent_barrier()), p, smem);
}

template <typename S>
void launch_forward(const PersistentForward<S>& p) {
  const index_t smem = rnn_detail::persistent_smem_layout(false, p.mode, p.N, p.H, p.units,
                                                          p.staged, sizeof(S),
                                                          sizeof(opmath_t<S>))
                           .size;
  launch(kernel_for<S>(RnnPass::Forward, persistent_barrier()), p, smem);
}

template <typename S>
void launch_backward(const PersistentBackward<S>& p) {
  const index_t smem = rnn_detail::persistent_smem_layout(true, p.mode, p.N, p.H, p.units,
                                                          p.staged, sizeof(S),
                                                          sizeof(opmath_t<S>))
                           .size;
  launch(kernel_for<S>(RnnPass::Backward, persistent_barrier()), p, smem);
}

#define LOOM_PERSISTENT_RNN(S)                                                 \
  template PersistentPlan plan<S>(const RnnLayerShape&, RnnPass);              \
  template void launch_forward<S>(const rnn_detail::PersistentForward<S>&);    \
  template void launch_backward<S>(const rnn_detail::PersistentBackward<S>&);  \
  template PersistentPlan wavefront_plan<S>(const RnnStackShape&);             \
  template void launch_wavefront<S>(const rnn_detail::WavefrontForward<S>&);
LOOM_PERSISTENT_RNN(float)
LOOM_PERSISTENT_RNN(double)
LOOM_PERSISTENT_RNN(bfloat16)
LOOM_PERSISTENT_RNN(float16)

}  // namespace loom::kernels::cuda_persistent
