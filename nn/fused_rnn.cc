#include "nn/fused_rnn.h"

#include <atomic>

#include "autograd/node.h"
#include "core/native.h"
#include "nn/rnn_double_backward.h"

#if defined(LOOM_WITH_CUDA)
#include "kernels/cuda/context.h"
#endif

namespace loom::nn {

namespace {

namespace k = loom::kernels;

std::atomic<bool> g_overlap{true};

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
  s.zoneout_h = in.zoneout_h;
  s.zoneout_c = in.zoneout_c;
  s.layer_norm = in.ln_ih_w.defined();
  s.layer_norm_eps = in.layer_norm_eps;
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
  return {ptr<T>(in.w_ih),    ptr<T>(in.w_hh),    ptr<T>(in.b_ih),    ptr<T>(in.b_hh),
          ptr<T>(in.w_hr),    ptr<T>(in.ln_ih_w), ptr<T>(in.ln_ih_b), ptr<T>(in.ln_hh_w),
          ptr<T>(in.ln_hh_b), ptr<T>(in.ln_c_w),  ptr<T>(in.ln_c_b)};
}

Tensor empty_like_opts(const Shape& shape, const Tensor& like) {
  return empty(shape, TensorOptions(like.dtype()).device(like.device()));
}

// The kernels' scratch for `s` in `like`'s dtype (kernels::rnn_workspace_elements:
// the 16-bit types need room for their float32 regions).
Tensor workspace_for(const k::RnnLayerShape& s, const Tensor& like) {
  const k::index_t n = dispatch_floating_and_half(like.dtype(), "fused RNN", [&](auto tag) {
    return k::rnn_workspace_elements<decltype(tag)>(s);
  });
  return empty_like_opts({n}, like);
}

// The inputs of one layer-direction as the node's edges: x, h0, c0, w_ih,
// w_hh, b_ih, b_hh, w_hr, then the layer norms' ln_ih_w, ln_ih_b, ln_hh_w,
// ln_hh_b, ln_c_w, ln_c_b (undefined without layer norm).
constexpr int kInputsPerDirection = 14;
std::vector<Tensor> input_list(const FusedRnnLayerInputs& in) {
  return {in.x,    in.h0,      in.c0,      in.w_ih,    in.w_hh,    in.b_ih,   in.b_hh,
          in.w_hr, in.ln_ih_w, in.ln_ih_b, in.ln_hh_w, in.ln_hh_b, in.ln_c_w, in.ln_c_b};
}

// What one layer-direction's forward keeps for its backward.
struct SavedDirection {
  k::RnnMode mode = k::RnnMode::Lstm;
  bool reverse = false;
  std::vector<std::int64_t> batch_sizes;
  FusedRnnLayerInputs in;  // contiguous, data only (saved())
  Tensor reserve;

  k::RnnLayerShape shape() const { return make_shape(mode, batch_sizes, reverse, in); }
  void release() {
    in = FusedRnnLayerInputs{};
    reserve = Tensor();
  }
};

// One layer-direction's forward, prepared: contiguous inputs, the shape, and
// every buffer the kernel writes, allocated up front (the kernel allocates
// nothing, so it may run on a side stream).
struct ForwardWork {
  FusedRnnLayerInputs in;
  k::RnnLayerShape shape;
  FusedRnnLayerOutputs out;
  Tensor reserve;    // undefined for inference
  Tensor workspace;
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

// Validates `raw`, makes contiguous copies and allocates the outputs, the
// reserve (when `training`) and the workspace. `batch_sizes` must outlive the
// result (the shape points into it).
ForwardWork prepare_forward(k::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                            bool reverse, const FusedRnnLayerInputs& raw, bool training) {
  const Tensor& x = raw.x;
  LOOM_CHECK(x.dim() == 2 && raw.h0.dim() == 2, "fused_rnn_layer: expected x [R, C] and h0 [N, P]");
  const char* names[] = {"h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr",
                         "zoneout_h_mask", "zoneout_c_mask", "layer_norm_ih_weight", "layer_norm_ih_bias",
                         "layer_norm_hh_weight", "layer_norm_hh_bias", "layer_norm_c_weight",
                         "layer_norm_c_bias"};
  const Tensor* operands[] = {&raw.h0,      &raw.c0,      &raw.w_ih,    &raw.w_hh,    &raw.b_ih,
                              &raw.b_hh,    &raw.w_hr,    &raw.zoneout_h_mask, &raw.zoneout_c_mask,
                              &raw.ln_ih_w, &raw.ln_ih_b, &raw.ln_hh_w, &raw.ln_hh_b, &raw.ln_c_w,
                              &raw.ln_c_b};
  for (int i = 0; i < 15; ++i) check_operand(names[i], *operands[i], x);

  // The shape is checked before any copy: an expanded input may be far larger
  // materialised than it is.
  k::rnn_check_shape(make_shape(mode, batch_sizes, reverse, raw));

  ForwardWork w;
  FusedRnnLayerInputs& in = w.in;  // contiguous copies the kernels can read
  in.x = native::contiguous(raw.x);
  in.h0 = native::contiguous(raw.h0);
  in.c0 = raw.c0.defined() ? native::contiguous(raw.c0) : Tensor();
  in.w_ih = native::contiguous(raw.w_ih);
  in.w_hh = native::contiguous(raw.w_hh);
  in.b_ih = raw.b_ih.defined() ? native::contiguous(raw.b_ih) : Tensor();
  in.b_hh = raw.b_hh.defined() ? native::contiguous(raw.b_hh) : Tensor();
  in.w_hr = raw.w_hr.defined() ? native::contiguous(raw.w_hr) : Tensor();
  in.zoneout_h = raw.zoneout_h;
  in.zoneout_c = raw.zoneout_c;
  in.zoneout_h_mask = raw.zoneout_h_mask.defined() ? native::contiguous(raw.zoneout_h_mask) : Tensor();
  in.zoneout_c_mask = raw.zoneout_c_mask.defined() ? native::contiguous(raw.zoneout_c_mask) : Tensor();
  auto contiguous_or_none = [](const Tensor& t) { return t.defined() ? native::contiguous(t) : Tensor(); };
  in.ln_ih_w = contiguous_or_none(raw.ln_ih_w);
  in.ln_ih_b = contiguous_or_none(raw.ln_ih_b);
  in.ln_hh_w = contiguous_or_none(raw.ln_hh_w);
  in.ln_hh_b = contiguous_or_none(raw.ln_hh_b);
  in.ln_c_w = contiguous_or_none(raw.ln_c_w);
  in.ln_c_b = contiguous_or_none(raw.ln_c_b);
  in.layer_norm_eps = raw.layer_norm_eps;

  w.shape = make_shape(mode, batch_sizes, reverse, in);
  const k::RnnLayerShape& s = w.shape;
  k::rnn_check_shape(s);
  std::int64_t R = s.rows();
  LOOM_CHECK(in.x.size(0) == R, "fused_rnn_layer: x has {} rows but batch_sizes add up to {}",
             in.x.size(0), R);
  auto check_mask = [&](const Tensor& m, double p, std::int64_t cols, const char* what) {
    if (!m.defined()) return;
    LOOM_CHECK(p > 0, "fused_rnn_layer: a {} mask was given but the probability is 0", what);
    LOOM_CHECK(m.shape() == (Shape{R, cols}), "fused_rnn_layer: the {} mask has shape {}, expected ({}, {})",
               what, shape_str(m.shape()), R, cols);
  };
  check_mask(in.zoneout_h_mask, in.zoneout_h, s.P, "zoneout_h");
  check_mask(in.zoneout_c_mask, in.zoneout_c, s.H, "zoneout_c");
  auto check_norm = [&](const Tensor& t, std::int64_t size, const char* what) {
    if (!t.defined()) return;
    LOOM_CHECK(t.shape() == (Shape{size}), "fused_rnn_layer: {} has shape {}, expected ({})", what,
               shape_str(t.shape()), size);
  };
  check_norm(in.ln_ih_w, s.G(), "layer_norm_ih_weight");
  check_norm(in.ln_ih_b, s.G(), "layer_norm_ih_bias");
  check_norm(in.ln_hh_w, s.G(), "layer_norm_hh_weight");
  check_norm(in.ln_hh_b, s.G(), "layer_norm_hh_bias");
  check_norm(in.ln_c_w, s.H, "layer_norm_c_weight");
  check_norm(in.ln_c_b, s.H, "layer_norm_c_bias");

  w.out.y = empty_like_opts({R, s.P}, x);
  w.out.h_n = empty_like_opts({s.N, s.P}, x);
  if (mode == k::RnnMode::Lstm) w.out.c_n = empty_like_opts({s.N, s.H}, x);
  if (training) w.reserve = empty_like_opts({k::rnn_reserve_size(s)}, x);
  w.workspace = workspace_for(s, x);
  return w;
}

// Queues the forward kernels of a prepared layer-direction on the current
// stream. Allocates nothing.
void launch_forward(const ForwardWork& w) {
  const Tensor& x = w.in.x;
  dispatch_floating_and_half(x.dtype(), "fused RNN forward", [&](auto tag) {
    using T = decltype(tag);
    k::RnnForwardArgs<T> a;
    a.x = ptr<T>(w.in.x);
    a.w = weights<T>(w.in);
    a.h0 = ptr<T>(w.in.h0);
    a.c0 = ptr<T>(w.in.c0);
    a.y = mut<T>(w.out.y);
    a.h_n = mut<T>(w.out.h_n);
    a.c_n = mut<T>(w.out.c_n);
    a.reserve = mut<T>(w.reserve);
    a.workspace = mut<T>(w.workspace);
    a.zoneout_h_mask = ptr<T>(w.in.zoneout_h_mask);
    a.zoneout_c_mask = ptr<T>(w.in.zoneout_c_mask);
    LOOM_DISPATCH_DEVICE(x.device(), rnn_layer_forward, w.shape, a);
  });
}

SavedDirection save(k::RnnMode mode, const std::vector<std::int64_t>& batch_sizes, bool reverse,
                    const ForwardWork& w) {
  SavedDirection d;
  d.mode = mode;
  d.reverse = reverse;
  d.batch_sizes = batch_sizes;
  d.in = w.in;
  for (Tensor* t : {&d.in.x, &d.in.h0, &d.in.c0, &d.in.w_ih, &d.in.w_hh, &d.in.b_ih, &d.in.b_hh,
                    &d.in.w_hr, &d.in.ln_ih_w, &d.in.ln_ih_b, &d.in.ln_hh_w, &d.in.ln_hh_b, &d.in.ln_c_w,
                    &d.in.ln_c_b})
    *t = saved(*t);
  d.reserve = w.reserve;
  return d;
}

// One layer-direction's backward, prepared: the incoming gradients made
// contiguous and every gradient buffer allocated. `grads` are the gradients of
// y, h_n and (LSTM) c_n; `wants[i]` says whether input i (input_list order)
// needs its gradient.
struct BackwardWork {
  const SavedDirection* saved = nullptr;
  k::RnnLayerShape shape;  // points into saved->batch_sizes
  Tensor dy, dh_n, dc_n, workspace;
  Tensor dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr;
  Tensor dln_ih_w, dln_ih_b, dln_hh_w, dln_hh_b, dln_c_w, dln_c_b;  // layer norm

  std::vector<Tensor> gradients() const {
    return {dx,       dh0,      dc0,      dw_ih,    dw_hh,   db_ih,  db_hh,
            dw_hr,    dln_ih_w, dln_ih_b, dln_hh_w, dln_hh_b, dln_c_w, dln_c_b};
  }
};

void prepare_backward(BackwardWork& b, const SavedDirection& d, const Tensor* grads,
                      const bool* wants) {
  const FusedRnnLayerInputs& in = d.in;
  b.saved = &d;
  b.shape = d.shape();
  const k::RnnLayerShape& s = b.shape;
  const bool lstm = d.mode == k::RnnMode::Lstm;
  // The input's gradient is the largest GEMM of the backward after the weight
  // gradients; skip it when nothing upstream wants it (the first layer's input).
  b.dx = wants[0] ? empty_like_opts(in.x.shape(), in.x) : Tensor();
  b.dh0 = empty_like_opts(in.h0.shape(), in.x);
  b.dc0 = lstm ? empty_like_opts({s.N, s.H}, in.x) : Tensor();
  b.dw_ih = wants[3] ? empty_like_opts(in.w_ih.shape(), in.x) : Tensor();
  b.dw_hh = wants[4] ? empty_like_opts(in.w_hh.shape(), in.x) : Tensor();
  b.db_ih = s.has_bias && wants[5] ? empty_like_opts(in.b_ih.shape(), in.x) : Tensor();
  b.db_hh = s.has_bias && wants[6] ? empty_like_opts(in.b_hh.shape(), in.x) : Tensor();
  b.dw_hr = s.has_proj && wants[7] ? empty_like_opts(in.w_hr.shape(), in.x) : Tensor();
  auto ln_grad = [&](const Tensor& p, int i) {
    return s.layer_norm && p.defined() && wants[i] ? empty_like_opts(p.shape(), in.x) : Tensor();
  };
  b.dln_ih_w = ln_grad(in.ln_ih_w, 8);
  b.dln_ih_b = ln_grad(in.ln_ih_b, 9);
  b.dln_hh_w = ln_grad(in.ln_hh_w, 10);
  b.dln_hh_b = ln_grad(in.ln_hh_b, 11);
  b.dln_c_w = ln_grad(in.ln_c_w, 12);
  b.dln_c_b = ln_grad(in.ln_c_b, 13);
  b.workspace = workspace_for(s, in.x);
  b.dy = native::contiguous(grads[0]);
  b.dh_n = native::contiguous(grads[1]);
  b.dc_n = lstm ? native::contiguous(grads[2]) : Tensor();
}

// Queues the backward kernels of a prepared layer-direction on the current
// stream. Allocates nothing.
void launch_backward(const BackwardWork& b) {
  const FusedRnnLayerInputs& in = b.saved->in;
  dispatch_floating_and_half(in.x.dtype(), "fused RNN backward", [&](auto tag) {
    using T = decltype(tag);
    k::RnnBackwardArgs<T> a;
    a.x = ptr<T>(in.x);
    a.w = weights<T>(in);
    a.reserve = ptr<T>(b.saved->reserve);
    a.dy = ptr<T>(b.dy);
    a.dh_n = ptr<T>(b.dh_n);
    a.dc_n = ptr<T>(b.dc_n);
    a.workspace = mut<T>(b.workspace);
    a.dx = mut<T>(b.dx);
    a.dh0 = mut<T>(b.dh0);
    a.dc0 = mut<T>(b.dc0);
    a.dw_ih = mut<T>(b.dw_ih);
    a.dw_hh = mut<T>(b.dw_hh);
    a.db_ih = mut<T>(b.db_ih);
    a.db_hh = mut<T>(b.db_hh);
    a.dw_hr = mut<T>(b.dw_hr);
    a.dln_ih_w = mut<T>(b.dln_ih_w);
    a.dln_ih_b = mut<T>(b.dln_ih_b);
    a.dln_hh_w = mut<T>(b.dln_hh_w);
    a.dln_hh_b = mut<T>(b.dln_hh_b);
    a.dln_c_w = mut<T>(b.dln_c_w);
    a.dln_c_b = mut<T>(b.dln_c_b);
    a.zoneout_h_mask = ptr<T>(in.zoneout_h_mask);
    a.zoneout_c_mask = ptr<T>(in.zoneout_c_mask);
    LOOM_DISPATCH_DEVICE(in.x.device(), rnn_layer_backward, b.shape, a);
  });
}

// Runs launch(0) and launch(1), the two directions' kernel sequences, which
// must allocate nothing and write disjoint buffers. On CUDA, direction 1 goes
// to side stream 1 while direction 0 goes to the main stream; the side stream
// starts after everything queued on the main stream so far and the main stream
// waits for it before anything queued later (SideStreamFork). The caller keeps
// every buffer alive until this returns. On the CPU: one after the other.
template <typename Launch>
void run_directions(const Device& device, Launch&& launch) {
#if defined(LOOM_WITH_CUDA)
  if (device.is_cuda()) {
    kernels::cuda::SideStreamFork fork(1);
    {
      kernels::cuda::StreamRoute route(1);
      launch(1);
    }
    launch(0);
    fork.join();
    return;
  }
#else
  (void)device;
#endif
  launch(0);
  launch(1);
}

// `data` (a saved tensor) carrying the history of the node input behind
// `edge`, as it was recorded: a view of the same storage whose gradient goes
// along `edge` (to the producer's output, or to the leaf's AccumulateGrad).
// Undefined or history-free data comes back as is.
Tensor with_history(const Tensor& data, const Edge& edge) {
  if (!data.defined() || !edge.node) return data;
  Tensor t = make_view(data, data.shape(), data.strides(), data.storage_offset());
  TensorImpl& impl = t.impl();
  impl.requires_grad = true;
  if (dynamic_cast<AccumulateGrad*>(edge.node.get())) {
    impl.grad_accumulator = edge.node;  // a leaf: gradients accumulate into it
  } else {
    impl.grad_fn = edge.node;
    impl.output_nr = edge.input_nr;
  }
  return t;
}

// The differentiable backward of one saved layer-direction (double
// backward): its inputs re-attached to `edges` (kInputsPerDirection of them),
// `g` the gradients of y, h_n (, c_n). See nn/rnn_double_backward.h.
std::vector<Tensor> composed_backward(const SavedDirection& d, const Edge* edges, const Tensor* g) {
  const FusedRnnLayerInputs& s = d.in;
  FusedRnnLayerInputs in;
  in.x = with_history(s.x, edges[0]);
  in.h0 = with_history(s.h0, edges[1]);
  in.c0 = with_history(s.c0, edges[2]);
  in.w_ih = with_history(s.w_ih, edges[3]);
  in.w_hh = with_history(s.w_hh, edges[4]);
  in.b_ih = with_history(s.b_ih, edges[5]);
  in.b_hh = with_history(s.b_hh, edges[6]);
  in.w_hr = with_history(s.w_hr, edges[7]);
  // Zoneout is part of the layer: the probabilities, and the training masks
  // (constants, saved as given).
  in.zoneout_h = s.zoneout_h;
  in.zoneout_c = s.zoneout_c;
  in.zoneout_h_mask = s.zoneout_h_mask;
  in.zoneout_c_mask = s.zoneout_c_mask;
  // The layer norms' gains and biases (inputs 8 .. 13), when the layer has them.
  RnnLayerNormParams ln;
  if (s.ln_ih_w.defined()) {
    ln.ih_weight = with_history(s.ln_ih_w, edges[8]);
    ln.ih_bias = with_history(s.ln_ih_b, edges[9]);
    ln.hh_weight = with_history(s.ln_hh_w, edges[10]);
    ln.hh_bias = with_history(s.ln_hh_b, edges[11]);
    ln.c_weight = with_history(s.ln_c_w, edges[12]);
    ln.c_bias = with_history(s.ln_c_b, edges[13]);
    ln.eps = s.layer_norm_eps;
  }
  std::vector<bool> wants(kInputsPerDirection);
  for (int i = 0; i < kInputsPerDirection; ++i) wants[i] = edges[i].node != nullptr;
  const bool lstm = d.mode == k::RnnMode::Lstm;
  return rnn_layer_backward_composed(d.mode, d.batch_sizes, d.reverse, in, ln,
                                     {g[0], g[1], lstm ? g[2] : Tensor()}, wants);
}

// Backward of one layer-direction: BPTT through the saved reserve, or, when
// the engine builds a graph (create_graph: grad mode is on), the composed
// differentiable backward.
struct FusedRnnLayerBackward final : Node {
  SavedDirection d;

  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    if (grad_enabled()) return composed_backward(d, next_edges.data(), g.data());
    bool wants[kInputsPerDirection];
    for (int i = 0; i < kInputsPerDirection; ++i) wants[i] = next_edges[i].node != nullptr;
    BackwardWork b;
    prepare_backward(b, d, g.data(), wants);
    launch_backward(b);
    return b.gradients();
  }
  void release_saved() override { d.release(); }
  const char* name() const override { return "FusedRnnLayerBackward"; }
  bool double_backward_ok() const override { return true; }  // composed_backward
};

// Backward of both directions of a bidirectional layer (one node). Inputs:
// the forward direction's 8 (input_list order), then the reverse direction's
// 8. Outputs: y, h_n (, c_n) of the forward direction, then of the reverse.
struct FusedBidirectionalRnnLayerBackward final : Node {
  std::array<SavedDirection, 2> d;

  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    const std::size_t per_dir = g.size() / 2;
    if (grad_enabled()) {  // double backward: each direction composed, one after the other
      std::vector<Tensor> out;
      for (int dir = 0; dir < 2; ++dir)
        for (Tensor& t : composed_backward(d[dir], next_edges.data() + dir * kInputsPerDirection,
                                           g.data() + dir * per_dir))
          out.push_back(std::move(t));
      return out;
    }
    std::array<BackwardWork, 2> b;
    std::array<bool, 2> active{};
    bool wants[2][kInputsPerDirection];
    for (int dir = 0; dir < 2; ++dir) {
      for (int i = 0; i < kInputsPerDirection; ++i) {
        wants[dir][i] = next_edges[dir * kInputsPerDirection + i].node != nullptr;
        active[dir] = active[dir] || wants[dir][i];
      }
      if (active[dir]) prepare_backward(b[dir], d[dir], g.data() + dir * per_dir, wants[dir]);
    }
    run_directions(d[0].in.x.device(), [&](int dir) {
      if (active[dir]) launch_backward(b[dir]);
    });
    std::vector<Tensor> out(2 * kInputsPerDirection);
    for (int dir = 0; dir < 2; ++dir) {
      if (!active[dir]) continue;
      std::vector<Tensor> grads = b[dir].gradients();
      for (int i = 0; i < kInputsPerDirection; ++i) out[dir * kInputsPerDirection + i] = grads[i];
    }
    return out;
  }
  void release_saved() override {
    d[0].release();
    d[1].release();
  }
  const char* name() const override { return "FusedBidirectionalRnnLayerBackward"; }
  bool double_backward_ok() const override { return true; }  // composed_backward
};

std::vector<Tensor> output_list(const FusedRnnLayerOutputs& out) {
  std::vector<Tensor> outs = {out.y, out.h_n};
  if (out.c_n.defined()) outs.push_back(out.c_n);
  return outs;
}

}  // namespace

FusedRnnLayerOutputs fused_rnn_layer(kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
                                     bool reverse, const FusedRnnLayerInputs& raw) {
  std::vector<Tensor> inputs = input_list(raw);
  ForwardWork w = prepare_forward(mode, batch_sizes, reverse, raw, any_requires_grad(inputs));
  launch_forward(w);
  if (auto node = make_node<FusedRnnLayerBackward>(inputs)) {
    node->d = save(mode, batch_sizes, reverse, w);
    std::vector<Tensor> outs = output_list(w.out);
    set_history(outs, node);  // outs share their TensorImpls with `w.out`
  }
  return w.out;
}

std::array<FusedRnnLayerOutputs, 2> fused_rnn_bidirectional_layer_joint(
    kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
    const FusedRnnLayerInputs& forward, const FusedRnnLayerInputs& reverse) {
  std::vector<Tensor> inputs = input_list(forward);
  for (const Tensor& t : input_list(reverse)) inputs.push_back(t);
  const bool training = any_requires_grad(inputs);
  std::array<ForwardWork, 2> w = {prepare_forward(mode, batch_sizes, false, forward, training),
                                  prepare_forward(mode, batch_sizes, true, reverse, training)};
  LOOM_CHECK(w[0].in.x.device() == w[1].in.x.device() && w[0].in.x.dtype() == w[1].in.x.dtype(),
             "fused_rnn_bidirectional_layer: both directions need the same device and dtype, got "
             "{} {} and {} {}",
             w[0].in.x.device(), w[0].in.x.dtype(), w[1].in.x.device(), w[1].in.x.dtype());
  run_directions(w[0].in.x.device(), [&](int dir) { launch_forward(w[dir]); });
  if (auto node = make_node<FusedBidirectionalRnnLayerBackward>(inputs)) {
    node->d = {save(mode, batch_sizes, false, w[0]), save(mode, batch_sizes, true, w[1])};
    std::vector<Tensor> outs = output_list(w[0].out);
    for (const Tensor& t : output_list(w[1].out)) outs.push_back(t);
    set_history(outs, node);  // outs share their TensorImpls with `w[*].out`
  }
  return {w[0].out, w[1].out};
}

std::array<FusedRnnLayerOutputs, 2> fused_rnn_bidirectional_layer(
    kernels::RnnMode mode, const std::vector<std::int64_t>& batch_sizes,
    const FusedRnnLayerInputs& forward, const FusedRnnLayerInputs& reverse) {
  if (rnn_direction_overlap() && forward.x.device().is_cuda())
    return fused_rnn_bidirectional_layer_joint(mode, batch_sizes, forward, reverse);
  FusedRnnLayerOutputs f = fused_rnn_layer(mode, batch_sizes, false, forward);
  FusedRnnLayerOutputs r = fused_rnn_layer(mode, batch_sizes, true, reverse);
  return {f, r};
}

void set_rnn_direction_overlap(bool enabled) { g_overlap.store(enabled); }
bool rnn_direction_overlap() { return g_overlap.load(); }

}  // namespace loom::nn
