// LayerNorm-LSTM / LayerNorm-GRU in the fused recurrent kernels (kernels/rnn.h,
// layer norm; issue 13 item 1):
// - one layer-direction, fused_rnn_layer against its composed twin
//   composed_rnn_layer (nn/rnn_composed_layer.h, loom's differentiable ops)
//   in float64: y, h_n, c_n and the gradient of every input (x, h0, c0,
//   weights, biases, the six layer-norm parameters), over LSTM and GRU, both
//   directions, packed batches, zero and random h0/c0, bias false, zoneout
//   (training masks and the eval expectation);
// - whole modules, fused against composed (set_rnn_composed_variants): two
//   layers, bidirectional, batch_first, packed unsorted input, dropout between
//   layers with fixed masks, zoneout;
// - gradcheck (float64 central differences) of the fused layer;
// - bad input: loom::Error; the same bits run to run;
// - bfloat16 / float16 modules against float64 at the 16-bit tolerance of
//   tests/nn/rnn_half_test.cc;
// - CUDA against the CPU (skipped without a GPU).
// The PyTorch oracle for the layer-norm modules is tests/data/variants
// (tests/nn/rnn_variants_test.cc), which now runs on this fused path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "core/native.h"
#include "kernels/rnn.h"
#include "nn/fused_rnn.h"
#include "nn/packed_sequence.h"
#include "nn/research_cells.h"
#include "nn/rnn.h"
#include "nn/rnn_composed_layer.h"
#include "testing.h"

namespace loom {
namespace {

using kernels::RnnMode;

TensorOptions f64() { return TensorOptions(kFloat64); }

std::vector<double> values(const Tensor& t) {
  return native::to(native::to(t, kCPU), kFloat64).to_vector<double>();
}

// One layer-direction's inputs: random weights, layer-norm gains around 1 and
// biases around 0 (not their initial values, so that every term matters).
struct LayerSetup {
  bool lstm = true;
  bool bias = true;
  bool random_state = true;  // h0/c0 random, else zeros
  double zoneout_h = 0, zoneout_c = 0;
  bool training = false;     // zoneout masks given
  std::vector<std::int64_t> batch_sizes = {4, 4, 3, 3, 2, 1};
  std::int64_t C = 5, H = 6;
};

std::int64_t rows_of(const std::vector<std::int64_t>& b) {
  std::int64_t r = 0;
  for (std::int64_t v : b) r += v;
  return r;
}

nn::FusedRnnLayerInputs make_layer_inputs(const LayerSetup& s, TensorOptions o) {
  const std::int64_t R = rows_of(s.batch_sizes), N = s.batch_sizes[0], G = (s.lstm ? 4 : 3) * s.H;
  nn::FusedRnnLayerInputs in;
  in.x = randn({R, s.C}, o);
  in.h0 = s.random_state ? randn({N, s.H}, o) : zeros({N, s.H}, o);
  if (s.lstm) in.c0 = s.random_state ? randn({N, s.H}, o) : zeros({N, s.H}, o);
  in.w_ih = randn({G, s.C}, o) * 0.4;
  in.w_hh = randn({G, s.H}, o) * 0.4;
  if (s.bias) in.b_ih = randn({G}, o) * 0.4, in.b_hh = randn({G}, o) * 0.4;
  in.ln_ih_w = randn({G}, o) * 0.3 + 1.0;
  in.ln_ih_b = randn({G}, o) * 0.3;
  in.ln_hh_w = randn({G}, o) * 0.3 + 1.0;
  in.ln_hh_b = randn({G}, o) * 0.3;
  if (s.lstm) in.ln_c_w = randn({s.H}, o) * 0.3 + 1.0, in.ln_c_b = randn({s.H}, o) * 0.3;
  in.layer_norm_eps = 1e-5;
  in.zoneout_h = s.zoneout_h;
  in.zoneout_c = s.zoneout_c;
  if (s.training && s.zoneout_h > 0) in.zoneout_h_mask = nn::bernoulli_mask({R, s.H}, s.zoneout_h, o);
  if (s.training && s.zoneout_c > 0) in.zoneout_c_mask = nn::bernoulli_mask({R, s.H}, s.zoneout_c, o);
  return in;
}

// Pointers to the differentiable members of `in` that are defined (x, h0, c0
// when random, weights, biases, the layer norms).
std::vector<Tensor*> differentiable(nn::FusedRnnLayerInputs& in, bool with_state) {
  std::vector<Tensor*> out = {&in.x};
  if (with_state) out.push_back(&in.h0);
  if (with_state && in.c0.defined()) out.push_back(&in.c0);
  for (Tensor* t : {&in.w_ih, &in.w_hh, &in.b_ih, &in.b_hh, &in.ln_ih_w, &in.ln_ih_b, &in.ln_hh_w, &in.ln_hh_b,
                    &in.ln_c_w, &in.ln_c_b})
    if (t->defined()) out.push_back(t);
  return out;
}

nn::RnnLayerNormParams norms_of(const nn::FusedRnnLayerInputs& in) {
  nn::RnnLayerNormParams ln;
  ln.ih_weight = in.ln_ih_w, ln.ih_bias = in.ln_ih_b, ln.hh_weight = in.ln_hh_w, ln.hh_bias = in.ln_hh_b;
  ln.c_weight = in.ln_c_w, ln.c_bias = in.ln_c_b, ln.eps = in.layer_norm_eps;
  return ln;
}

// A scalar of every output, with fixed random weights.
Tensor weighted_loss(const nn::FusedRnnLayerOutputs& o) {
  manual_seed(5);
  auto like = [&](const Tensor& t) { return native::to(native::to(randn(t.shape(), f64()), t.dtype()), t.device()); };
  Tensor l = sum(o.y * like(o.y)) + sum(o.h_n * like(o.h_n));
  if (o.c_n.defined()) l = l + sum(o.c_n * like(o.c_n));
  return l;
}

// Outputs and every gradient of one layer-direction, fused or composed.
std::vector<std::vector<double>> run_layer(const LayerSetup& s, nn::FusedRnnLayerInputs in, bool reverse,
                                           bool fused) {
  std::vector<Tensor> leaves;
  for (Tensor* t : differentiable(in, s.random_state)) {
    *t = t->detach().requires_grad_(true);
    leaves.push_back(*t);
  }
  const RnnMode mode = s.lstm ? RnnMode::Lstm : RnnMode::Gru;
  nn::FusedRnnLayerOutputs out = fused ? nn::fused_rnn_layer(mode, s.batch_sizes, reverse, in)
                                       : nn::composed_rnn_layer(mode, s.batch_sizes, reverse, in, norms_of(in));
  std::vector<std::vector<double>> r = {values(out.y), values(out.h_n)};
  if (s.lstm) r.push_back(values(out.c_n));
  for (const Tensor& g : autograd::grad({weighted_loss(out)}, leaves, {})) r.push_back(values(g));
  return r;
}

void expect_layer_matches_composed(const LayerSetup& s) {
  for (bool reverse : {false, true}) {
    SCOPED_TRACE(fmt::format("{} reverse={} bias={} random_state={} zoneout={}/{} training={}",
                             s.lstm ? "LSTM" : "GRU", reverse, s.bias, s.random_state, s.zoneout_h, s.zoneout_c,
                             s.training));
    manual_seed(21);
    const nn::FusedRnnLayerInputs in = make_layer_inputs(s, f64());
    const auto a = run_layer(s, in, reverse, true), b = run_layer(s, in, reverse, false);
    ASSERT_EQ(a.size(), b.size());
    // outputs, states, x, (h0, c0), w_ih, w_hh, (b_ih, b_hh), four (LSTM six) layer-norm parameters
    EXPECT_EQ(a.size(), (s.lstm ? 3u : 2u) + 1 + (s.random_state ? (s.lstm ? 2u : 1u) : 0u) + 2 +
                            (s.bias ? 2u : 0u) + (s.lstm ? 6u : 4u));
    for (std::size_t i = 0; i < a.size(); ++i)
      testing::expect_all_close(a[i], b[i], 1e-10, 1e-10, fmt::format("quantity {}", i));
  }
}

TEST(RnnLayerNormFused, LstmLayerMatchesComposed) {
  LayerSetup s;
  expect_layer_matches_composed(s);
  s.bias = false, s.random_state = false;
  expect_layer_matches_composed(s);
  s.bias = true, s.random_state = true, s.batch_sizes = {3, 3, 3, 3};
  expect_layer_matches_composed(s);
}

TEST(RnnLayerNormFused, GruLayerMatchesComposed) {
  LayerSetup s;
  s.lstm = false;
  expect_layer_matches_composed(s);
  s.bias = false, s.random_state = false;
  expect_layer_matches_composed(s);
  s.bias = true, s.random_state = true, s.batch_sizes = {3, 3, 3, 3};
  expect_layer_matches_composed(s);
}

TEST(RnnLayerNormFused, WithZoneoutMatchesComposed) {
  for (bool lstm : {true, false}) {
    for (bool training : {true, false}) {
      LayerSetup s;
      s.lstm = lstm, s.training = training, s.zoneout_h = 0.35, s.zoneout_c = lstm ? 0.25 : 0.0;
      expect_layer_matches_composed(s);
    }
  }
}

// ---- whole modules, fused vs composed -----------------------------------------------------------

struct ModuleSetup {
  bool lstm = true;
  bool bidirectional = true;
  bool batch_first = false;
  bool packed = false;  // lengths unsorted: the module sorts and restores
  bool bias = true;
  bool training = false;  // dropout between layers and zoneout with fixed masks
  bool with_state = true;
};

nn::RNNOptions module_options(const ModuleSetup& s) {
  nn::RNNOptions o(3, 5);
  o.num_layers(2).bidirectional(s.bidirectional).batch_first(s.batch_first).bias(s.bias).layer_norm(true);
  if (s.training) {
    o.dropout(0.3).zoneout_h(0.3);
    if (s.lstm) o.zoneout_c(0.2);
  }
  return o;
}

// Masks in the set_variant_masks layout for the options above.
std::map<std::string, Tensor> masks_for(const nn::RNNOptions& o, std::int64_t L, std::int64_t N) {
  std::map<std::string, Tensor> m;
  const std::int64_t H = o.hidden_size_, D = o.bidirectional_ ? 2 : 1;
  for (std::int64_t k = 0; k < o.num_layers_; ++k) {
    for (std::int64_t d = 0; d < D; ++d) {
      const std::string suffix = fmt::format("_l{}{}", k, d ? "_reverse" : "");
      if (o.zoneout_h_ > 0) m["zoneout_h" + suffix] = nn::bernoulli_mask({L, N, H}, o.zoneout_h_, f64());
      if (o.zoneout_c_ > 0) m["zoneout_c" + suffix] = nn::bernoulli_mask({L, N, H}, o.zoneout_c_, f64());
    }
    if (k > 0 && o.dropout_ > 0)
      m[fmt::format("dropout_l{}", k)] = nn::bernoulli_mask({L, N, D * H}, 1 - o.dropout_, f64());
  }
  return m;
}

// Output, h_n, c_n, and the gradients of x, h0, c0 and every parameter.
std::vector<std::vector<double>> run_module(const ModuleSetup& s, nn::RNNBase& m, const Tensor& x_in,
                                            const Tensor& h0_in, const Tensor& c0_in) {
  const std::vector<std::int64_t> lengths = {3, 5, 2, 5};
  Tensor x = x_in.detach().requires_grad_(true);
  Tensor h0 = s.with_state ? h0_in.detach().requires_grad_(true) : Tensor();
  Tensor c0 = s.with_state && s.lstm ? c0_in.detach().requires_grad_(true) : Tensor();
  Tensor out, h_n, c_n;
  if (s.packed) {
    nn::PackedSequence p = nn::pack_padded_sequence(x, lengths, s.batch_first, false);
    if (s.lstm) {
      auto [y, st] = static_cast<nn::LSTMImpl&>(m).forward(p, nn::LSTMImpl::State{h0, c0});
      out = y.data, h_n = std::get<0>(st), c_n = std::get<1>(st);
    } else {
      auto [y, h] = static_cast<nn::GRUImpl&>(m).forward(p, h0);
      out = y.data, h_n = h;
    }
  } else if (s.lstm) {
    auto [y, st] = static_cast<nn::LSTMImpl&>(m).forward(x, nn::LSTMImpl::State{h0, c0});
    out = y, h_n = std::get<0>(st), c_n = std::get<1>(st);
  } else {
    std::tie(out, h_n) = static_cast<nn::GRUImpl&>(m).forward(x, h0);
  }
  nn::FusedRnnLayerOutputs o{out, h_n, c_n};
  std::vector<Tensor> leaves = {x};
  if (h0.defined()) leaves.push_back(h0);
  if (c0.defined()) leaves.push_back(c0);
  for (const Tensor& p : m.parameters()) leaves.push_back(p);
  std::vector<std::vector<double>> r = {values(out), values(h_n)};
  if (c_n.defined()) r.push_back(values(c_n));
  for (const Tensor& g : autograd::grad({weighted_loss(o)}, leaves, {})) r.push_back(values(g));
  return r;
}

std::shared_ptr<nn::RNNBase> make_module(const ModuleSetup& s, const nn::RNNOptions& o) {
  if (s.lstm) return std::make_shared<nn::LSTMImpl>(o);
  return std::make_shared<nn::GRUImpl>(o);
}

// Sets every parameter to random values (layer-norm gains around 1).
void randomise(nn::RNNBase& m) {
  NoGradGuard no_grad;
  for (const auto& [name, p] : m.named_parameters()) {
    const bool gain = name.find("layer_norm") == 0 && name.find("weight") != std::string::npos;
    native::copy_(p, native::to(randn(p.shape(), f64()) * 0.4 + (gain ? 1.0 : 0.0), p.dtype()));
  }
}

void expect_module_matches_composed(const ModuleSetup& s) {
  SCOPED_TRACE(fmt::format("{} bidirectional={} batch_first={} packed={} bias={} training={} state={}",
                           s.lstm ? "LSTM" : "GRU", s.bidirectional, s.batch_first, s.packed, s.bias, s.training,
                           s.with_state));
  manual_seed(7);
  const nn::RNNOptions o = module_options(s);
  auto m = make_module(s, o);
  m->to(kFloat64);
  randomise(*m);
  m->train(s.training);
  const std::int64_t L = 5, N = 4, D = s.bidirectional ? 2 : 1;
  if (s.training) m->set_variant_masks(masks_for(o, L, N));
  const Tensor x = s.batch_first ? randn({N, L, 3}, f64()) : randn({L, N, 3}, f64());
  const Tensor h0 = randn({2 * D, N, 5}, f64()), c0 = randn({2 * D, N, 5}, f64());
  nn::set_rnn_composed_variants(false);
  const auto fused = run_module(s, *m, x, h0, c0);
  nn::set_rnn_composed_variants(true);
  const auto composed = run_module(s, *m, x, h0, c0);
  nn::set_rnn_composed_variants(false);
  ASSERT_EQ(fused.size(), composed.size());
  for (std::size_t i = 0; i < fused.size(); ++i)
    testing::expect_all_close(fused[i], composed[i], 1e-10, 1e-10, fmt::format("quantity {}", i));
}

TEST(RnnLayerNormFused, LstmModuleMatchesComposed) {
  ModuleSetup s;
  expect_module_matches_composed(s);
  s.batch_first = true, s.packed = true, s.bias = false;
  expect_module_matches_composed(s);
  s.training = true, s.with_state = false;
  expect_module_matches_composed(s);
  s.bidirectional = false, s.packed = false;
  expect_module_matches_composed(s);
}

TEST(RnnLayerNormFused, GruModuleMatchesComposed) {
  ModuleSetup s;
  s.lstm = false;
  expect_module_matches_composed(s);
  s.batch_first = true, s.packed = true, s.bias = false;
  expect_module_matches_composed(s);
  s.training = true, s.with_state = false;
  expect_module_matches_composed(s);
}

// ---- gradcheck -------------------------------------------------------------------------------------

TEST(RnnLayerNormFused, GradcheckOfTheFusedLayer) {
  for (bool lstm : {true, false}) {
    for (bool reverse : {false, true}) {
      SCOPED_TRACE(fmt::format("{} reverse={}", lstm ? "LSTM" : "GRU", reverse));
      LayerSetup s;
      s.lstm = lstm, s.C = 2, s.H = 3, s.batch_sizes = {3, 2, 1};
      s.zoneout_h = 0.3, s.zoneout_c = lstm ? 0.2 : 0.0, s.training = reverse;
      manual_seed(13);
      nn::FusedRnnLayerInputs in = make_layer_inputs(s, f64());
      in.layer_norm_eps = 1e-3;
      std::vector<Tensor*> slots = differentiable(in, true);
      std::vector<Tensor> inputs;
      for (Tensor* t : slots) inputs.push_back(t->detach().requires_grad_(true));
      auto f = [&](const std::vector<Tensor>& v) {
        nn::FusedRnnLayerInputs call = in;
        std::vector<Tensor*> dst = differentiable(call, true);
        for (std::size_t i = 0; i < dst.size(); ++i) *dst[i] = v[i];
        nn::FusedRnnLayerOutputs o =
            nn::fused_rnn_layer(lstm ? RnnMode::Lstm : RnnMode::Gru, s.batch_sizes, reverse, call);
        std::vector<Tensor> outs = {o.y, o.h_n};
        if (lstm) outs.push_back(o.c_n);
        return outs;
      };
      GradcheckResult r = gradcheck(f, inputs, {1e-6, 1e-7, 1e-5});
      EXPECT_TRUE(r.ok) << r.message;
    }
  }
}

// ---- bad input -------------------------------------------------------------------------------------

template <typename Body>
void expect_error_containing(Body&& body, const std::string& text) {
  try {
    body();
    ADD_FAILURE() << "no loom::Error, expected one containing: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(RnnLayerNormFused, BadInputIsAnError) {
  const std::vector<std::int64_t> b = {2, 2};
  kernels::RnnLayerShape shape;
  shape.mode = RnnMode::RnnTanh, shape.T = 2, shape.N = 2, shape.C = 3, shape.H = 4, shape.P = 4;
  shape.batch_sizes = b.data();
  shape.layer_norm = true;
  EXPECT_THROW(kernels::rnn_check_shape(shape), Error);
  shape.mode = RnnMode::Lstm;
  EXPECT_NO_THROW(kernels::rnn_check_shape(shape));
  shape.layer_norm_eps = 0;
  EXPECT_THROW(kernels::rnn_check_shape(shape), Error);
  shape.layer_norm_eps = 1e-5, shape.has_proj = true, shape.P = 2;
  expect_error_containing([&] { kernels::rnn_check_shape(shape); }, "layer_norm is not supported with proj_size");

  manual_seed(3);
  LayerSetup s;
  s.batch_sizes = b, s.C = 3, s.H = 4;
  nn::FusedRnnLayerInputs in = make_layer_inputs(s, f64());
  // The RNN mode with layer norm (G = H = 4).
  nn::FusedRnnLayerInputs rnn;
  rnn.x = in.x, rnn.h0 = in.h0;
  rnn.w_ih = randn({4, 3}, f64()), rnn.w_hh = randn({4, 4}, f64());
  rnn.ln_ih_w = randn({4}, f64()), rnn.ln_ih_b = randn({4}, f64());
  rnn.ln_hh_w = randn({4}, f64()), rnn.ln_hh_b = randn({4}, f64());
  expect_error_containing([&] { nn::fused_rnn_layer(RnnMode::RnnTanh, b, false, rnn); },
                          "layer_norm is only supported for LSTM and GRU");
  // Projection with layer norm.
  nn::FusedRnnLayerInputs proj = in;
  proj.w_hr = randn({2, 4}, f64());
  proj.h0 = randn({2, 2}, f64());
  proj.w_hh = randn({16, 2}, f64());
  EXPECT_THROW(nn::fused_rnn_layer(RnnMode::Lstm, b, false, proj), Error);
  // A missing c layer norm, a mis-shaped gain, a c layer norm for GRU.
  nn::FusedRnnLayerInputs no_c = in;
  no_c.ln_c_w = Tensor();
  EXPECT_THROW(nn::fused_rnn_layer(RnnMode::Lstm, b, false, no_c), Error);
  nn::FusedRnnLayerInputs wrong = in;
  wrong.ln_hh_w = randn({5}, f64());
  EXPECT_THROW(nn::fused_rnn_layer(RnnMode::Lstm, b, false, wrong), Error);
  s.lstm = false;
  nn::FusedRnnLayerInputs gru = make_layer_inputs(s, f64());
  gru.ln_c_w = randn({4}, f64()), gru.ln_c_b = randn({4}, f64());
  EXPECT_THROW(nn::fused_rnn_layer(RnnMode::Gru, b, false, gru), Error);
  // The modules refuse layer_norm for RNN and with projection.
  EXPECT_THROW(nn::RNN(nn::RNNOptions(3, 4).layer_norm(true)), Error);
  EXPECT_THROW(nn::LSTM(nn::LSTMOptions(3, 4).proj_size(2).layer_norm(true)), Error);
}

// create_graph through a fused layer-norm layer: the node's composed
// backward with its layer norms, gradgradchecked in tests/nn/rnn_double_backward_test.cc.

// ---- determinism -----------------------------------------------------------------------------------

TEST(RnnLayerNormFused, SameBitsRunToRun) {
  for (bool lstm : {true, false}) {
    ModuleSetup s;
    s.lstm = lstm, s.packed = true, s.training = true;
    auto once = [&] {
      manual_seed(9);
      const nn::RNNOptions o = module_options(s);
      auto m = make_module(s, o);
      randomise(*m);
      m->train(true);
      m->set_variant_masks(masks_for(o, 5, 4));
      const Tensor x = randn({5, 4, 3}), h0 = randn({4, 4, 5}), c0 = randn({4, 4, 5});
      return run_module(s, *m, x, h0, c0);  // float32
    };
    EXPECT_EQ(once(), once()) << (lstm ? "LSTM" : "GRU");
  }
}

// ---- 16-bit storage ---------------------------------------------------------------------------------

// The module in bfloat16 / float16 against the same module in float64 with the
// same (16-bit representable) weights and input: per quantity within
// 4 * g * u, g = max(1, float32 error / 2^-24) (tests/nn/rnn_half_test.cc).
void check_half(bool lstm, DType dtype) {
  const double u = dtype == kBFloat16 ? 0x1p-8 : 0x1p-11, u32 = 0x1p-24;
  ModuleSetup s;
  s.lstm = lstm, s.packed = true;
  const nn::RNNOptions o = module_options(s);
  manual_seed(17);
  auto m64 = make_module(s, o), m32 = make_module(s, o), m16 = make_module(s, o);
  m64->to(kFloat64), m32->to(kFloat32), m16->to(dtype);
  randomise(*m64);
  {
    NoGradGuard no_grad;
    const auto p64 = m64->parameters(), p32 = m32->parameters(), p16 = m16->parameters();
    for (std::size_t i = 0; i < p64.size(); ++i) {
      native::copy_(p64[i], native::to(native::to(p64[i], dtype), kFloat64));
      native::copy_(p32[i], native::to(p64[i], kFloat32));
      native::copy_(p16[i], native::to(p64[i], dtype));
    }
  }
  auto rounded = [&](const Shape& shape) { return native::to(native::to(randn(shape, f64()), dtype), kFloat64); };
  const Tensor x = rounded({5, 4, 3}), h0 = rounded({4, 4, 5}), c0 = rounded({4, 4, 5});
  const auto r64 = run_module(s, *m64, x, h0, c0);
  const auto r32 = run_module(s, *m32, native::to(x, kFloat32), native::to(h0, kFloat32), native::to(c0, kFloat32));
  const auto r16 = run_module(s, *m16, native::to(x, dtype), native::to(h0, dtype), native::to(c0, dtype));
  ASSERT_EQ(r16.size(), r64.size());
  double worst = 0;
  for (std::size_t q = 0; q < r64.size(); ++q) {
    const double err32 = testing::relative_l2_error(r32[q], r64[q]), err16 = testing::relative_l2_error(r16[q], r64[q]);
    const double growth = std::max(1.0, err32 / u32);
    EXPECT_LE(err16, 4 * growth * u) << (lstm ? "LSTM" : "GRU") << " quantity " << q << ": 16-bit error " << err16
                                     << ", float32 error " << err32;
    worst = std::max(worst, err16 / (4 * growth * u));
  }
  std::printf("layer-norm %s %s: worst error / allowed %.3f\n", lstm ? "LSTM" : "GRU", dtype_name(dtype).data(),
              worst);
}

TEST(RnnLayerNormFused, BFloat16AgainstFloat64) {
  check_half(true, kBFloat16);
  check_half(false, kBFloat16);
}

TEST(RnnLayerNormFused, Float16AgainstFloat64) {
  check_half(true, kFloat16);
  check_half(false, kFloat16);
}

// ---- CUDA ----------------------------------------------------------------------------------------------

// The fused CUDA layer against the fused CPU layer (float64 to 1e-12, float32
// to 1e-5): outputs, states and every gradient, packed, both directions, with
// and without zoneout masks.
TEST(RnnLayerNormFusedCuda, LayerMatchesTheCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (DType dtype : {kFloat64, kFloat32}) {
    for (bool lstm : {true, false}) {
      for (bool reverse : {false, true}) {
        for (bool training : {false, true}) {
          SCOPED_TRACE(fmt::format("{} {} reverse={} training={}", dtype_name(dtype), lstm ? "LSTM" : "GRU", reverse,
                                   training));
          LayerSetup s;
          s.lstm = lstm, s.C = 7, s.H = 300, s.batch_sizes = {5, 5, 4, 2, 2, 1};  // H > 256: several columns per thread
          s.training = training, s.zoneout_h = training ? 0.3 : 0.0, s.zoneout_c = training && lstm ? 0.2 : 0.0;
          manual_seed(31);
          const nn::FusedRnnLayerInputs in = make_layer_inputs(s, TensorOptions(dtype));
          auto on = [&](Device device) {
            nn::FusedRnnLayerInputs d = in;
            for (Tensor* t : {&d.x, &d.h0, &d.c0, &d.w_ih, &d.w_hh, &d.b_ih, &d.b_hh, &d.ln_ih_w, &d.ln_ih_b,
                              &d.ln_hh_w, &d.ln_hh_b, &d.ln_c_w, &d.ln_c_b, &d.zoneout_h_mask, &d.zoneout_c_mask})
              if (t->defined()) *t = native::to(*t, device);
            return run_layer(s, d, reverse, true);
          };
          const auto cpu = on(kCPU), cuda = on(kCUDA);
          const double tol = dtype == kFloat64 ? 1e-12 : 1e-5;
          for (std::size_t i = 0; i < cpu.size(); ++i)
            testing::expect_all_close(cuda[i], cpu[i], tol, tol, fmt::format("quantity {}", i));
        }
      }
    }
  }
}

// Whole modules on CUDA (bidirectional: both directions at once on two
// streams) against the CPU, float64; and the same bits twice on CUDA.
TEST(RnnLayerNormFusedCuda, ModuleMatchesTheCpuAndRepeats) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (bool lstm : {true, false}) {
    ModuleSetup s;
    s.lstm = lstm, s.packed = true, s.batch_first = true, s.training = true;
    const nn::RNNOptions o = module_options(s);
    manual_seed(41);
    auto cpu = make_module(s, o);
    cpu->to(kFloat64);
    randomise(*cpu);
    cpu->train(true);
    const auto masks = masks_for(o, 5, 4);
    cpu->set_variant_masks(masks);
    auto gpu = make_module(s, o);
    gpu->to(kFloat64);
    gpu->load_state_dict(cpu->state_dict());
    gpu->to(kCUDA);
    gpu->train(true);
    std::map<std::string, Tensor> gpu_masks;
    for (const auto& [k, v] : masks) gpu_masks[k] = native::to(v, kCUDA);
    gpu->set_variant_masks(gpu_masks);
    const Tensor x = randn({4, 5, 3}, f64()), h0 = randn({4, 4, 5}, f64()), c0 = randn({4, 4, 5}, f64());
    const auto rc = run_module(s, *cpu, x, h0, c0);
    const auto rg = run_module(s, *gpu, native::to(x, kCUDA), native::to(h0, kCUDA), native::to(c0, kCUDA));
    const auto rg2 = run_module(s, *gpu, native::to(x, kCUDA), native::to(h0, kCUDA), native::to(c0, kCUDA));
    ASSERT_EQ(rc.size(), rg.size());
    for (std::size_t i = 0; i < rc.size(); ++i)
      testing::expect_all_close(rg[i], rc[i], 1e-12, 1e-12, fmt::format("{} quantity {}", lstm ? "LSTM" : "GRU", i));
    EXPECT_EQ(rg, rg2);
  }
}

}  // namespace
}  // namespace loom
