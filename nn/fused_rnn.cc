#include "nn/fused_rnn.h"

#include "autograd/node.h"
#include "core/native.h"

namespace loom::nn {

namespace {

namespace k = loom::kernels;

k::RnnLayerShape make_shape(k::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                            bool reverse, const FusedRnnLayerInputs& in) {
  k::RnnLayerShape s;
  s.mode = mode;
  s.T = static_cast<k::index_t>(batch_sizes.size());
  s.N = in.h0.size(0);
  s.C = in.x.size(1);
  s.H = in.w_hh.size(0) / (k::gate_rows(mode, 1));
  s.P = in.h0.size(1);
  s.has_bias = in.b_ih.defined();
  s.has_proj = in.w_hr.defined();
  s.reverse = reverse;
  s.batch_sizes = batch_sizes.data();
  return s;
}

template <typename T>
const T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
}
template <typename T>
T* mut(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

template <typename T>
k::RnnWeights<T> weights(const FusedRnnLayerInputs& in) {
  return {ptr<T>(in.w_ih), ptr<T>(in.w_hh), ptr<T>(in.b_ih), ptr<T>(in.b_hh), ptr<T>(in.w_hr)};
}

Tensor empty_like_opts(const Shape& shape, const Tensor& like) {
  return empty(shape, TensorOptions(like.dtype()).device(like.device()));
}

// Backward of one layer-direction: BPTT through the saved reserve.
struct FusedRnnLayerBackward final : Node {
  k::RnnMode mode = k::RnnMode::Lstm;
  bool reverse = false;
  std::vector<std::int64_t> batch_sizes;
  FusedRnnLayerInputs in;  // saved (data only)
  Tensor reserve;

  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    k::RnnLayerShape s = make_shape(mode, batch_sizes, reverse, in);
    bool lstm = mode == k::RnnMode::Lstm;
    // next_edges order: x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr
    auto wants = [&](int i) { return next_edges[i].node != nullptr; };
    Tensor dx = empty_like_opts(in.x.shape(), in.x);
    Tensor dh0 = empty_like_opts(in.h0.shape(), in.x);
    Tensor dc0 = lstm ? empty_like_opts({s.N, s.H}, in.x) : Tensor();
    Tensor dw_ih = wants(3) ? empty_like_opts(in.w_ih.shape(), in.x) : Tensor();
    Tensor dw_hh = wants(4) ? empty_like_opts(in.w_hh.shape(), in.x) : Tensor();
    Tensor db_ih = s.has_bias && wants(5) ? empty_like_opts(in.b_ih.shape(), in.x) : Tensor();
    Tensor db_hh = s.has_bias && wants(6) ? empty_like_opts(in.b_hh.shape(), in.x) : Tensor();
    Tensor dw_hr = s.has_proj && wants(7) ? empty_like_opts(in.w_hr.shape(), in.x) : Tensor();
    Tensor workspace = empty_like_opts({k::rnn_workspace_size(s)}, in.x);
    Tensor dy = native::contiguous(g[0]), dh_n = native::contiguous(g[1]);
    Tensor dc_n = lstm ? native::contiguous(g[2]) : Tensor();

    dispatch_floating(in.x.dtype(), "fused RNN backward", [&](auto tag) {
      using T = decltype(tag);
      k::RnnBackwardArgs<T> a;
      a.x = ptr<T>(in.x);
      a.w = weights<T>(in);
      a.reserve = ptr<T>(reserve);
      a.dy = ptr<T>(dy);
      a.dh_n = ptr<T>(dh_n);
      a.dc_n = ptr<T>(dc_n);
      a.workspace = mut<T>(workspace);
      a.dx = mut<T>(dx);
      a.dh0 = mut<T>(dh0);
      a.dc0 = mut<T>(dc0);
      a.dw_ih = mut<T>(dw_ih);
      a.dw_hh = mut<T>(dw_hh);
      a.db_ih = mut<T>(db_ih);
      a.db_hh = mut<T>(db_hh);
      a.dw_hr = mut<T>(dw_hr);
      LOOM_DISPATCH_DEVICE(in.x.device(), rnn_layer_backward, s, a);
    });
    return {dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr};
  }
  void release_saved() override {
    in = FusedRnnLayerInputs{};
    reserve = Tensor();
  }
  const char* name() const override { return "FusedRnnLayerBackward"; }
};

void check_operand(const char* what, const Tensor& t, const Tensor& x) {
  if (!t.defined()) return;
  LOOM_CHECK(t.dtype() == x.dtype(),
             "RNN: expected {} to have dtype {} like the input, got {}", what, x.dtype(), t.dtype());
  LOOM_CHECK(t.device() == x.device(),
             "RNN: Input and parameter tensors are not at the same device, found input tensor at {} "
             "and {} at {}",
             x.device(), what, t.device());
}

}  // namespace

FusedRnnLayerOutputs fused_rnn_layer(kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                     bool reverse, const FusedRnnLayerInputs& raw) {
  const Tensor& x = raw.x;
  LOOM_CHECK(x.dim() == 2 && raw.h0.dim() == 2, "fused_rnn_layer: expected x [R, C] and h0 [N, P]");
  const char* names[] = {"h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"};
  const Tensor* operands[] = {&raw.h0, &raw.c0, &raw.w_ih, &raw.w_hh, &raw.b_ih, &raw.b_hh, &raw.w_hr};
  for (int i = 0; i < 7; ++i) check_operand(names[i], *operands[i], x);

  FusedRnnLayerInputs in;  // contiguous copies the kernels can read
  in.x = native::contiguous(raw.x);
  in.h0 = native::contiguous(raw.h0);
  in.c0 = raw.c0.defined() ? native::contiguous(raw.c0) : Tensor();
  in.w_ih = native::contiguous(raw.w_ih);
  in.w_hh = native::contiguous(raw.w_hh);
  in.b_ih = raw.b_ih.defined() ? native::contiguous(raw.b_ih) : Tensor();
  in.b_hh = raw.b_hh.defined() ? native::contiguous(raw.b_hh) : Tensor();
  in.w_hr = raw.w_hr.defined() ? native::contiguous(raw.w_hr) : Tensor();

  k::RnnLayerShape s = make_shape(mode, batch_sizes, reverse, in);
  k::rnn_check_shape(s);
  bool lstm = mode == k::RnnMode::Lstm;
  std::int64_t R = s.rows();
  LOOM_CHECK(in.x.size(0) == R, "fused_rnn_layer: x has {} rows but batch_sizes add up to {}",
             in.x.size(0), R);

  std::vector<Tensor> inputs = {raw.x, raw.h0, raw.c0, raw.w_ih, raw.w_hh, raw.b_ih, raw.b_hh, raw.w_hr};
  bool training = any_requires_grad(inputs);

  FusedRnnLayerOutputs out;
  out.y = empty_like_opts({R, s.P}, x);
  out.h_n = empty_like_opts({s.N, s.P}, x);
  if (lstm) out.c_n = empty_like_opts({s.N, s.H}, x);
  Tensor reserve = training ? empty_like_opts({k::rnn_reserve_size(s)}, x) : Tensor();
  Tensor workspace = empty_like_opts({k::rnn_workspace_size(s)}, x);

  dispatch_floating(x.dtype(), "fused RNN forward", [&](auto tag) {
    using T = decltype(tag);
    k::RnnForwardArgs<T> a;
    a.x = ptr<T>(in.x);
    a.w = weights<T>(in);
    a.h0 = ptr<T>(in.h0);
    a.c0 = ptr<T>(in.c0);
    a.y = mut<T>(out.y);
    a.h_n = mut<T>(out.h_n);
    a.c_n = mut<T>(out.c_n);
    a.reserve = mut<T>(reserve);
    a.workspace = mut<T>(workspace);
    LOOM_DISPATCH_DEVICE(x.device(), rnn_layer_forward, s, a);
  });

  if (auto node = make_node<FusedRnnLayerBackward>(inputs)) {
    node->mode = mode;
    node->reverse = reverse;
    node->batch_sizes = batch_sizes;
    node->in = in;
    for (Tensor* t : {&node->in.x, &node->in.h0, &node->in.c0, &node->in.w_ih, &node->in.w_hh,
                      &node->in.b_ih, &node->in.b_hh, &node->in.w_hr})
      *t = saved(*t);
    node->reserve = reserve;
    std::vector<Tensor> outs = {out.y, out.h_n};
    if (lstm) outs.push_back(out.c_n);
    set_history(outs, node);  // outs share their TensorImpls with `out`
  }
  return out;
}

}  // namespace loom::nn
