// nn::RNN / LSTM / GRU on bfloat16 and float16 tensors run the fused 16-bit
// path (kernels/rnn.h, "Precision"): a module cast to the 16-bit type against
// the same module in float64 holding the same (16-bit-representable) weights
// and input. Tolerance as in tests/kernels/rnn_half_cpu_test.cc, not tuned:
// for each quantity, the float32 module's error against float64 gives the
// problem's growth g = max(1, err32 / 2^-24), and the 16-bit module must be
// within 4 * g * u (u = 2^-8 bfloat16, 2^-11 float16). Covers stacked,
// bidirectional, projected and packed layers; outputs, final states, the
// input's gradient and every parameter's gradient, which arrive in the
// module's dtype.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/packed_sequence.h"
#include "nn/rnn.h"
#include "testing.h"

namespace loom::nn {
namespace {

using Vec = std::vector<double>;

double relative_error(const Vec& a, const Vec& r) { return testing::relative_l2_error(a, r); }

Vec values(const Tensor& t) { return to(to(t, kCPU), kFloat64).to_vector<double>(); }

enum class Kind { Tanh, Lstm, LstmProj, Gru };

struct Config {
  Kind kind;
  bool bidirectional;
  bool packed;
  const char* name;
};

std::shared_ptr<RNNBase> make_module(const Config& s) {
  const std::int64_t C = 6, H = 10;
  if (s.kind == Kind::Gru)
    return std::make_shared<GRUImpl>(GRUOptions(C, H).num_layers(2).bidirectional(s.bidirectional));
  if (s.kind == Kind::Tanh)
    return std::make_shared<RNNImpl>(RNNOptions(C, H).num_layers(2).bidirectional(s.bidirectional));
  LSTMOptions o(C, H);
  o.num_layers(2).bidirectional(s.bidirectional);
  if (s.kind == Kind::LstmProj) o.proj_size(4);
  return std::make_shared<LSTMImpl>(o);
}

// Output, h_n, c_n (LSTM), the input's gradient and each parameter's
// gradient, for input x (L, N, C) and upstream gradient g of the output.
std::vector<Vec> run(const Config& s, RNNBase& m, const Tensor& x_in, const Tensor& g) {
  Tensor x = x_in.detach();
  x.requires_grad_(true);
  const std::vector<std::int64_t> lengths = {5, 4, 4, 2};
  Tensor out, h_n, c_n;
  if (s.packed) {
    PackedSequence p = pack_padded_sequence(x, lengths);
    if (s.kind == Kind::Lstm || s.kind == Kind::LstmProj) {
      auto [y, st] = static_cast<LSTMImpl&>(m).forward(p);
      out = y.data, h_n = std::get<0>(st), c_n = std::get<1>(st);
    } else if (s.kind == Kind::Gru) {
      auto [y, h] = static_cast<GRUImpl&>(m).forward(p);
      out = y.data, h_n = h;
    } else {
      auto [y, h] = static_cast<RNNImpl&>(m).forward(p);
      out = y.data, h_n = h;
    }
  } else if (s.kind == Kind::Lstm || s.kind == Kind::LstmProj) {
    auto [y, st] = static_cast<LSTMImpl&>(m).forward(x);
    out = y, h_n = std::get<0>(st), c_n = std::get<1>(st);
  } else if (s.kind == Kind::Gru) {
    std::tie(out, h_n) = static_cast<GRUImpl&>(m).forward(x);
  } else {
    std::tie(out, h_n) = static_cast<RNNImpl&>(m).forward(x);
  }
  EXPECT_EQ(out.dtype(), x.dtype());
  Tensor grad = s.packed ? slice(g.reshape({-1, g.size(-1)}), 0, 0, out.size(0)) : g;
  out.backward(to(grad, out.dtype()));
  std::vector<Vec> r = {values(out), values(h_n), c_n.defined() ? values(c_n) : Vec(),
                        values(x.grad())};
  for (const Tensor& p : m.parameters()) {
    EXPECT_EQ(p.grad().dtype(), p.dtype());
    r.push_back(values(p.grad()));
  }
  return r;
}

void check(const Config& s, DType dtype) {
  const double u = dtype == kBFloat16 ? 0x1p-8 : 0x1p-11, u32 = 0x1p-24;
  // Weights and data rounded to the 16-bit type once, then held exactly by all three.
  auto m64 = make_module(s), m32 = make_module(s), m16 = make_module(s);
  m64->to(kFloat64), m32->to(kFloat32), m16->to(dtype);
  {
    NoGradGuard no_grad;
    for (const Tensor& p : m64->parameters()) native::copy_(p, native::to(native::to(p, dtype), kFloat64));
    const auto p64 = m64->parameters(), p32 = m32->parameters(), p16 = m16->parameters();
    for (size_t i = 0; i < p64.size(); ++i) {
      native::copy_(p32[i], native::to(p64[i], kFloat32));
      native::copy_(p16[i], native::to(p64[i], dtype));
    }
  }
  const std::int64_t D = s.bidirectional ? 2 : 1, P = s.kind == Kind::LstmProj ? 4 : 10;
  Tensor x = to(to(testing::random_tensor({5, 4, 6}, 21), dtype), kFloat64);
  Tensor g = to(to(testing::random_tensor({5, 4, D * P}, 22), dtype), kFloat64);
  const std::vector<Vec> r64 = run(s, *m64, x, g), r32 = run(s, *m32, to(x, kFloat32), g),
                         r16 = run(s, *m16, to(x, dtype), g);
  ASSERT_EQ(r16.size(), r64.size());
  const auto names = m64->named_parameters();
  double worst = 0;
  std::string worst_what;
  int compared = 0;
  for (size_t q = 0; q < r64.size(); ++q) {
    const std::string what = q < 4 ? std::vector<std::string>{"output", "h_n", "c_n", "dx"}[q]
                                   : "d" + names[q - 4].first;
    if (r64[q].empty()) continue;
    const double err32 = relative_error(r32[q], r64[q]), err16 = relative_error(r16[q], r64[q]);
    const double growth = std::max(1.0, err32 / u32);
    EXPECT_LE(err16, 4 * growth * u) << s.name << " " << what << ": 16-bit error " << err16
                                     << ", float32 error " << err32;
    if (err16 / (4 * growth * u) > worst) worst = err16 / (4 * growth * u), worst_what = what;
    ++compared;
  }
  // output, h_n, dx and 2 layers x D directions x (2 weights + 2 biases [+ w_hr]), c_n for LSTM.
  const bool lstm = s.kind == Kind::Lstm || s.kind == Kind::LstmProj;
  EXPECT_EQ(compared, 3 + (lstm ? 1 : 0) + 2 * static_cast<int>(D) * (s.kind == Kind::LstmProj ? 5 : 4));
  std::printf("%s %s: worst error / allowed %.3f (%s)\n", s.name, dtype_name(dtype).data(), worst,
              worst_what.c_str());
}

const Config kSetups[] = {{Kind::Lstm, true, false, "LSTM 2 layers bidirectional"},
                         {Kind::LstmProj, false, true, "LSTM proj 2 layers packed"},
                         {Kind::Gru, true, true, "GRU 2 layers bidirectional packed"},
                         {Kind::Tanh, false, false, "RNN tanh 2 layers"}};

TEST(RnnHalfModule, BFloat16AgainstFloat64) {
  for (const Config& s : kSetups) check(s, kBFloat16);
}

TEST(RnnHalfModule, Float16AgainstFloat64) {
  for (const Config& s : kSetups) check(s, kFloat16);
}

// On CUDA (the bidirectional directions overlapped on two streams, as by
// default): the 16-bit module against the CPU's 16-bit module, both measured
// against float64; CUDA must be within 4 x the CPU's error + 2 u.
void check_cuda(const Config& s, DType dtype) {
  const double u = dtype == kBFloat16 ? 0x1p-8 : 0x1p-11;
  auto m64 = make_module(s), cpu = make_module(s), gpu = make_module(s);
  m64->to(kFloat64), cpu->to(dtype), gpu->to(dtype);
  {
    NoGradGuard no_grad;
    const auto p64 = m64->parameters(), pc = cpu->parameters(), pg = gpu->parameters();
    for (size_t i = 0; i < p64.size(); ++i) {
      native::copy_(pc[i], native::to(p64[i], dtype));
      native::copy_(pg[i], pc[i]);
      native::copy_(p64[i], native::to(pc[i], kFloat64));
    }
  }
  gpu->to(kCUDA);
  const std::int64_t D = s.bidirectional ? 2 : 1, P = s.kind == Kind::LstmProj ? 4 : 10;
  Tensor x = to(to(testing::random_tensor({5, 4, 6}, 31), dtype), kFloat64);
  Tensor g = to(to(testing::random_tensor({5, 4, D * P}, 32), dtype), kFloat64);
  const std::vector<Vec> r64 = run(s, *m64, x, g), rc = run(s, *cpu, to(x, dtype), g),
                         rg = run(s, *gpu, to(to(x, dtype), kCUDA), to(g, kCUDA));
  ASSERT_EQ(rg.size(), r64.size());
  for (size_t q = 0; q < r64.size(); ++q) {
    if (r64[q].empty()) continue;
    const double e_gpu = relative_error(rg[q], r64[q]), e_cpu = relative_error(rc[q], r64[q]);
    EXPECT_LE(e_gpu, 4 * e_cpu + 2 * u) << s.name << " quantity " << q << ": CUDA " << e_gpu
                                        << ", CPU " << e_cpu;
  }
}

TEST(RnnHalfModuleCuda, BFloat16AsAccurateAsCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (const Config& s : kSetups) check_cuda(s, kBFloat16);
}

TEST(RnnHalfModuleCuda, Float16AsAccurateAsCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (const Config& s : kSetups) check_cuda(s, kFloat16);
}

// Dropout between layers in a bfloat16 LSTM: the masks are drawn in float32
// (as for a float32 module of the same seed), so the same seed gives the same
// bits twice, and the float32 module with the same weights and seed gives the
// same output up to the 16-bit rounding: within 4 g u, with g the float32
// module's growth measured without dropout against float64.
TEST(RnnHalfModule, DropoutBetweenLayersFollowsFloat32) {
  auto make = [](DType dtype) {
    auto m = std::make_shared<LSTMImpl>(LSTMOptions(6, 10).num_layers(3).dropout(0.5));
    m->to(dtype);
    return m;
  };
  auto m16 = make(kBFloat16), m32 = make(kFloat32), m64 = make(kFloat64);
  {
    NoGradGuard no_grad;
    const auto p16 = m16->parameters(), p32 = m32->parameters(), p64 = m64->parameters();
    for (size_t i = 0; i < p16.size(); ++i) {
      native::copy_(p32[i], native::to(p16[i], kFloat32));
      native::copy_(p64[i], native::to(p16[i], kFloat64));
    }
  }
  const Tensor x64 = to(to(testing::random_tensor({7, 3, 6}, 41), kBFloat16), kFloat64);
  auto out = [&](LSTMImpl& m, DType dtype, std::uint64_t seed) {
    manual_seed(seed);
    return values(std::get<0>(m.forward(to(x64, dtype))));
  };
  const Vec a = out(*m16, kBFloat16, 5), b = out(*m16, kBFloat16, 5), f = out(*m32, kFloat32, 5);
  EXPECT_EQ(a, b);  // the same bits for the same seed
  m16->eval(), m32->eval(), m64->eval();
  const Vec e16 = out(*m16, kBFloat16, 5), e32 = out(*m32, kFloat32, 5), e64 = out(*m64, kFloat64, 5);
  EXPECT_GT(relative_error(a, e16), 0.1);  // dropout was active in training mode
  const double growth = std::max(1.0, relative_error(e32, e64) / 0x1p-24);
  EXPECT_LE(relative_error(a, f), 4 * growth * 0x1p-8) << "growth " << growth;
  EXPECT_LE(relative_error(e16, e64), 4 * growth * 0x1p-8);
}

// A 16-bit module refuses an input of another dtype with both dtypes named.
TEST(RnnHalfModule, MixedDtypesAreAnError) {
  LSTM m(LSTMOptions(3, 4));
  m->to(kBFloat16);
  testing::expect_error_containing_all([&] { m->forward(testing::random_tensor({2, 1, 3}, 1, kFloat32)); },
                                       {"bfloat16", "float32"});
}

}  // namespace
}  // namespace loom::nn
