// The algorithm setting and the fit and routing rules of kernels/rnn_persistent.h.
#include "kernels/rnn_persistent.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/rnn_persistent_algorithm.h"

namespace loom::kernels {

namespace {
// -1: not decided yet (read LOOM_RNN_ALGORITHM at the next query); else an RnnAlgorithm.
std::atomic<int> g_algorithm{-1};
std::atomic<PersistentBarrier> g_barrier{PersistentBarrier::GridSync};

constexpr int kPersistentThreads = 256;

std::string shape_text(const RnnLayerShape& s, RnnPass pass) {
  return fmt::format("{} {} H={} N={} T={}", rnn_mode_name(s.mode),
                     pass == RnnPass::Forward ? "forward" : "backward", s.H, s.N, s.T);
}
}  // namespace

RnnAlgorithm rnn_algorithm_from_environment() {
  const char* raw = std::getenv("LOOM_RNN_ALGORITHM");
  if (raw == nullptr || *raw == '\0') return RnnAlgorithm::Auto;
  const std::string_view value(raw);
  for (RnnAlgorithm a : {RnnAlgorithm::Auto, RnnAlgorithm::Standard, RnnAlgorithm::Persistent})
    if (value == rnn_algorithm_name(a)) return a;
  fail("LOOM_RNN_ALGORITHM must be auto, standard or persistent (or unset), got \"{}\"", value);
}

void set_rnn_algorithm(RnnAlgorithm algorithm) { g_algorithm.store(static_cast<int>(algorithm)); }

RnnAlgorithm rnn_algorithm() {
  const int state = g_algorithm.load();
  if (state >= 0) return static_cast<RnnAlgorithm>(state);
  int expected = -1;  // a concurrent set_rnn_algorithm() wins over the environment
  const int from_env = static_cast<int>(rnn_algorithm_from_environment());
  if (g_algorithm.compare_exchange_strong(expected, from_env)) return static_cast<RnnAlgorithm>(from_env);
  return static_cast<RnnAlgorithm>(expected);
}

const char* rnn_algorithm_name(RnnAlgorithm algorithm) {
  switch (algorithm) {
    case RnnAlgorithm::Standard:
      return "standard";
    case RnnAlgorithm::Persistent:
      return "persistent";
    default:
      return "auto";
  }
}

RnnAlgorithm parse_rnn_algorithm(std::string_view name) {
  for (RnnAlgorithm a : {RnnAlgorithm::Auto, RnnAlgorithm::Standard, RnnAlgorithm::Persistent})
    if (name == rnn_algorithm_name(a)) return a;
  fail("unknown recurrent algorithm '{}': expected auto, standard or persistent", name);
}

RnnAlgorithmGuard::RnnAlgorithmGuard(RnnAlgorithm algorithm) : previous_(rnn_algorithm()) {
  set_rnn_algorithm(algorithm);
}
RnnAlgorithmGuard::~RnnAlgorithmGuard() { set_rnn_algorithm(previous_); }

void set_persistent_barrier(PersistentBarrier barrier) { g_barrier.store(barrier); }
PersistentBarrier persistent_barrier() { return g_barrier.load(); }

const char* persistent_barrier_name(PersistentBarrier barrier) {
  return barrier == PersistentBarrier::Flags ? "flags" : "grid-sync";
}

PersistentBarrier parse_persistent_barrier(std::string_view name) {
  for (PersistentBarrier b : {PersistentBarrier::GridSync, PersistentBarrier::Flags})
    if (name == persistent_barrier_name(b)) return b;
  fail("unknown persistent barrier '{}': expected grid-sync or flags", name);
}

int estimate_blocks_per_sm(const PersistentDeviceProps& props, int regs_per_thread, int threads,
                           index_t smem_bytes) {
  constexpr index_t kReservedSmemPerBlock = 1024;
  constexpr int kMaxThreadsPerSm = 2048;
  if (threads <= 0 || regs_per_thread <= 0) return 0;
  const index_t by_smem = props.smem_per_sm / (smem_bytes + kReservedSmemPerBlock);
  const index_t by_regs = props.regs_per_sm / (static_cast<index_t>(regs_per_thread) * threads);
  const index_t by_threads = kMaxThreadsPerSm / threads;
  if (smem_bytes > props.smem_per_block_optin) return 0;
  return static_cast<int>(std::min({by_smem, by_regs, by_threads}));
}

index_t persistent_smem_bytes(RnnPass pass, RnnMode mode, index_t N, index_t H, index_t units,
                              bool staged, index_t storage_bytes, index_t compute_bytes) {
  return rnn_detail::persistent_smem_layout(pass == RnnPass::Backward, mode, N, H, units, staged,
                                            storage_bytes, compute_bytes)
      .size;
}

std::string persistent_ineligible_reason(const RnnLayerShape& s) {
  if (s.has_proj) return "an LSTM projection (proj_size > 0) runs on the standard path";
  if (s.zoneout_h > 0 || s.zoneout_c > 0) return "zoneout runs on the standard path";
  if (s.layer_norm) return "layer norm runs on the standard path";
  for (index_t t = 0; t < s.T; ++t)
    if (s.batch_sizes[t] != s.N)
      return "packed input (a batch that shrinks over time) runs on the standard path";
  return "";
}

PersistentPlan persistent_fit(const std::string& what, const std::string& weights,
                              index_t barriers, const char* barrier_unit, index_t H,
                              const std::function<index_t(index_t units, bool staged)>& bytes_of,
                              const PersistentDeviceProps& props,
                              const PersistentOccupancy& occupancy) {
  PersistentPlan plan;
  if (!props.cooperative_launch) {
    plan.why = what + ": the device does not support cooperative launch";
    return plan;
  }
  if (props.sm_count < 1) {
    plan.why = what + ": the device reports no multiprocessors";
    return plan;
  }
  const index_t units = (H + props.sm_count - 1) / props.sm_count;
  const index_t blocks = (H + units - 1) / units;
  // `barriers` barriers of `blocks` arrivals each must count within 32 bits (the flag barrier).
  if (static_cast<double>(barriers) * static_cast<double>(blocks) >= 4294967295.0) {
    plan.why = fmt::format("{}: {} {} of {} blocks overflow the barrier's 32-bit counter", what,
                           barriers, barrier_unit, blocks);
    return plan;
  }
  const index_t bare = bytes_of(units, false), staged = bytes_of(units, true);
  if (bare > props.smem_per_block_optin) {
    plan.why = fmt::format(
        "{}: {} of {} hidden units per block (one block on each of {} "
        "multiprocessors) need {} bytes of shared memory per block, more than the device's {}",
        what, weights, units, props.sm_count, bare, props.smem_per_block_optin);
    return plan;
  }
  plan.threads = kPersistentThreads;
  plan.units = units;
  plan.blocks = static_cast<int>(blocks);
  plan.staged = staged <= props.smem_per_block_optin &&
                occupancy(plan.threads, staged) >= 1;
  plan.smem_bytes = plan.staged ? staged : bare;
  const int per_sm = occupancy(plan.threads, plan.smem_bytes);
  if (per_sm < 1) {
    plan.why = fmt::format(
        "{}: a block of {} threads with {} bytes of shared memory cannot be resident on a "
        "multiprocessor (registers or shared memory)",
        what, plan.threads, plan.smem_bytes);
    return plan;
  }
  if (static_cast<index_t>(per_sm) * props.sm_count < blocks) {  // cannot happen with blocks <= SMs
    plan.why = fmt::format("{}: {} blocks cannot all be resident ({} per multiprocessor)", what,
                           blocks, per_sm);
    return plan;
  }
  plan.fits = true;
  return plan;
}

PersistentPlan persistent_plan(const RnnLayerShape& s, RnnPass pass, index_t storage_bytes,
                               index_t compute_bytes, const PersistentDeviceProps& props,
                               const PersistentOccupancy& occupancy) {
  return persistent_fit(
      shape_text(s, pass), "the recurrent weights", s.T, "steps", s.H,
      [&](index_t units, bool staged) {
        return persistent_smem_bytes(pass, s.mode, s.N, s.H, units, staged, storage_bytes,
                                     compute_bytes);
      },
      props, occupancy);
}

RnnPath rnn_path(RnnAlgorithm algorithm, const RnnLayerShape& s, RnnPass pass,
                 const std::function<PersistentPlan()>& plan) {
  if (algorithm != RnnAlgorithm::Persistent) return RnnPath::Standard;  // Auto: until measured
  if (!persistent_ineligible_reason(s).empty()) return RnnPath::Standard;
  const PersistentPlan p = plan();
  if (!p.fits) fail("RnnAlgorithm::Persistent cannot run {}", p.why);
  return RnnPath::Persistent;
}

}  // namespace loom::kernels
