// The bfloat16 / float16 recurrent layers on the CPU (kernels/rnn.h,
// "Precision"): every mode, with and without bias, uniform and packed batch
// sizes, both directions, forward and every gradient.
//
// Oracle: the same layer in float64 on the same 16-bit-rounded inputs. The
// tolerance is not tuned: for each quantity q, the float32 layer's own error on
// those inputs, err32(q) = ||y32 - y64|| / ||y64||, measures how much the
// problem amplifies rounding (growth g(q) = err32(q) / u32, at least 1), and
// the 16-bit layer, which rounds at the same places with unit roundoff u_S
// (bfloat16 2^-8, float16 2^-11) instead of u32 = 2^-24 plus the storage of
// every output, must satisfy err_S(q) <= 4 * g(q) * u_S. The factor 4 was
// fixed before any run (one rounding of each stored value, one of each
// operand, and slack for the coarser saved activations).
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/half.h"
#include "kernels/rnn.h"
#include "rnn_half_problem.h"
#include "testing.h"

namespace {

using namespace loom::rnn_half_test;
using loom::bfloat16;
using loom::float16;

constexpr double kFactor = 4.0;  // fixed a priori, see the file comment

struct Measured {
  double worst_ratio = 0;  // max over quantities of err_S / allowed
  std::string worst;       // the quantity where it happened
};

// Runs the problem in S, float32 and float64 and checks every quantity.
template <typename S>
Measured check_against_float64(const Spec& spec) {
  const Problem p = make_problem<S>(spec);
  const Results low = run_cpu<S>(p), f32 = run_cpu<float>(p), f64 = run_cpu<double>(p);
  const double u32 = unit_roundoff<float>(), us = unit_roundoff<S>();
  Measured m;
  for (int q = 0; q < kResults; ++q) {
    EXPECT_EQ(low[q].size(), f64[q].size()) << kResultNames[q];
    if (f64[q].empty()) continue;
    const double err32 = relative_error(f32[q], f64[q]);
    const double errs = relative_error(low[q], f64[q]);
    const double growth = std::max(1.0, err32 / u32);
    const double allowed = kFactor * growth * us;
    EXPECT_LE(errs, allowed) << kResultNames[q] << ": 16-bit error " << errs << ", float32 error "
                             << err32 << " (growth " << growth << ")";
    if (errs / allowed > m.worst_ratio) m.worst_ratio = errs / allowed, m.worst = kResultNames[q];
  }
  return m;
}

struct Case {
  Kind kind;
  bool reverse, bias, packed;
};

std::string case_name(const Case& c) {
  return std::string(kind_name(c.kind)) + (c.reverse ? "Reverse" : "Forward") +
         (c.bias ? "Bias" : "NoBias") + (c.packed ? "Packed" : "Uniform");
}

Spec spec_of(const Case& c) {
  Spec s;
  s.kind = c.kind, s.reverse = c.reverse, s.bias = c.bias, s.packed = c.packed;
  s.T = 6, s.N = 4, s.C = 5, s.H = 7;
  s.seed = 100u + static_cast<unsigned>(c.kind) * 8u + (c.reverse ? 4u : 0u) + (c.bias ? 2u : 0u) +
           (c.packed ? 1u : 0u);
  return s;
}

class RnnHalfCpu : public ::testing::TestWithParam<Case> {};

TEST_P(RnnHalfCpu, BFloat16AgainstFloat64) {
  const Measured m = check_against_float64<bfloat16>(spec_of(GetParam()));
  RecordProperty("worst_error_over_allowed", std::to_string(m.worst_ratio) + " " + m.worst);
}

TEST_P(RnnHalfCpu, Float16AgainstFloat64) {
  const Measured m = check_against_float64<float16>(spec_of(GetParam()));
  RecordProperty("worst_error_over_allowed", std::to_string(m.worst_ratio) + " " + m.worst);
}

// The 16-bit layer really rounds: its outputs differ from the float32
// layer's on the same inputs by about u_S (outputs are stored in S), so the
// comparison above is not float32 against float64 in disguise.
TEST_P(RnnHalfCpu, OutputsAreRoundedToStorage) {
  const Problem p = make_problem<bfloat16>(spec_of(GetParam()));
  const Results low = run_cpu<bfloat16>(p), f32 = run_cpu<float>(p);
  EXPECT_GT(relative_error(low[0], f32[0]), unit_roundoff<bfloat16>() / 16);
  for (double v : low[0]) EXPECT_EQ(v, round_to<bfloat16>(v));  // y holds bfloat16 values
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (Kind kind : {Kind::Tanh, Kind::Relu, Kind::Lstm, Kind::LstmProj, Kind::Gru})
    for (bool reverse : {false, true})
      for (bool bias : {false, true})
        for (bool packed : {false, true}) cases.push_back({kind, reverse, bias, packed});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllModes, RnnHalfCpu, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return case_name(info.param);
                         });

// Longer sequences and wider layers, where rounding errors compound over the
// steps: the same bound, and the measured errors printed for the record.
TEST(RnnHalfCpuLong, LstmAndGruOverFiftySteps) {
  for (Kind kind : {Kind::Lstm, Kind::LstmProj, Kind::Gru, Kind::Tanh}) {
    Spec s;
    s.kind = kind, s.packed = true, s.T = 50, s.N = 8, s.C = 32, s.H = 48, s.seed = 7;
    SCOPED_TRACE(kind_name(kind));
    const Measured b = check_against_float64<bfloat16>(s);
    const Measured h = check_against_float64<float16>(s);
    std::printf("%s T=50 N=8 C=32 H=48: worst error / allowed: bfloat16 %.3f (%s), float16 %.3f (%s)\n",
                kind_name(kind), b.worst_ratio, b.worst.c_str(), h.worst_ratio, h.worst.c_str());
  }
}

// Inference (no reserve) gives the training forward's outputs bit for bit.
TEST(RnnHalfCpuOptions, InferenceMatchesTraining) {
  for (Kind kind : {Kind::Lstm, Kind::LstmProj, Kind::Gru}) {
    Spec sp;
    sp.kind = kind, sp.packed = true, sp.seed = 11;
    const Problem p = make_problem<bfloat16>(sp);
    const Results train = run_cpu<bfloat16>(p);
    const auto& s = p.shape;
    HostBuffers<bfloat16> in(p);
    std::vector<bfloat16> y(static_cast<size_t>(s.rows() * s.P)), h_n(static_cast<size_t>(s.N * s.P)),
        c_n(kind == Kind::Gru ? 0 : static_cast<size_t>(s.N * s.H)),
        ws(static_cast<size_t>(loom::kernels::rnn_workspace_elements<bfloat16>(s)));
    loom::kernels::RnnForwardArgs<bfloat16> f;
    f.x = in.x.data();
    f.w = {in.w_ih.data(), in.w_hh.data(), ptr_or_null(in.b_ih), ptr_or_null(in.b_hh),
           ptr_or_null(in.w_hr)};
    f.h0 = in.h0.data(), f.c0 = ptr_or_null(in.c0);
    f.y = y.data(), f.h_n = h_n.data(), f.c_n = ptr_or_null(c_n), f.workspace = ws.data();
    loom::kernels::rnn_layer_forward_cpu(s, f);
    EXPECT_EQ(to_double(y), train[0]) << kind_name(kind);
    EXPECT_EQ(to_double(h_n), train[1]) << kind_name(kind);
    EXPECT_EQ(to_double(c_n), train[2]) << kind_name(kind);
  }
}

// Null h0/c0/dy/dh_n/dc_n mean zeros (the float32 running states start from
// zero), and h_n may alias h0, c_n c0, dh0 dh_n and dc0 dc_n (the 16-bit
// states are read into float32 at the start and written back at the end):
// bit for bit the results of separate buffers and explicit zeros.
TEST(RnnHalfCpuOptions, NullMeansZeroAndAliasing) {
  for (Kind kind : {Kind::Tanh, Kind::LstmProj, Kind::Gru}) {
    SCOPED_TRACE(kind_name(kind));
    Spec sp;
    sp.kind = kind, sp.reverse = true, sp.packed = true, sp.seed = 77;
    const Problem p = make_problem<bfloat16>(sp);
    const auto& s = p.shape;
    const bool lstm = s.mode == RnnMode::Lstm;
    Problem z = make_problem<bfloat16>(sp);  // the same problem with explicit zeros
    for (Vec* v : {&z.h0, &z.c0, &z.dy, &z.dh_n, &z.dc_n}) std::fill(v->begin(), v->end(), 0.0);
    const Results want_zero = run_cpu<bfloat16>(z), want = run_cpu<bfloat16>(p);

    HostBuffers<bfloat16> in(p);
    const size_t R = static_cast<size_t>(s.rows()), N = static_cast<size_t>(s.N),
                 P = static_cast<size_t>(s.P), H = static_cast<size_t>(s.H),
                 G = static_cast<size_t>(s.G());
    std::vector<bfloat16> y(R * P), h(N * P), c(lstm ? N * H : 0),
        reserve(static_cast<size_t>(loom::kernels::rnn_reserve_size(s))),
        ws(static_cast<size_t>(loom::kernels::rnn_workspace_elements<bfloat16>(s)));
    loom::kernels::RnnForwardArgs<bfloat16> f;
    f.x = in.x.data();
    f.w = {in.w_ih.data(), in.w_hh.data(), ptr_or_null(in.b_ih), ptr_or_null(in.b_hh),
           ptr_or_null(in.w_hr)};
    f.y = y.data(), f.h_n = h.data(), f.c_n = ptr_or_null(c);
    f.reserve = reserve.data(), f.workspace = ws.data();
    loom::kernels::rnn_layer_forward_cpu(s, f);  // h0, c0 null
    EXPECT_EQ(to_double(y), want_zero[0]);
    EXPECT_EQ(to_double(h), want_zero[1]);
    EXPECT_EQ(to_double(c), want_zero[2]);
    std::vector<bfloat16> dh(N * P), dc(c.size()), dw_hh(G * P);
    loom::kernels::RnnBackwardArgs<bfloat16> b;
    b.x = in.x.data(), b.w = f.w, b.reserve = reserve.data(), b.workspace = ws.data();
    b.dh0 = dh.data(), b.dc0 = ptr_or_null(dc), b.dw_hh = dw_hh.data();  // dy, dh_n, dc_n null
    loom::kernels::rnn_layer_backward_cpu(s, b);
    EXPECT_EQ(to_double(dh), want_zero[4]);
    EXPECT_EQ(to_double(dc), want_zero[5]);
    EXPECT_EQ(to_double(dw_hh), want_zero[7]);

    std::vector<bfloat16> h_state = in.h0, c_state = in.c0;  // aliased states
    f.h0 = h_state.data(), f.h_n = h_state.data(), f.c0 = ptr_or_null(c_state),
    f.c_n = ptr_or_null(c_state);
    loom::kernels::rnn_layer_forward_cpu(s, f);
    EXPECT_EQ(to_double(h_state), want[1]);
    EXPECT_EQ(to_double(c_state), want[2]);
    std::vector<bfloat16> dh_state = in.dh_n, dc_state = in.dc_n;
    b.dy = in.dy.data(), b.dh_n = dh_state.data(), b.dh0 = dh_state.data();
    b.dc_n = ptr_or_null(dc_state), b.dc0 = ptr_or_null(dc_state);
    loom::kernels::rnn_layer_backward_cpu(s, b);
    EXPECT_EQ(to_double(dh_state), want[4]);
    EXPECT_EQ(to_double(dc_state), want[5]);
    EXPECT_EQ(to_double(dw_hh), want[7]);
  }
}

// The 16-bit workspace holds float regions, so it must be 16-byte aligned.
TEST(RnnHalfCpuOptions, MisalignedWorkspaceIsAnError) {
  Spec sp;
  const Problem p = make_problem<float16>(sp);
  const auto& s = p.shape;
  HostBuffers<float16> in(p);
  std::vector<float16> y(static_cast<size_t>(s.rows() * s.P)), h_n(static_cast<size_t>(s.N * s.P)),
      c_n(static_cast<size_t>(s.N * s.H)),
      ws(static_cast<size_t>(loom::kernels::rnn_workspace_elements<float16>(s) + 8));
  loom::kernels::RnnForwardArgs<float16> f;
  f.x = in.x.data();
  f.w = {in.w_ih.data(), in.w_hh.data(), in.b_ih.data(), in.b_hh.data(), nullptr};
  f.y = y.data(), f.h_n = h_n.data(), f.c_n = c_n.data(), f.workspace = ws.data() + 1;
  loom::testing::expect_error_text([&] { loom::kernels::rnn_layer_forward_cpu(s, f); },
                                   "LSTM: the workspace of a 16-bit layer must be 16-byte aligned");
}

}  // namespace
