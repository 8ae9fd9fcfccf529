// The persistent recurrent algorithm without a GPU (kernels/rnn_persistent.h):
// - the algorithm setting, its guard and its names;
// - the fit rule on H100/H200-like properties (132 SMs, 227 KB of shared
//   memory per block, 228 KB and 64K registers per SM), with every size
//   worked out by hand in the comments;
// - the routing rule (packed input and projections to the standard path,
//   Auto on the standard path, a forced Persistent that cannot fit throws);
// - the host emulation of the persistent kernels (the blocks of each step one
//   after another, the same index computations and summation order as
//   kernels/cuda/persistent_rnn.cu) against the standard CPU reference, in
//   float64 and float32, every mode, both directions, with and without bias,
//   over several block geometries; and the reserve of either forward consumed
//   by either backward (the saved values are the same).
// The CUDA kernels themselves are tested in rnn_cuda_test.cc (RnnCudaPersistent).
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/rnn.h"
#include "kernels/rnn_persistent.h"
#include "rnn_half_problem.h"
#include "testing.h"

namespace {

using loom::kernels::index_t;
using loom::kernels::PersistentDeviceProps;
using loom::kernels::PersistentPlan;
using loom::kernels::RnnAlgorithm;
using loom::kernels::RnnLayerShape;
using loom::kernels::RnnMode;
using loom::kernels::RnnPass;
using loom::kernels::RnnPath;
namespace rh = loom::rnn_half_test;

// ---- setting ------------------------------------------------------------------

TEST(RnnAlgorithmSetting, DefaultsToTheEnvironmentAndTheGuardRestores) {
  const RnnAlgorithm initial = loom::kernels::rnn_algorithm();
  EXPECT_EQ(initial, loom::kernels::rnn_algorithm_from_environment());
  {
    loom::kernels::RnnAlgorithmGuard g(RnnAlgorithm::Persistent);
    EXPECT_EQ(loom::kernels::rnn_algorithm(), RnnAlgorithm::Persistent);
    {
      loom::kernels::RnnAlgorithmGuard inner(RnnAlgorithm::Standard);
      EXPECT_EQ(loom::kernels::rnn_algorithm(), RnnAlgorithm::Standard);
    }
    EXPECT_EQ(loom::kernels::rnn_algorithm(), RnnAlgorithm::Persistent);
  }
  EXPECT_EQ(loom::kernels::rnn_algorithm(), initial);
}

// LOOM_RNN_ALGORITHM: unset or empty is Auto, a name is that algorithm, anything else throws.
TEST(RnnAlgorithmSetting, EnvironmentVariable) {
  const char* saved = std::getenv("LOOM_RNN_ALGORITHM");
  const std::string old = saved ? saved : "";
  struct Restore {
    bool had;
    std::string value;
    ~Restore() {
      if (had) setenv("LOOM_RNN_ALGORITHM", value.c_str(), 1);
      else unsetenv("LOOM_RNN_ALGORITHM");
    }
  } restore{saved != nullptr, old};
  unsetenv("LOOM_RNN_ALGORITHM");
  EXPECT_EQ(loom::kernels::rnn_algorithm_from_environment(), RnnAlgorithm::Auto);
  setenv("LOOM_RNN_ALGORITHM", "", 1);
  EXPECT_EQ(loom::kernels::rnn_algorithm_from_environment(), RnnAlgorithm::Auto);
  setenv("LOOM_RNN_ALGORITHM", "persistent", 1);
  EXPECT_EQ(loom::kernels::rnn_algorithm_from_environment(), RnnAlgorithm::Persistent);
  setenv("LOOM_RNN_ALGORITHM", "standard", 1);
  EXPECT_EQ(loom::kernels::rnn_algorithm_from_environment(), RnnAlgorithm::Standard);
  setenv("LOOM_RNN_ALGORITHM", "Persistent", 1);
  loom::testing::expect_error_text(
      [] { loom::kernels::rnn_algorithm_from_environment(); },
      "LOOM_RNN_ALGORITHM must be auto, standard or persistent (or unset), got \"Persistent\"");
}

TEST(RnnAlgorithmSetting, NamesRoundTripAndUnknownNamesThrow) {
  for (RnnAlgorithm a : {RnnAlgorithm::Auto, RnnAlgorithm::Standard, RnnAlgorithm::Persistent})
    EXPECT_EQ(loom::kernels::parse_rnn_algorithm(loom::kernels::rnn_algorithm_name(a)), a);
  EXPECT_STREQ(loom::kernels::rnn_algorithm_name(RnnAlgorithm::Persistent), "persistent");
  loom::testing::expect_error_text(
      [] { loom::kernels::parse_rnn_algorithm("fast"); },
      "unknown recurrent algorithm 'fast': expected auto, standard or persistent");
  using loom::kernels::PersistentBarrier;
  for (PersistentBarrier b : {PersistentBarrier::GridSync, PersistentBarrier::Flags})
    EXPECT_EQ(loom::kernels::parse_persistent_barrier(loom::kernels::persistent_barrier_name(b)), b);
  EXPECT_EQ(loom::kernels::persistent_barrier(), PersistentBarrier::GridSync);
  loom::testing::expect_error_text([] { loom::kernels::parse_persistent_barrier("spin"); },
                                   "unknown persistent barrier 'spin': expected grid-sync or flags");
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

// The host estimate for a kernel of 64 registers a thread.
loom::kernels::PersistentOccupancy estimate(const PersistentDeviceProps& props) {
  return [props](int threads, index_t smem) {
    return loom::kernels::estimate_blocks_per_sm(props, 64, threads, smem);
  };
}

struct Uniform {
  RnnLayerShape shape;
  std::vector<index_t> batch_sizes;
  Uniform(RnnMode mode, index_t H, index_t N, index_t T) : batch_sizes(T, N) {
    shape.mode = mode, shape.T = T, shape.N = N, shape.C = H, shape.H = H, shape.P = H;
    shape.batch_sizes = batch_sizes.data();
  }
};

PersistentPlan plan_for(const RnnLayerShape& s, RnnPass pass, index_t sb, index_t cb,
                        const PersistentDeviceProps& props = hopper()) {
  return loom::kernels::persistent_plan(s, pass, sb, cb, props, estimate(props));
}

TEST(PersistentFit, EstimateOfBlocksPerSm) {
  const PersistentDeviceProps h = hopper();
  // 256 threads x 64 registers = 16384: 4 by registers; 2048 / 256 = 8 by threads;
  // 233472 / (10240 + 1024) = 20 by shared memory.
  EXPECT_EQ(loom::kernels::estimate_blocks_per_sm(h, 64, 256, 10240), 4);
  // 233472 / (131072 + 1024) = 1.
  EXPECT_EQ(loom::kernels::estimate_blocks_per_sm(h, 64, 256, 131072), 1);
  // More than a block may opt in to: none.
  EXPECT_EQ(loom::kernels::estimate_blocks_per_sm(h, 64, 256, 227 * 1024 + 16), 0);
  // 255 registers: 65536 / (255 * 256) = 1.
  EXPECT_EQ(loom::kernels::estimate_blocks_per_sm(h, 255, 256, 1024), 1);
}

// Issue 12's benchmark shapes on an H200, float32 (4-byte storage and math).
TEST(PersistentFit, IssueShapesFitAnH200InFloat32) {
  {
    // LSTM H=1024 N=1: units = ceil(1024 / 132) = 8, blocks = ceil(1024 / 8) = 128.
    // Forward: W slice 4 gates x 8 units x 1024 x 4 B = 131072; acc 1 x 32 x 4 = 128
    // (-> 131200); staged h_prev 1 x 1024 x 4 = 4096 -> 135296.
    Uniform u(RnnMode::Lstm, 1024, 1, 1000);
    const PersistentPlan f = plan_for(u.shape, RnnPass::Forward, 4, 4);
    EXPECT_TRUE(f.fits) << f.why;
    EXPECT_EQ(f.units, 8);
    EXPECT_EQ(f.blocks, 128);
    EXPECT_TRUE(f.staged);
    EXPECT_EQ(f.smem_bytes, 135296);
    // Backward: W^T slice 8 x 4096 x 4 = 131072; staged dgh 1 x 4096 x 4 = 16384 -> 147456.
    const PersistentPlan b = plan_for(u.shape, RnnPass::Backward, 4, 4);
    EXPECT_TRUE(b.fits) << b.why;
    EXPECT_EQ(b.smem_bytes, 147456);
  }
  {
    // GRU H=768 N=8: units = ceil(768 / 132) = 6, blocks = 128. Forward: 3 x 6 x 768 x 4 =
    // 55296; acc 8 x 18 x 4 = 576 -> 55872; h 8 x 768 x 4 = 24576 -> 80448.
    Uniform u(RnnMode::Gru, 768, 8, 500);
    const PersistentPlan f = plan_for(u.shape, RnnPass::Forward, 4, 4);
    EXPECT_TRUE(f.fits) << f.why;
    EXPECT_EQ(f.units, 6);
    EXPECT_EQ(f.blocks, 128);
    EXPECT_EQ(f.smem_bytes, 80448);
  }
  {
    // RNN-tanh H=2048 N=2: units = ceil(2048 / 132) = 16, blocks = 128. Forward:
    // 16 x 2048 x 4 = 131072; acc 2 x 16 x 4 = 128; h 2 x 2048 x 4 = 16384 -> 147584.
    Uniform u(RnnMode::RnnTanh, 2048, 2, 1000);
    const PersistentPlan f = plan_for(u.shape, RnnPass::Forward, 4, 4);
    EXPECT_TRUE(f.fits) << f.why;
    EXPECT_EQ(f.units, 16);
    EXPECT_EQ(f.smem_bytes, 147584);
  }
  {
    // LSTM H=256 N=32: units = 2, blocks = 128. Backward: 2 x 1024 x 4 = 8192; staged
    // dgh 32 x 1024 x 4 = 131072 -> 139264.
    Uniform u(RnnMode::Lstm, 256, 32, 200);
    const PersistentPlan b = plan_for(u.shape, RnnPass::Backward, 4, 4);
    EXPECT_TRUE(b.fits) << b.why;
    EXPECT_EQ(b.units, 2);
    EXPECT_EQ(b.smem_bytes, 139264);
  }
}

TEST(PersistentFit, SixteenBitStorageHalvesTheWeightSlice) {
  // LSTM H=2048 N=1, bfloat16: units = 16; W slice 4 x 16 x 2048 x 2 = 262144 > 232448
  // in float32 it would be 524288: neither fits. H=1536: units = 12, 4 x 12 x 1536 x 2 =
  // 147456; acc 1 x 48 x 4 = 192 -> 147648; h 1536 x 4 = 6144 -> 153792.
  Uniform big(RnnMode::Lstm, 2048, 1, 10);
  EXPECT_FALSE(plan_for(big.shape, RnnPass::Forward, 2, 4).fits);
  Uniform u(RnnMode::Lstm, 1536, 1, 10);
  const PersistentPlan half = plan_for(u.shape, RnnPass::Forward, 2, 4);
  EXPECT_TRUE(half.fits) << half.why;
  EXPECT_EQ(half.smem_bytes, 153792);
  // The same in float32: 4 x 12 x 1536 x 4 = 294912 > 232448.
  EXPECT_FALSE(plan_for(u.shape, RnnPass::Forward, 4, 4).fits);
}

TEST(PersistentFit, StagingIsDroppedWhereOnlyTheWeightsFit) {
  // LSTM H=1024 N=32 backward: W^T 131072; staged dgh 32 x 4096 x 4 = 524288: too much,
  // so the step's dgh is read from L2 and the block needs 131072 bytes.
  Uniform u(RnnMode::Lstm, 1024, 32, 10);
  const PersistentPlan b = plan_for(u.shape, RnnPass::Backward, 4, 4);
  EXPECT_TRUE(b.fits) << b.why;
  EXPECT_FALSE(b.staged);
  EXPECT_EQ(b.smem_bytes, 131072);
}

TEST(PersistentFit, TooLargeOrNoCooperativeLaunchSaysWhy) {
  // LSTM H=4096 float32: units = ceil(4096 / 132) = 32; 4 x 32 x 4096 x 4 = 2097152 bytes;
  // acc 1 x 128 x 4 = 512 -> 2097664.
  Uniform u(RnnMode::Lstm, 4096, 1, 10);
  const PersistentPlan p = plan_for(u.shape, RnnPass::Forward, 4, 4);
  EXPECT_FALSE(p.fits);
  EXPECT_EQ(p.why,
            "LSTM forward H=4096 N=1 T=10: the recurrent weights of 32 hidden units per block "
            "(one block on each of 132 multiprocessors) need 2097664 bytes of shared memory per "
            "block, more than the device's 232448");
  PersistentDeviceProps old = hopper();
  old.cooperative_launch = false;
  Uniform small(RnnMode::Gru, 8, 1, 3);
  EXPECT_EQ(plan_for(small.shape, RnnPass::Backward, 4, 4, old).why,
            "GRU backward H=8 N=1 T=3: the device does not support cooperative launch");
  // A kernel whose registers leave no room: occupancy 0.
  const PersistentPlan none = loom::kernels::persistent_plan(
      small.shape, RnnPass::Forward, 4, 4, hopper(), [](int, index_t) { return 0; });
  EXPECT_FALSE(none.fits);
  EXPECT_NE(none.why.find("cannot be resident"), std::string::npos) << none.why;
}

TEST(PersistentFit, SmallHiddenSizesUseOneUnitPerBlock) {
  // H = 17 on 132 SMs: 1 unit per block, 17 blocks.
  Uniform u(RnnMode::RnnRelu, 17, 3, 5);
  const PersistentPlan p = plan_for(u.shape, RnnPass::Forward, 8, 8);
  EXPECT_TRUE(p.fits) << p.why;
  EXPECT_EQ(p.units, 1);
  EXPECT_EQ(p.blocks, 17);
  EXPECT_EQ(p.threads, 256);
}

// ---- routing --------------------------------------------------------------------

TEST(PersistentRouting, AlgorithmShapeAndFit) {
  using loom::kernels::rnn_path;
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
    p.why = "LSTM forward H=4096 N=1 T=10: too big";
    return p;
  };
  Uniform u(RnnMode::Lstm, 64, 4, 6);
  // Standard and Auto (until the kernels are measured) never consult the plan.
  EXPECT_EQ(rnn_path(RnnAlgorithm::Standard, u.shape, RnnPass::Forward, fits), RnnPath::Standard);
  EXPECT_EQ(rnn_path(RnnAlgorithm::Auto, u.shape, RnnPass::Forward, fits), RnnPath::Standard);
  EXPECT_EQ(rnn_path(RnnAlgorithm::Auto, u.shape, RnnPass::Backward, too_big), RnnPath::Standard);
  EXPECT_EQ(planned, 0);
  EXPECT_EQ(rnn_path(RnnAlgorithm::Persistent, u.shape, RnnPass::Forward, fits),
            RnnPath::Persistent);
  EXPECT_EQ(planned, 1);
  loom::testing::expect_error_text(
      [&] { rnn_path(RnnAlgorithm::Persistent, u.shape, RnnPass::Forward, too_big); },
      "RnnAlgorithm::Persistent cannot run LSTM forward H=4096 N=1 T=10: too big");

  // Packed input and projections: the standard path on purpose, even when forced.
  std::vector<index_t> shrinking = {4, 4, 3, 3, 1, 1};
  RnnLayerShape packed = u.shape;
  packed.batch_sizes = shrinking.data();
  EXPECT_EQ(loom::kernels::persistent_ineligible_reason(packed),
            "packed input (a batch that shrinks over time) runs on the standard path");
  EXPECT_EQ(rnn_path(RnnAlgorithm::Persistent, packed, RnnPass::Forward, too_big),
            RnnPath::Standard);
  RnnLayerShape proj = u.shape;
  proj.has_proj = true, proj.P = 16;
  EXPECT_EQ(loom::kernels::persistent_ineligible_reason(proj),
            "an LSTM projection (proj_size > 0) runs on the standard path");
  EXPECT_EQ(rnn_path(RnnAlgorithm::Persistent, proj, RnnPass::Backward, too_big),
            RnnPath::Standard);
  EXPECT_EQ(planned, 2);
  EXPECT_EQ(loom::kernels::persistent_ineligible_reason(u.shape), "");
}

// ---- emulation against the standard CPU reference -------------------------------

using Layer = std::function<void()>;

// Forward then backward in T with the chosen implementation of each pass
// (standard CPU reference, or the persistent emulation with `plan`).
template <typename T>
rh::Results run(const rh::Problem& p, bool persistent_forward, bool persistent_backward,
                const PersistentPlan& plan) {
  const RnnLayerShape& s = p.shape;
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H;
  const bool lstm = s.mode == RnnMode::Lstm;
  rh::HostBuffers<T> in(p);
  const T nan = loom::convert<T>(std::nan(""));
  auto out = [&](index_t n, bool present = true) {
    return std::vector<T>(present ? static_cast<size_t>(n) : 0, nan);
  };
  std::vector<T> y = out(R * H), h_n = out(N * H), c_n = out(N * H, lstm);
  std::vector<T> reserve = out(loom::kernels::rnn_reserve_size(s));
  std::vector<T> workspace = out(loom::kernels::rnn_workspace_elements<T>(s));
  loom::kernels::RnnForwardArgs<T> f;
  f.x = in.x.data();
  f.w = {in.w_ih.data(), in.w_hh.data(), rh::ptr_or_null(in.b_ih), rh::ptr_or_null(in.b_hh),
         nullptr};
  f.h0 = in.h0.data(), f.c0 = rh::ptr_or_null(in.c0);
  f.y = y.data(), f.h_n = h_n.data(), f.c_n = rh::ptr_or_null(c_n);
  f.reserve = reserve.data(), f.workspace = workspace.data();
  if (persistent_forward) loom::kernels::rnn_layer_forward_persistent_emulated(s, f, plan);
  else loom::kernels::rnn_layer_forward_cpu(s, f);

  std::vector<T> dx = out(R * C), dh0 = out(N * H), dc0 = out(N * H, lstm), dw_ih = out(G * C),
                 dw_hh = out(G * H), db_ih = out(G, s.has_bias), db_hh = out(G, s.has_bias);
  std::fill(workspace.begin(), workspace.end(), nan);
  loom::kernels::RnnBackwardArgs<T> b;
  b.x = in.x.data(), b.w = f.w, b.reserve = reserve.data(), b.workspace = workspace.data();
  b.dy = in.dy.data(), b.dh_n = in.dh_n.data(), b.dc_n = rh::ptr_or_null(in.dc_n);
  b.dx = dx.data(), b.dh0 = dh0.data(), b.dc0 = rh::ptr_or_null(dc0);
  b.dw_ih = dw_ih.data(), b.dw_hh = dw_hh.data();
  b.db_ih = rh::ptr_or_null(db_ih), b.db_hh = rh::ptr_or_null(db_hh);
  if (persistent_backward) loom::kernels::rnn_layer_backward_persistent_emulated(s, b, plan);
  else loom::kernels::rnn_layer_backward_cpu(s, b);
  return {rh::to_double(y),     rh::to_double(h_n),   rh::to_double(c_n),   rh::to_double(dx),
          rh::to_double(dh0),   rh::to_double(dc0),   rh::to_double(dw_ih), rh::to_double(dw_hh),
          rh::to_double(db_ih), rh::to_double(db_hh), {}};
}

PersistentPlan geometry(index_t units, index_t H) {
  PersistentPlan p;
  p.fits = true, p.threads = 256, p.units = units;
  p.blocks = static_cast<int>((H + units - 1) / units);
  return p;
}

struct EmulationCase {
  rh::Kind kind;
  index_t T, N, C, H, units;
};

std::string emulation_name(const EmulationCase& c) {
  return std::string(rh::kind_name(c.kind)) + "_T" + std::to_string(c.T) + "_N" +
         std::to_string(c.N) + "_C" + std::to_string(c.C) + "_H" + std::to_string(c.H) + "_U" +
         std::to_string(c.units);
}

class PersistentEmulation : public ::testing::TestWithParam<EmulationCase> {};

// float64: the persistent order of summation against the standard path's; only
// rounding in the last bits may differ (a wrong index gives O(1) errors).
TEST_P(PersistentEmulation, MatchesTheReferenceInFloat64) {
  const EmulationCase& c = GetParam();
  for (bool reverse : {false, true})
    for (bool bias : {true, false}) {
      rh::Spec sp;
      sp.kind = c.kind, sp.reverse = reverse, sp.bias = bias;
      sp.T = c.T, sp.N = c.N, sp.C = c.C, sp.H = c.H;
      sp.seed = 5u + static_cast<unsigned>(c.H + c.units) + (reverse ? 100u : 0u);
      const rh::Problem p = rh::make_problem<double>(sp);
      const PersistentPlan plan = geometry(c.units, c.H);
      const rh::Results want = run<double>(p, false, false, plan);
      // Persistent both ways, and each persistent pass with the other's standard pass
      // (the reserve is the same, so either backward consumes either forward's).
      for (auto [pf, pb] : {std::pair{true, true}, std::pair{true, false}, std::pair{false, true}}) {
        const rh::Results got = run<double>(p, pf, pb, plan);
        for (int i = 0; i < 10; ++i) {
          const std::string what = std::string(reverse ? "reverse" : "forward") +
                                   (bias ? " bias " : " no-bias ") + (pf ? "P" : "S") +
                                   (pb ? "P " : "S ") + rh::kResultNames[i];
          ASSERT_EQ(got[i].size(), want[i].size()) << what;
          if (want[i].empty()) continue;
          EXPECT_LE(rh::relative_error(got[i], want[i]), 1e-13) << what;
        }
      }
    }
}

// float32: as accurate as the float32 reference, both judged against float64
// on the same float32 inputs (issue 9's rule, as for the CUDA tests).
TEST_P(PersistentEmulation, AsAccurateAsTheReferenceInFloat32) {
  const EmulationCase& c = GetParam();
  for (bool reverse : {false, true}) {
    rh::Spec sp;
    sp.kind = c.kind, sp.reverse = reverse, sp.bias = !reverse;
    sp.T = c.T, sp.N = c.N, sp.C = c.C, sp.H = c.H;
    sp.seed = 11u + static_cast<unsigned>(c.H * 3 + c.units);
    const rh::Problem p = rh::make_problem<float>(sp);  // every input a float
    const PersistentPlan plan = geometry(c.units, c.H);
    const rh::Results ref64 = run<double>(p, false, false, plan);
    const rh::Results cpu32 = run<float>(p, false, false, plan);
    const rh::Results got = run<float>(p, true, true, plan);
    for (int i = 0; i < 10; ++i) {
      if (ref64[i].empty()) continue;
      loom::testing::expect_float32_as_accurate_as_cpu(
          got[i], cpu32[i], ref64[i], 4, 16 * 5.96e-8,
          std::string(reverse ? "reverse " : "forward ") + rh::kResultNames[i]);
    }
  }
}

// bfloat16 / float16 storage with float math: as accurate as the 16-bit CPU
// reference, both against float64 on the same 16-bit inputs (the rule of
// rnn_half_cuda_test.cc: 4 x the reference's error + 2 units of roundoff).
template <typename S>
void check_half(const EmulationCase& c) {
  for (bool reverse : {false, true}) {
    rh::Spec sp;
    sp.kind = c.kind, sp.reverse = reverse, sp.bias = reverse;
    sp.T = c.T, sp.N = c.N, sp.C = c.C, sp.H = c.H;
    sp.seed = 21u + static_cast<unsigned>(c.H * 5 + c.units);
    const rh::Problem p = rh::make_problem<S>(sp);
    const PersistentPlan plan = geometry(c.units, c.H);
    const rh::Results ref = run<double>(p, false, false, plan);
    const rh::Results cpu = run<S>(p, false, false, plan);
    const rh::Results got = run<S>(p, true, true, plan);
    const double us = rh::unit_roundoff<S>();
    for (int i = 0; i < 10; ++i) {
      if (ref[i].empty()) continue;
      const double e_got = rh::relative_error(got[i], ref[i]);
      const double e_cpu = rh::relative_error(cpu[i], ref[i]);
      EXPECT_LE(e_got, 4.0 * e_cpu + 2 * us)
          << (reverse ? "reverse " : "forward ") << rh::kResultNames[i] << ": persistent "
          << e_got << ", reference " << e_cpu;
    }
  }
}

TEST_P(PersistentEmulation, AsAccurateAsTheReferenceInBFloat16) { check_half<loom::bfloat16>(GetParam()); }
TEST_P(PersistentEmulation, AsAccurateAsTheReferenceInFloat16) { check_half<loom::float16>(GetParam()); }

std::vector<EmulationCase> emulation_cases() {
  std::vector<EmulationCase> cases;
  for (rh::Kind k : {rh::Kind::Tanh, rh::Kind::Relu, rh::Kind::Lstm, rh::Kind::Gru}) {
    cases.push_back({k, 5, 3, 4, 7, 1});    // one unit per block
    cases.push_back({k, 5, 3, 4, 7, 3});    // a short last block
    cases.push_back({k, 4, 1, 6, 7, 7});    // one block, batch 1
    cases.push_back({k, 3, 2, 33, 45, 4});  // sums longer than a warp (45 and 3 x 45 terms)
    cases.push_back({k, 1, 4, 3, 5, 2});    // a single step
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Geometries, PersistentEmulation, ::testing::ValuesIn(emulation_cases()),
                         [](const ::testing::TestParamInfo<EmulationCase>& info) {
                           return emulation_name(info.param);
                         });

TEST(PersistentEmulationErrors, IneligibleShapeOrShortGeometryThrows) {
  rh::Spec sp;
  sp.kind = rh::Kind::Gru, sp.packed = true, sp.T = 5, sp.N = 3, sp.H = 4;
  const rh::Problem packed = rh::make_problem<double>(sp);
  ASSERT_LT(packed.batch_sizes.back(), packed.shape.N) << "seed 1 draws shrinking lengths";
  loom::testing::expect_error_text(
      [&] { run<double>(packed, true, false, geometry(1, 4)); },
      "persistent emulation: packed input (a batch that shrinks over time) runs on the "
      "standard path");
  sp.packed = false;
  const rh::Problem p = rh::make_problem<double>(sp);
  PersistentPlan short_plan = geometry(1, 4);
  short_plan.blocks = 3;
  loom::testing::expect_error_text([&] { run<double>(p, true, false, short_plan); },
                                   "persistent emulation: 3 blocks of 1 units do not cover H = 4");
}

}  // namespace
