// The stacked-layer wavefront without a GPU (kernels/rnn_wavefront.h):
// - the host emulation of the wavefront kernel (per phase the blocks one after
//   another, the same ring buffers, index computations and summation order as
//   kernels/cuda/persistent_rnn.cu) against the standard CPU layer run layer
//   after layer: float64 to 1e-13, float32/bfloat16/float16 as accurate as the
//   reference against float64; L = 2, 3, every mode, bias on and off, given
//   and zero initial states, T < L, N = 1 .. 17, several block geometries;
// - the fit rule for a stack on H100/H200-like properties, every size worked
//   out by hand in the comments;
// - the routing (Auto and Standard never take the wavefront; a stack that
//   does not fit goes layer by layer without an error);
// - errors for ineligible stacks and bad arguments.
// The CUDA kernel itself is tested in rnn_wavefront_cuda_test.cc.
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/rnn.h"
#include "kernels/rnn_persistent.h"
#include "kernels/rnn_wavefront.h"
#include "rnn_stack_problem.h"
#include "testing.h"

namespace {

using loom::kernels::index_t;
using loom::kernels::PersistentDeviceProps;
using loom::kernels::PersistentPlan;
using loom::kernels::RnnAlgorithm;
using loom::kernels::RnnMode;
using loom::kernels::RnnStackPath;
using loom::kernels::RnnStackShape;
namespace rh = loom::rnn_half_test;
namespace rs = loom::rnn_stack_test;

// ---- emulation against the layer-by-layer reference ----------------------------

struct WavefrontCase {
  rs::StackSpec spec;
  index_t units;
};

std::string case_name(const WavefrontCase& c) {
  return rs::spec_name(c.spec) + "_U" + std::to_string(c.units);
}

class WavefrontEmulation : public ::testing::TestWithParam<WavefrontCase> {};

// float64: the wavefront's order of summation (and its in-kernel input
// projection of the layers above the first) against the standard path's
// GEMMs; only rounding in the last bits may differ (a wrong index, ring slot,
// staged row or phase gives O(1) errors). Staged and unstaged geometries.
TEST_P(WavefrontEmulation, MatchesTheLayerByLayerReferenceInFloat64) {
  const WavefrontCase& c = GetParam();
  for (bool bias : {true, false})
    for (bool h0 : {true, false})
      for (bool staged : {false, true}) {
        rs::StackSpec sp = c.spec;
        sp.bias = bias, sp.h0 = h0;
        sp.seed = 3u + static_cast<unsigned>(c.units * 7 + (bias ? 1 : 0) + (h0 ? 2 : 0));
        const rs::StackProblem p = rs::make_stack_problem<double>(sp);
        const rs::StackResults want = rs::run_stack_reference<double>(p);
        const rs::StackResults got =
            rs::run_stack_emulated<double>(p, rs::stack_geometry(c.units, sp.H, staged));
        for (int i = 0; i < 3; ++i) {
          const std::string what = std::string(bias ? "bias " : "no-bias ") +
                                   (h0 ? "h0 " : "zero-state ") + (staged ? "staged " : "") +
                                   rs::kStackResultNames[i];
          ASSERT_EQ(got[i].size(), want[i].size()) << what;
          if (want[i].empty()) continue;
          for (double v : got[i]) ASSERT_TRUE(std::isfinite(v)) << what << ": an output left unwritten";
          EXPECT_LE(rh::relative_error(got[i], want[i]), 1e-13) << what;
        }
      }
}

// float32: as accurate as the float32 reference, both judged against float64
// on the same float32 inputs (issue 9's rule, as for the CUDA tests).
TEST_P(WavefrontEmulation, AsAccurateAsTheReferenceInFloat32) {
  const WavefrontCase& c = GetParam();
  for (bool bias : {true, false}) {
    rs::StackSpec sp = c.spec;
    sp.bias = bias, sp.h0 = !bias;
    sp.seed = 40u + static_cast<unsigned>(c.units);
    const rs::StackProblem p = rs::make_stack_problem<float>(sp);
    const rs::StackResults ref64 = rs::run_stack_reference<double>(p);
    const rs::StackResults cpu32 = rs::run_stack_reference<float>(p);
    const rs::StackResults got =
        rs::run_stack_emulated<float>(p, rs::stack_geometry(c.units, sp.H, /*staged=*/bias));
    for (int i = 0; i < 3; ++i) {
      if (ref64[i].empty()) continue;
      loom::testing::expect_float32_as_accurate_as_cpu(
          got[i], cpu32[i], ref64[i], 4, 16 * 5.96e-8,
          std::string(bias ? "bias " : "no-bias ") + rs::kStackResultNames[i]);
    }
  }
}

// bfloat16 / float16 storage with float math: as accurate as the 16-bit CPU
// reference, both against float64 on the same 16-bit inputs (the rule of
// rnn_half_cuda_test.cc: 4 x the reference's error + 2 units of roundoff).
template <typename S>
void check_half(const WavefrontCase& c) {
  rs::StackSpec sp = c.spec;
  sp.seed = 70u + static_cast<unsigned>(c.units);
  const rs::StackProblem p = rs::make_stack_problem<S>(sp);
  const rs::StackResults ref = rs::run_stack_reference<double>(p);
  const rs::StackResults cpu = rs::run_stack_reference<S>(p);
  const rs::StackResults got =
      rs::run_stack_emulated<S>(p, rs::stack_geometry(c.units, sp.H, /*staged=*/true));
  const double us = rh::unit_roundoff<S>();
  for (int i = 0; i < 3; ++i) {
    if (ref[i].empty()) continue;
    const double e_got = rh::relative_error(got[i], ref[i]);
    const double e_cpu = rh::relative_error(cpu[i], ref[i]);
    EXPECT_LE(e_got, 4.0 * e_cpu + 2 * us)
        << rs::kStackResultNames[i] << ": wavefront " << e_got << ", reference " << e_cpu;
  }
}

TEST_P(WavefrontEmulation, AsAccurateAsTheReferenceInBFloat16) {
  check_half<loom::bfloat16>(GetParam());
}
TEST_P(WavefrontEmulation, AsAccurateAsTheReferenceInFloat16) {
  check_half<loom::float16>(GetParam());
}

std::vector<WavefrontCase> wavefront_cases() {
  std::vector<WavefrontCase> cases;
  for (rh::Kind k : {rh::Kind::Tanh, rh::Kind::Relu, rh::Kind::Lstm, rh::Kind::Gru}) {
    //          kind L  T  N   C   H  (bias, h0, seed set per test)   units
    cases.push_back({{k, 2, 4, 3, 5, 7}, 3});     // a short last block
    cases.push_back({{k, 3, 5, 1, 4, 7}, 1});     // one unit per block, batch 1
    cases.push_back({{k, 3, 1, 2, 3, 5}, 5});     // T = 1 < L: one block
    cases.push_back({{k, 3, 2, 17, 6, 9}, 4});    // T = 2 < L, batch 17
    cases.push_back({{k, 2, 3, 5, 33, 40}, 7});   // dots longer than a warp (40 terms)
    cases.push_back({{k, 2, 6, 2, 2, 3}, 2});     // C < H
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Stacks, WavefrontEmulation, ::testing::ValuesIn(wavefront_cases()),
                         [](const ::testing::TestParamInfo<WavefrontCase>& info) {
                           return case_name(info.param);
                         });

// Every batch size from 1 to 17, every mode, L = 2 and 3, float64.
TEST(WavefrontEmulationBatches, EveryBatchFrom1To17MatchesInFloat64) {
  for (rh::Kind k : {rh::Kind::Tanh, rh::Kind::Relu, rh::Kind::Lstm, rh::Kind::Gru})
    for (index_t L : {2, 3})
      for (index_t N = 1; N <= 17; ++N) {
        rs::StackSpec sp{k, L, 3, N, 4, 5};
        sp.seed = static_cast<unsigned>(100 + N + 20 * L);
        const rs::StackProblem p = rs::make_stack_problem<double>(sp);
        const rs::StackResults want = rs::run_stack_reference<double>(p);
        const rs::StackResults got =
            rs::run_stack_emulated<double>(p, rs::stack_geometry(2, 5, /*staged=*/N % 2 == 0));
        for (int i = 0; i < 3; ++i) {
          if (want[i].empty()) continue;
          EXPECT_LE(rh::relative_error(got[i], want[i]), 1e-13)
              << rs::spec_name(sp) << " " << rs::kStackResultNames[i];
        }
      }
}

// h0 may be h_n's buffer and c0 c_n's (kernels/rnn_wavefront.h): the same results.
TEST(WavefrontEmulationBatches, StatesMayAliasTheirOutputs) {
  rs::StackSpec sp{rh::Kind::Lstm, 3, 4, 2, 3, 6};
  const rs::StackProblem p = rs::make_stack_problem<double>(sp);
  const rs::StackResults want = rs::run_stack_reference<double>(p);
  rs::StackBuffers<double> in(p);
  std::vector<double> y(static_cast<size_t>(sp.T * sp.N * sp.H)), none;
  std::vector<double> workspace(
      static_cast<size_t>(loom::kernels::rnn_stack_workspace_elements<double>(p.shape)));
  loom::kernels::RnnStackForwardArgs<double> a = rs::stack_args(in, y, in.h0, in.c0, workspace);
  loom::kernels::rnn_stack_forward_wavefront_emulated(p.shape, a, rs::stack_geometry(4, sp.H));
  EXPECT_LE(rh::relative_error(y, want[0]), 1e-13);
  EXPECT_LE(rh::relative_error(in.h0, want[1]), 1e-13);
  EXPECT_LE(rh::relative_error(in.c0, want[2]), 1e-13);
}

// ---- fit rule -------------------------------------------------------------------

// An H100 / H200 (SXM): 132 SMs, 227 KB opt-in shared memory per block,
// 228 KB per SM, 65536 registers per SM, cooperative launch.
PersistentDeviceProps hopper() {
  PersistentDeviceProps p;
  p.sm_count = 132;
  p.smem_per_block_optin = 227 * 1024;
  p.smem_per_sm = 228 * 1024;
  p.regs_per_sm = 65536;
  p.cooperative_launch = true;
  return p;
}

struct Stack {
  RnnStackShape shape;
  std::vector<index_t> batch_sizes;
  Stack(RnnMode mode, index_t L, index_t H, index_t N, index_t T) : batch_sizes(T, N) {
    shape.mode = mode, shape.L = L, shape.T = T, shape.N = N, shape.C = H, shape.H = H;
    shape.batch_sizes = batch_sizes.data();
  }
};

PersistentPlan plan_for(const RnnStackShape& s, index_t sb, index_t cb) {
  const PersistentDeviceProps props = hopper();
  return loom::kernels::wavefront_plan(s, sb, cb, props, [props](int threads, index_t smem) {
    return loom::kernels::estimate_blocks_per_sm(props, 64, threads, smem);
  });
}

// Issue 12's latency row, LSTM C=H=1024 N=1 T=1000 L=2, as a wavefront on an H200.
TEST(WavefrontFit, TheLatencyRowFitsIn16BitsNotInFloat32) {
  Stack st(RnnMode::Lstm, 2, 1024, 1, 1000);
  // units = ceil(1024 / 132) = 8, blocks = 128. Weights: 3 matrices (W_hh_0, W_ih_1,
  // W_hh_1) x 4 gates x 8 units x 1024 = 98304 elements. float32: 393216 bytes; acc
  // 2 layers x 1 row x 64 x 4 = 512 -> 393728 > 232448.
  const PersistentPlan f32 = plan_for(st.shape, 4, 4);
  EXPECT_FALSE(f32.fits);
  EXPECT_EQ(f32.why,
            "LSTM wavefront L=2 H=1024 N=1 T=1000: the weights of 2 layers (layer 0's W_hh, "
            "W_ih and W_hh above it) of 8 hidden units per block (one block on each of 132 "
            "multiprocessors) need 393728 bytes of shared memory per block, more than the "
            "device's 232448");
  // bfloat16 / float16: 196608 bytes of weights; acc 512 -> 197120; staged v 2 x 1 x 1024
  // x 4 = 8192 -> 205312; one block a multiprocessor (233472 / (205312 + 1024) = 1).
  const PersistentPlan f16 = plan_for(st.shape, 2, 4);
  EXPECT_TRUE(f16.fits) << f16.why;
  EXPECT_EQ(f16.units, 8);
  EXPECT_EQ(f16.blocks, 128);
  EXPECT_TRUE(f16.staged);
  EXPECT_EQ(f16.smem_bytes, 205312);
  EXPECT_EQ(loom::kernels::wavefront_smem_bytes(RnnMode::Lstm, 2, 1, 1024, 8, true, 2, 4), 205312);
}

TEST(WavefrontFit, SmallerStacksFitInFloat32) {
  {
    // LSTM H=256 N=32 L=2: units = 2, blocks = 128. Weights 3 x 4 x 2 x 256 x 4 = 24576;
    // acc 2 x 32 x 16 x 4 = 4096 -> 28672; staged 2 x 32 x 256 x 4 = 65536 -> 94208.
    Stack st(RnnMode::Lstm, 2, 256, 32, 200);
    const PersistentPlan p = plan_for(st.shape, 4, 4);
    EXPECT_TRUE(p.fits) << p.why;
    EXPECT_EQ(p.units, 2);
    EXPECT_TRUE(p.staged);
    EXPECT_EQ(p.smem_bytes, 94208);
  }
  {
    // GRU H=512 N=4 L=3: units = 4, blocks = 128. Weights 5 x 3 x 4 x 512 x 4 = 122880;
    // acc 3 x 4 x 24 x 4 = 1152 -> 124032; staged 3 x 4 x 512 x 4 = 24576 -> 148608.
    Stack st(RnnMode::Gru, 3, 512, 4, 50);
    const PersistentPlan p = plan_for(st.shape, 4, 4);
    EXPECT_TRUE(p.fits) << p.why;
    EXPECT_EQ(p.units, 4);
    EXPECT_EQ(p.smem_bytes, 148608);
  }
}

TEST(WavefrontFit, StagingIsDroppedWhereOnlyTheWeightsFit) {
  // LSTM H=1024 N=8 L=2 bfloat16: weights 196608; acc 2 x 8 x 64 x 4 = 4096 -> 200704;
  // staged 2 x 8 x 1024 x 4 = 65536 -> 266240 > 232448: the layers' outputs are read from L2.
  Stack st(RnnMode::Lstm, 2, 1024, 8, 10);
  const PersistentPlan p = plan_for(st.shape, 2, 4);
  EXPECT_TRUE(p.fits) << p.why;
  EXPECT_FALSE(p.staged);
  EXPECT_EQ(p.smem_bytes, 200704);
}

// ---- routing --------------------------------------------------------------------

TEST(WavefrontRouting, OnlyAForcedPersistentOnAFittingEligibleStack) {
  using loom::kernels::rnn_stack_path;
  int planned = 0;
  const auto fits = [&] {
    ++planned;
    PersistentPlan p;
    p.fits = true;
    return p;
  };
  const auto too_big = [&] {
    ++planned;
    PersistentPlan p;
    p.why = "too big";
    return p;
  };
  Stack st(RnnMode::Gru, 2, 16, 3, 5);
  EXPECT_EQ(rnn_stack_path(RnnAlgorithm::Standard, st.shape, fits), RnnStackPath::PerLayer);
  EXPECT_EQ(rnn_stack_path(RnnAlgorithm::Auto, st.shape, fits), RnnStackPath::PerLayer);
  EXPECT_EQ(planned, 0);
  EXPECT_EQ(rnn_stack_path(RnnAlgorithm::Persistent, st.shape, fits), RnnStackPath::Wavefront);
  // Not fitting is no error here: the layers then take their own paths.
  EXPECT_EQ(rnn_stack_path(RnnAlgorithm::Persistent, st.shape, too_big), RnnStackPath::PerLayer);
  EXPECT_EQ(planned, 2);
  // One layer, or packed input: layer by layer, the plan not consulted.
  Stack one(RnnMode::Gru, 1, 16, 3, 5);
  EXPECT_EQ(rnn_stack_path(RnnAlgorithm::Persistent, one.shape, fits), RnnStackPath::PerLayer);
  std::vector<index_t> shrinking = {3, 3, 2, 2, 1};
  RnnStackShape packed = st.shape;
  packed.batch_sizes = shrinking.data();
  EXPECT_EQ(rnn_stack_path(RnnAlgorithm::Persistent, packed, fits), RnnStackPath::PerLayer);
  EXPECT_EQ(planned, 2);
}

TEST(WavefrontRouting, IneligibleReasons) {
  using loom::kernels::wavefront_ineligible_reason;
  Stack st(RnnMode::Lstm, 2, 8, 2, 3);
  EXPECT_EQ(wavefront_ineligible_reason(st.shape), "");
  RnnStackShape s = st.shape;
  s.L = 1;
  EXPECT_EQ(wavefront_ineligible_reason(s),
            "a single layer runs as its own persistent launch, not a wavefront");
  s.L = 9;
  EXPECT_EQ(wavefront_ineligible_reason(s),
            "9 layers are more than the 8 one wavefront launch takes");
  std::vector<index_t> shrinking = {2, 2, 1};
  s = st.shape;
  s.batch_sizes = shrinking.data();
  EXPECT_EQ(wavefront_ineligible_reason(s),
            "packed input (a batch that shrinks over time) runs layer by layer");
  s = st.shape;
  s.H = 0;  // an invalid shape throws, as the layer's checks do
  EXPECT_THROW(wavefront_ineligible_reason(s), loom::Error);
}

// Zoneout is not in the persistent cell step: such a layer goes to the standard path.
TEST(WavefrontRouting, ZoneoutLayersAreNotPersistent) {
  std::vector<index_t> steps(3, 2);
  loom::kernels::RnnLayerShape s;
  s.mode = RnnMode::Lstm, s.T = 3, s.N = 2, s.C = 4, s.H = 4, s.P = 4;
  s.batch_sizes = steps.data();
  s.zoneout_c = 0.25;
  EXPECT_EQ(loom::kernels::persistent_ineligible_reason(s), "zoneout runs on the standard path");
  const auto must_not_plan = [] {
    ADD_FAILURE() << "planned an ineligible shape";
    return PersistentPlan();
  };
  EXPECT_EQ(loom::kernels::rnn_path(RnnAlgorithm::Persistent, s, loom::kernels::RnnPass::Forward,
                                    must_not_plan),
            loom::kernels::RnnPath::Standard);
}

// ---- errors ---------------------------------------------------------------------

TEST(WavefrontEmulationErrors, IneligibleStacksAndBadArgumentsThrow) {
  rs::StackSpec sp{rh::Kind::Lstm, 2, 3, 2, 3, 7};
  rs::StackProblem p = rs::make_stack_problem<double>(sp);
  loom::testing::expect_error_text(
      [&] { rs::run_stack_emulated<double>(p, rs::stack_geometry(3, 6)); },
      "wavefront emulation: 2 blocks of 3 units do not cover H = 7");
  rs::StackProblem one = p;
  one.shape.L = 1;
  one.shape.batch_sizes = one.batch_sizes.data();
  one.w_ih.resize(1), one.w_hh.resize(1), one.b_ih.resize(1), one.b_hh.resize(1);
  loom::testing::expect_error_text(
      [&] { rs::run_stack_emulated<double>(one, rs::stack_geometry(1, 7)); },
      "LSTM stack forward: a single layer runs as its own persistent launch, not a wavefront");
  // A missing weight and a c0 outside LSTM.
  rs::StackBuffers<double> in(p);
  std::vector<double> y(2 * 3 * 7), h_n(2 * 2 * 7), c_n(2 * 2 * 7);
  std::vector<double> workspace(
      static_cast<size_t>(loom::kernels::rnn_stack_workspace_elements<double>(p.shape)));
  loom::kernels::RnnStackForwardArgs<double> a = rs::stack_args(in, y, h_n, c_n, workspace);
  a.w[1].w_hh = nullptr;
  loom::testing::expect_error_text(
      [&] {
        loom::kernels::rnn_stack_forward_wavefront_emulated(p.shape, a, rs::stack_geometry(1, 7));
      },
      "LSTM stack forward: w_hh of layer 1 is required");
  rs::StackProblem gru = rs::make_stack_problem<double>({rh::Kind::Gru, 2, 3, 2, 3, 7});
  rs::StackBuffers<double> gin(gru);
  std::vector<double> none;
  loom::kernels::RnnStackForwardArgs<double> g = rs::stack_args(gin, y, h_n, none, workspace);
  g.c0 = h_n.data();
  loom::testing::expect_error_text(
      [&] {
        loom::kernels::rnn_stack_forward_wavefront_emulated(gru.shape, g, rs::stack_geometry(1, 7));
      },
      "GRU stack forward: c0 was given but only LSTM has a cell state");
}

}  // namespace
