// Validation and buffer sizes of the recurrent-layer kernels (see kernels/rnn.h).
// Host code compiled by the C++ compiler, shared by the CPU and CUDA paths.
#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "kernels/gemm.h"
#include "kernels/rnn.h"
#include "kernels/rnn_algorithm.h"

namespace loom::kernels {

namespace {

// 16-bit storage: the workspace holds float regions (rnn_workspace_layout).
template <typename T>
void check_workspace_alignment(const char* mode, const T* workspace) {
  if constexpr (is_reduced_float_v<T>)
    LOOM_CHECK(reinterpret_cast<std::uintptr_t>(workspace) % 16 == 0,
               "{}: the workspace of a 16-bit layer must be 16-byte aligned", mode);
}

void check_present(const char* mode, const char* name, const void* p, bool wanted,
                   const char* why) {
  if (wanted)
    LOOM_CHECK(p != nullptr, "{}: {} is required{}", mode, name, why);
  else
    LOOM_CHECK(p == nullptr, "{}: {} was given but{}", mode, name, why);
}

// The six layer-norm pointers: present exactly when the shape has layer norm
// (the c pair only for LSTM).
template <typename T>
void check_layer_norm(const char* mode, const RnnLayerShape& s, const RnnWeights<T>& w) {
  const bool ln = s.layer_norm, lstm = s.mode == RnnMode::Lstm;
  const char* why = ln ? " (layer_norm)" : " layer_norm is off";
  check_present(mode, "ln_ih_w", w.ln_ih_w, ln, why);
  check_present(mode, "ln_ih_b", w.ln_ih_b, ln, why);
  check_present(mode, "ln_hh_w", w.ln_hh_w, ln, why);
  check_present(mode, "ln_hh_b", w.ln_hh_b, ln, why);
  const char* why_c = !ln ? " layer_norm is off" : lstm ? " (layer_norm)" : " only LSTM has the c layer norm";
  check_present(mode, "ln_c_w", w.ln_c_w, ln && lstm, why_c);
  check_present(mode, "ln_c_b", w.ln_c_b, ln && lstm, why_c);
}
}  // namespace

void rnn_check_shape(const RnnLayerShape& s) {
  const char* m = rnn_mode_name(s.mode);
  LOOM_CHECK(s.mode == RnnMode::RnnTanh || s.mode == RnnMode::RnnRelu || s.mode == RnnMode::Lstm ||
                 s.mode == RnnMode::Gru,
             "RNN: unknown mode {}", static_cast<int>(s.mode));
  LOOM_CHECK(s.T >= 1, "{}: expected at least one time step, got T = {}", m, s.T);
  LOOM_CHECK(s.N >= 1, "{}: expected a batch of at least 1, got N = {}", m, s.N);
  LOOM_CHECK(s.C >= 1, "{}: input_size should be greater than 0, got {}", m, s.C);
  LOOM_CHECK(s.H >= 1, "{}: hidden_size should be greater than 0, got {}", m, s.H);
  if (s.has_proj) {
    LOOM_CHECK(s.mode == RnnMode::Lstm,
               "{}: proj_size argument is only supported for LSTM, not RNN or GRU", m);
    LOOM_CHECK(s.P >= 1 && s.P < s.H,
               "{}: proj_size has to be a positive integer smaller than hidden_size ({}), got {}",
               m, s.H, s.P);
  } else {
    LOOM_CHECK(s.P == s.H, "{}: without projection P must equal hidden_size {}, got {}", m, s.H,
               s.P);
  }
  for (double z : {s.zoneout_h, s.zoneout_c})
    LOOM_CHECK(z >= 0 && z < 1, "{}: zoneout probability has to be in [0, 1), got {}", m, z);
  LOOM_CHECK(s.zoneout_c == 0 || s.mode == RnnMode::Lstm,
             "{}: zoneout_c needs a cell state: only LSTM has one", m);
  LOOM_CHECK(!(s.has_proj && (s.zoneout_h > 0 || s.zoneout_c > 0)),
             "{}: zoneout is not supported with proj_size > 0", m);
  if (s.layer_norm) {
    LOOM_CHECK(s.mode == RnnMode::Lstm || s.mode == RnnMode::Gru,
               "{}: layer_norm is only supported for LSTM and GRU", m);
    LOOM_CHECK(!s.has_proj, "{}: layer_norm is not supported with proj_size > 0", m);
    LOOM_CHECK(s.layer_norm_eps > 0, "{}: layer_norm_eps must be greater than zero, got {}", m,
               s.layer_norm_eps);
  }
  // Every GEMM of the layer takes R, G, C, P or H as a size or leading
  // dimension (kernels/gemm.h: 32-bit int in BLAS and cuBLAS).
  LOOM_CHECK(s.G() <= kMaxGemmSize && s.C <= kMaxGemmSize && s.N <= kMaxGemmSize,
             "{}: input_size {}, gate rows {} or batch {} exceed {}, the largest GEMM size BLAS "
             "and cuBLAS accept", m, s.C, s.G(), s.N, kMaxGemmSize);
  LOOM_CHECK(s.batch_sizes != nullptr, "{}: batch_sizes is required", m);
  LOOM_CHECK(s.batch_sizes[0] == s.N,
             "{}: batch_sizes[0] must equal the batch size of the hidden state {}, got {}", m, s.N,
             s.batch_sizes[0]);
  for (index_t t = 0; t < s.T; ++t) {
    LOOM_CHECK(s.batch_sizes[t] >= 1, "{}: batch_sizes must be positive, got batch_sizes[{}] = {}",
               m, t, s.batch_sizes[t]);
    if (t > 0)
      LOOM_CHECK(s.batch_sizes[t] <= s.batch_sizes[t - 1],
                 "{}: batch_sizes must be non-increasing, got batch_sizes[{}] = {} after {}", m, t,
                 s.batch_sizes[t], s.batch_sizes[t - 1]);
  }
  const index_t R = s.rows();  // each batch_sizes[t] <= N < 2^31: no overflow
  LOOM_CHECK(R <= kMaxGemmSize,
             "{}: the sequence has {} (step, row) pairs (T = {}, N = {}), more than {}, the largest "
             "GEMM size BLAS and cuBLAS accept; split the sequence (truncated BPTT) or the batch",
             m, R, s.T, s.N, kMaxGemmSize);
}

RnnReserveLayout rnn_reserve_layout(const RnnLayerShape& s) {
  return rnn_detail::reserve_layout(s);
}

index_t rnn_reserve_size(const RnnLayerShape& s) { return rnn_detail::reserve_layout(s).size; }

template <typename T>
index_t rnn_workspace_elements(const RnnLayerShape& s) {
  const rnn_detail::RnnWorkspaceLayout w = rnn_detail::rnn_workspace_layout<T>(s);
  return std::max(w.forward_size, w.backward_size);
}

index_t rnn_workspace_size(const RnnLayerShape& s) { return rnn_workspace_elements<float>(s); }

template index_t rnn_workspace_elements<float>(const RnnLayerShape&);
template index_t rnn_workspace_elements<double>(const RnnLayerShape&);
template index_t rnn_workspace_elements<bfloat16>(const RnnLayerShape&);
template index_t rnn_workspace_elements<float16>(const RnnLayerShape&);

template <typename T>
void rnn_check_forward(const RnnLayerShape& s, const RnnForwardArgs<T>& a) {
  rnn_check_shape(s);
  const char* m = rnn_mode_name(s.mode);
  const bool lstm = s.mode == RnnMode::Lstm;
  check_present(m, "x", a.x, true, "");
  check_present(m, "w_ih", a.w.w_ih, true, "");
  check_present(m, "w_hh", a.w.w_hh, true, "");
  check_present(m, "b_ih", a.w.b_ih, s.has_bias, s.has_bias ? " (bias=True)" : " bias=False");
  check_present(m, "b_hh", a.w.b_hh, s.has_bias, s.has_bias ? " (bias=True)" : " bias=False");
  check_present(m, "w_hr", a.w.w_hr, s.has_proj,
                s.has_proj ? " (proj_size > 0)" : " proj_size = 0");
  if (!lstm) check_present(m, "c0", a.c0, false, " only LSTM has a cell state");
  check_layer_norm(m, s, a.w);
  check_present(m, "y", a.y, true, "");
  check_present(m, "h_n", a.h_n, true, "");
  check_present(m, "c_n", a.c_n, lstm, lstm ? "" : " only LSTM has a cell state");
  check_present(m, "workspace", a.workspace, true, "");
  check_workspace_alignment(m, a.workspace);
}

template <typename T>
void rnn_check_backward(const RnnLayerShape& s, const RnnBackwardArgs<T>& a) {
  rnn_check_shape(s);
  const char* m = rnn_mode_name(s.mode);
  const bool lstm = s.mode == RnnMode::Lstm;
  check_present(m, "x", a.x, true, "");
  check_present(m, "w_ih", a.w.w_ih, true, "");
  check_present(m, "w_hh", a.w.w_hh, true, "");
  check_present(m, "w_hr", a.w.w_hr, s.has_proj,
                s.has_proj ? " (proj_size > 0)" : " proj_size = 0");
  check_present(m, "reserve", a.reserve, true, " (from a training forward)");
  check_present(m, "workspace", a.workspace, true, "");
  check_workspace_alignment(m, a.workspace);
  check_present(m, "dh0", a.dh0, true, "");
  check_present(m, "dc0", a.dc0, lstm, lstm ? "" : " only LSTM has a cell state");
  if (!lstm) check_present(m, "dc_n", a.dc_n, false, " only LSTM has a cell state");
  if (!s.has_bias) {
    check_present(m, "db_ih", a.db_ih, false, " bias=False");
    check_present(m, "db_hh", a.db_hh, false, " bias=False");
  }
  if (!s.has_proj) check_present(m, "dw_hr", a.dw_hr, false, " proj_size = 0");
  check_layer_norm(m, s, a.w);
  if (!s.layer_norm || !lstm) {
    const char* why = s.layer_norm ? " only LSTM has the c layer norm" : " layer_norm is off";
    check_present(m, "dln_c_w", a.dln_c_w, false, why);
    check_present(m, "dln_c_b", a.dln_c_b, false, why);
  }
  if (!s.layer_norm) {
    for (const void* p : {static_cast<const void*>(a.dln_ih_w), static_cast<const void*>(a.dln_ih_b),
                          static_cast<const void*>(a.dln_hh_w), static_cast<const void*>(a.dln_hh_b)})
      check_present(m, "a layer-norm gradient", p, false, " layer_norm is off");
  }
}

template void rnn_check_forward<float>(const RnnLayerShape&, const RnnForwardArgs<float>&);
template void rnn_check_forward<double>(const RnnLayerShape&, const RnnForwardArgs<double>&);
template void rnn_check_backward<float>(const RnnLayerShape&, const RnnBackwardArgs<float>&);
template void rnn_check_backward<double>(const RnnLayerShape&, const RnnBackwardArgs<double>&);
template void rnn_check_forward<bfloat16>(const RnnLayerShape&, const RnnForwardArgs<bfloat16>&);
template void rnn_check_forward<float16>(const RnnLayerShape&, const RnnForwardArgs<float16>&);
template void rnn_check_backward<bfloat16>(const RnnLayerShape&, const RnnBackwardArgs<bfloat16>&);
template void rnn_check_backward<float16>(const RnnLayerShape&, const RnnBackwardArgs<float16>&);

}  // namespace loom::kernels
