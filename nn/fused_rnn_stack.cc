#include "nn/fused_rnn_stack.h"

#include "autograd/node.h"
#include "core/native.h"
#include "kernels/rnn_wavefront.h"

namespace loom::nn {

namespace k = loom::kernels;

std::string rnn_stack_wavefront_blocker(const RNNOptions& o, bool training) {
  if (o.num_layers_ < 2) return "one layer";
  if (o.bidirectional_) return "bidirectional";
  if (o.proj_size_ > 0) return "a projection (proj_size > 0)";
  if (o.layer_norm_) return "layer norm";
  if (o.zoneout_h_ > 0 || o.zoneout_c_ > 0) return "zoneout";
  if (training && o.dropout_ > 0) return "dropout between layers in training";
  if (training && o.weight_drop_ > 0) return "weight drop in training";
  return "";
}

std::optional<FusedRnnStackOutputs> fused_rnn_stack_wavefront(
    kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
    const FusedRnnStackInputs& raw) {
#if defined(LOOM_WITH_CUDA)
  const Tensor& x = raw.x;
  if (!x.device().is_cuda()) return std::nullopt;
  std::vector<Tensor> all = {raw.x, raw.h0, raw.c0};
  for (const auto* list : {&raw.w_ih, &raw.w_hh, &raw.b_ih, &raw.b_hh})
    all.insert(all.end(), list->begin(), list->end());
  if (any_requires_grad(all)) return std::nullopt;  // a graph to record: layer by layer
  const bool lstm = mode == k::RnnMode::Lstm, bias = !raw.b_ih.empty();
  k::RnnStackShape s;
  s.mode = mode;
  s.L = static_cast<k::index_t>(raw.w_hh.size());
  s.T = static_cast<k::index_t>(batch_sizes.size());
  s.N = raw.h0.size(1);
  s.C = x.size(1);
  s.H = raw.h0.size(2);
  s.has_bias = bias;
  s.batch_sizes = batch_sizes.data();
  for (const Tensor& t : all)
    if (t.defined() && (t.device() != x.device() || t.dtype() != x.dtype())) return std::nullopt;
  const bool wavefront = dispatch_floating_and_half(x.dtype(), "RNN wavefront", [&](auto tag) {
    return k::rnn_stack_cuda_path<decltype(tag)>(s) == k::RnnStackPath::Wavefront;
  });
  if (!wavefront) return std::nullopt;

  const auto dense = [](const Tensor& t) { return t.defined() ? native::contiguous(t) : t; };
  FusedRnnStackInputs in;
  in.x = dense(raw.x), in.h0 = dense(raw.h0), in.c0 = dense(raw.c0);
  for (k::index_t l = 0; l < s.L; ++l) {
    in.w_ih.push_back(dense(raw.w_ih[l]));
    in.w_hh.push_back(dense(raw.w_hh[l]));
    if (bias) in.b_ih.push_back(dense(raw.b_ih[l])), in.b_hh.push_back(dense(raw.b_hh[l]));
  }
  const TensorOptions opts = TensorOptions(x.dtype()).device(x.device());
  FusedRnnStackOutputs out;
  out.y = empty({s.T * s.N, s.H}, opts);
  out.h_n = empty({s.L, s.N, s.H}, opts);
  if (lstm) out.c_n = empty({s.L, s.N, s.H}, opts);
  dispatch_floating_and_half(x.dtype(), "RNN wavefront", [&](auto tag) {
    using T = decltype(tag);
    const auto ptr = [](const Tensor& t) {
      return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
    };
    const auto mut = [](const Tensor& t) {
      return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
    };
    Tensor workspace = empty({k::rnn_stack_workspace_elements<T>(s)}, opts);
    k::RnnStackForwardArgs<T> a;
    a.x = ptr(in.x);
    for (k::index_t l = 0; l < s.L; ++l)
      a.w[l] = {ptr(in.w_ih[l]), ptr(in.w_hh[l]), bias ? ptr(in.b_ih[l]) : nullptr,
                bias ? ptr(in.b_hh[l]) : nullptr, nullptr};
    a.h0 = ptr(in.h0), a.c0 = lstm ? ptr(in.c0) : nullptr;
    a.y = mut(out.y), a.h_n = mut(out.h_n), a.c_n = mut(out.c_n);
    a.workspace = mut(workspace);
    k::rnn_stack_forward_cuda(s, a);  // the caching allocator keeps workspace's memory stream-ordered
  });
  return out;
#else
  (void)mode, (void)batch_sizes, (void)raw;
  return std::nullopt;
#endif
}

}  // namespace loom::nn
