// The stack's shapes, checks, fit rule and routing of kernels/rnn_wavefront.h.
#include "kernels/rnn_wavefront.h"

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/rnn_wavefront_algorithm.h"

namespace loom::kernels {

namespace {
std::string stack_text(const RnnStackShape& s) {
  return fmt::format("{} wavefront L={} H={} N={} T={}", rnn_mode_name(s.mode), s.L, s.H, s.N, s.T);
}
}  // namespace

RnnLayerShape RnnStackShape::layer(index_t l) const {
  RnnLayerShape s;
  s.mode = mode, s.T = T, s.N = N, s.C = l == 0 ? C : H, s.H = H, s.P = H;
  s.has_bias = has_bias, s.batch_sizes = batch_sizes;
  return s;
}

std::string wavefront_ineligible_reason(const RnnStackShape& s) {
  LOOM_CHECK(s.L >= 1, "{}: expected at least one layer, got L = {}", rnn_mode_name(s.mode), s.L);
  rnn_check_shape(s.layer(0));
  if (s.L > 1) rnn_check_shape(s.layer(1));
  if (s.L < 2) return "a single layer runs as its own persistent launch, not a wavefront";
  if (s.L > kWavefrontMaxLayers)
    return fmt::format("{} layers are more than the {} one wavefront launch takes", s.L,
                       kWavefrontMaxLayers);
  for (index_t t = 0; t < s.T; ++t)
    if (s.batch_sizes[t] != s.N)
      return "packed input (a batch that shrinks over time) runs layer by layer";
  return "";
}

void wavefront_require_eligible(const RnnStackShape& s) {
  const std::string why = wavefront_ineligible_reason(s);
  LOOM_CHECK(why.empty(), "{} wavefront: {}", rnn_mode_name(s.mode), why);
}

void wavefront_require_fit(const PersistentPlan& plan) {
  LOOM_CHECK(plan.fits, "the wavefront cannot run {}", plan.why);
}

template <typename T>
index_t rnn_stack_workspace_elements(const RnnStackShape& s) {
  return rnn_detail::wavefront_workspace_layout<T>(s).size;
}

template <typename T>
void rnn_stack_check_forward(const RnnStackShape& s, const RnnStackForwardArgs<T>& a) {
  const std::string why = wavefront_ineligible_reason(s);
  const char* m = rnn_mode_name(s.mode);
  LOOM_CHECK(why.empty(), "{} stack forward: {}", m, why);
  const bool lstm = s.mode == RnnMode::Lstm;
  const auto present = [&](const char* name, index_t l, const void* p, bool wanted) {
    if (wanted)
      LOOM_CHECK(p != nullptr, "{} stack forward: {} of layer {} is required", m, name, l);
    else
      LOOM_CHECK(p == nullptr, "{} stack forward: {} of layer {} was given but the stack has none",
                 m, name, l);
  };
  for (index_t l = 0; l < s.L; ++l) {
    present("w_ih", l, a.w[l].w_ih, true);
    present("w_hh", l, a.w[l].w_hh, true);
    present("b_ih", l, a.w[l].b_ih, s.has_bias);
    present("b_hh", l, a.w[l].b_hh, s.has_bias);
    present("w_hr", l, a.w[l].w_hr, false);
  }
  for (index_t l = s.L; l < kWavefrontMaxLayers; ++l)
    LOOM_CHECK(a.w[l].w_ih == nullptr && a.w[l].w_hh == nullptr,
               "{} stack forward: weights given for layer {} of a {}-layer stack", m, l, s.L);
  LOOM_CHECK(a.x && a.y && a.h_n && a.workspace,
             "{} stack forward: x, y, h_n and the workspace are required", m);
  LOOM_CHECK(lstm == (a.c_n != nullptr), "{} stack forward: c_n is {}", m,
             lstm ? "required" : "given but only LSTM has a cell state");
  LOOM_CHECK(lstm || a.c0 == nullptr,
             "{} stack forward: c0 was given but only LSTM has a cell state", m);
  if constexpr (is_reduced_float_v<T>)
    LOOM_CHECK(reinterpret_cast<std::uintptr_t>(a.workspace) % 16 == 0,
               "{} stack forward: the workspace of a 16-bit stack must be 16-byte aligned", m);
}

index_t wavefront_smem_bytes(RnnMode mode, index_t L, index_t N, index_t H, index_t units,
                             bool staged, index_t storage_bytes, index_t compute_bytes) {
  return rnn_detail::wavefront_smem_layout(mode, L, N, H, units, staged, storage_bytes,
                                           compute_bytes)
      .size;
}

PersistentPlan wavefront_plan(const RnnStackShape& s, index_t storage_bytes,
                              index_t compute_bytes, const PersistentDeviceProps& props,
                              const PersistentOccupancy& occupancy) {
  const std::string weights = fmt::format(
      "the weights of {} layers (layer 0's W_hh, W_ih and W_hh above it)", s.L);
  return persistent_fit(
      stack_text(s), weights, s.T + s.L - 1, "phases", s.H,
      [&](index_t units, bool staged) {
        return wavefront_smem_bytes(s.mode, s.L, s.N, s.H, units, staged, storage_bytes,
                                    compute_bytes);
      },
      props, occupancy);
}

RnnStackPath rnn_stack_path(RnnAlgorithm algorithm, const RnnStackShape& s,
                            const std::function<PersistentPlan()>& plan) {
  if (algorithm != RnnAlgorithm::Persistent) return RnnStackPath::PerLayer;  // Auto: until measured
  if (!wavefront_ineligible_reason(s).empty()) return RnnStackPath::PerLayer;
  return plan().fits ? RnnStackPath::Wavefront : RnnStackPath::PerLayer;
}

#define LOOM_RNN_STACK(T)                                                    \
  template index_t rnn_stack_workspace_elements<T>(const RnnStackShape&);   \
  template void rnn_stack_check_forward<T>(const RnnStackShape&, const RnnStackForwardArgs<T>&);
LOOM_RNN_STACK(float)
LOOM_RNN_STACK(double)
LOOM_RNN_STACK(bfloat16)
LOOM_RNN_STACK(float16)

}  // namespace loom::kernels
