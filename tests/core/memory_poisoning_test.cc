// Memory poisoning (core/allocator.h: set_memory_poisoning, LOOM_POISON_MEMORY):
// every block handed out is filled with 0xFF bytes (NaN), so a read before a
// write shows as NaN or as changed bits. Here:
// - the switch, and that new and reused blocks really are poisoned (host, CUDA);
// - a 2-layer bidirectional LSTM + Linear, forward and backward, gives the
//   same bits with every block poisoned as without (CPU, always; CUDA: the
//   exact workload of MatmulPrecisionCuda.DeterministicUnderHighAndHighest-
//   RestoredExactly, whose backward compute-sanitizer initcheck flagged on an
//   H200, under "high" and "highest", directions overlapped and not). A kernel
//   reading an input gradient before the GEMM that writes it (issue 9,
//   docs/gpu-runs/2026-11-30-h200-b/README.md) would read NaN there.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/allocator.h"
#include "core/determinism.h"
#include "core/generator.h"
#include "core/matmul_precision.h"
#include "core/tensor.h"
#include "nn/fused_rnn.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "testing.h"

namespace loom {
namespace {

// Restores poisoning, precision, determinism and direction overlap however a test ends.
struct SettingsGuard {
  bool poison = memory_poisoning();
  std::string precision = get_float32_matmul_precision();
  bool det = deterministic();
  bool overlap = nn::rnn_direction_overlap();
  ~SettingsGuard() {
    set_memory_poisoning(poison);
    set_float32_matmul_precision(precision);
    set_deterministic(det);
    nn::set_rnn_direction_overlap(overlap);
  }
};

// The bytes of `t` (any device), copied to the host.
std::vector<unsigned char> bytes_of(const Tensor& t) {
  Tensor c = t.detach().contiguous().cpu();
  const auto* p = static_cast<const unsigned char*>(c.data_ptr());
  return std::vector<unsigned char>(p, p + c.numel() * element_size(c.dtype()));
}

// How many bytes of `t` are not 0xFF.
std::size_t not_poisoned(const Tensor& t) {
  std::size_t n = 0;
  for (unsigned char b : bytes_of(t)) n += b != 0xFF;
  return n;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && bytes_of(a) == bytes_of(b);
}

std::size_t nonfinite(const Tensor& t) {
  std::size_t n = 0;
  for (double v : t.detach().cpu().to(kFloat64).to_vector<double>()) n += !std::isfinite(v);
  return n;
}

TEST(MemoryPoisoning, SwitchStartsFromTheEnvironmentAndFollowsTheSetter) {
  SettingsGuard guard;
  const char* env = std::getenv("LOOM_POISON_MEMORY");
  // guard.poison is the setting this process started with (no test leaves it changed).
  EXPECT_EQ(guard.poison, env != nullptr && std::string(env) == "1");
  set_memory_poisoning(true);
  EXPECT_TRUE(memory_poisoning());
  set_memory_poisoning(false);
  EXPECT_FALSE(memory_poisoning());
}

// Every floating dtype reads NaN from a poisoned block; a block that held
// values, freed and asked for again, is poisoned again.
void expect_blocks_poisoned(Device device) {
  SettingsGuard guard;
  set_memory_poisoning(true);
  for (DType dtype : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
    for (std::int64_t n : {1, 7, 1000, 100003}) {
      Tensor t = empty({n}, TensorOptions(dtype).device(device));
      EXPECT_EQ(not_poisoned(t), 0u) << fmt::format("{} [{}] on {}", dtype, n, device);
      EXPECT_EQ(nonfinite(t), static_cast<std::size_t>(n)) << fmt::format("{} [{}] on {}", dtype, n, device);
    }
  }
  for (int round = 0; round < 3; ++round) {  // written, freed, handed out again
    Tensor t = ones({4096}, TensorOptions(kFloat32).device(device));
    EXPECT_EQ(not_poisoned(t), 4096u * 4);  // ones wrote every byte
    t = Tensor();
    const std::int64_t cuda_mallocs = cuda_memory_stats().driver_allocations;
    Tensor again = empty({4096}, TensorOptions(kFloat32).device(device));
    EXPECT_EQ(not_poisoned(again), 0u) << fmt::format("round {} on {}", round, device);
    // On CUDA the caching allocator handed out a cached block (the one ones()
    // wrote): a reused block is poisoned, not only a new one.
    if (device.is_cuda()) EXPECT_EQ(cuda_memory_stats().driver_allocations, cuda_mallocs);
  }
}

TEST(MemoryPoisoning, NewAndReusedHostBlocksAreNaN) { expect_blocks_poisoned(kCPU); }

TEST(MemoryPoisoningCuda, NewAndReusedBlocksAreNaN) {
  LOOM_SKIP_WITHOUT_CUDA();
  expect_blocks_poisoned(kCUDA);
}

// A 2-layer bidirectional LSTM (C = H, N, T) + Linear(2H, 7) on `device`,
// forward and backward of sum(y * y): the outputs and every gradient.
std::vector<Tensor> bidirectional_workload(Device device, std::int64_t C, std::int64_t N,
                                           std::int64_t T) {
  manual_seed(9);
  nn::LSTM lstm(nn::LSTMOptions(C, C).num_layers(2).bidirectional(true));
  nn::Linear head(2 * C, 7);
  lstm->to(device);
  head->to(device);
  Tensor x = testing::random_tensor({T, N, C}, 31, kFloat32).to(device).requires_grad_();
  auto [out, state] = lstm->forward(x);
  Tensor y = head->forward(out);
  sum(mul(y, y)).backward();
  std::vector<Tensor> all = {out, std::get<0>(state), std::get<1>(state), y, x.grad()};
  for (const Tensor& p : lstm->parameters()) all.push_back(p.grad());
  for (const Tensor& p : head->parameters()) all.push_back(p.grad());
  return all;
}

// Runs the workload without and with poisoning: every result must have the
// same bits, and be finite.
void expect_poisoning_changes_nothing(Device device, std::int64_t C, std::int64_t N, std::int64_t T,
                                      const std::string& what) {
  set_memory_poisoning(false);
  const std::vector<Tensor> clean = bidirectional_workload(device, C, N, T);
  set_memory_poisoning(true);
  const std::vector<Tensor> poisoned = bidirectional_workload(device, C, N, T);
  set_memory_poisoning(false);
  ASSERT_EQ(clean.size(), poisoned.size());
  ASSERT_EQ(clean.size(), 5u + 16u + 2u);  // 5 results, 2 layers x 2 directions x 4, Linear's 2
  for (std::size_t i = 0; i < clean.size(); ++i) {
    ASSERT_TRUE(clean[i].defined() && poisoned[i].defined()) << what << ": result " << i;
    EXPECT_EQ(nonfinite(poisoned[i]), 0u) << what << ": result " << i << " read poisoned memory";
    EXPECT_EQ(nonfinite(clean[i]), 0u) << what << ": result " << i;
    EXPECT_TRUE(same_bits(clean[i], poisoned[i]))
        << what << ": result " << i << " changed when every block started as NaN";
  }
}

TEST(MemoryPoisoning, BidirectionalLstmBackwardSameBitsWhenEveryBlockStartsAsNaN) {
  SettingsGuard guard;
  expect_poisoning_changes_nothing(kCPU, 24, 5, 7, "cpu");
}

// The workload of MatmulPrecisionCuda.DeterministicUnderHighAndHighestRestoredExactly
// (C = H = 256, N = 32, T = 20), under both precisions, with the directions on
// two streams (the default) and on one. Also: overlap on and off give the same bits.
TEST(MemoryPoisoningCuda, BidirectionalLstmBackwardSameBitsWhenEveryBlockStartsAsNaN) {
  LOOM_SKIP_WITHOUT_CUDA();
  SettingsGuard guard;
  set_deterministic(true);
  for (const char* precision : {"high", "highest"}) {
    set_float32_matmul_precision(precision);
    std::vector<Tensor> by_overlap[2];
    for (bool overlap : {true, false}) {
      nn::set_rnn_direction_overlap(overlap);
      const std::string what = std::string(precision) + (overlap ? ", overlapped" : ", serial");
      expect_poisoning_changes_nothing(kCUDA, 256, 32, 20, what);
      set_memory_poisoning(true);
      by_overlap[overlap] = bidirectional_workload(kCUDA, 256, 32, 20);
      set_memory_poisoning(false);
    }
    for (std::size_t i = 0; i < by_overlap[0].size(); ++i)
      EXPECT_TRUE(same_bits(by_overlap[0][i], by_overlap[1][i]))
          << precision << ": result " << i << " differs between overlapped and serial directions";
  }
}

}  // namespace
}  // namespace loom
