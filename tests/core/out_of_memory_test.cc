// Out of memory is a loom::Error that leaves loom working (core/allocator.h):
// - host: a request beyond the machine's memory, a size whose computation
//   overflows, and a request malloc itself refuses (a child process under an
//   address-space limit) each give the error, the statistics stay consistent
//   and later work is correct;
// - CUDA (skipped without a GPU): a request beyond the device errors with
//   PyTorch's fields; a request that fits only once the cache is freed
//   succeeds (free and retry); a small LSTM + Adam training run after the
//   error gives the CPU's numbers.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/allocator.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "optim/adam.h"
#include "testing.h"

#if defined(LOOM_WITH_CUDA)
#include <cuda_runtime.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define LOOM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOM_TEST_ASAN 1
#endif
#endif

namespace loom {
namespace {

using testing::expect_error_containing;
using testing::expect_error_containing_all;

// A small computation whose answer is known: sum of 1..n.
void expect_loom_still_computes() {
  Tensor x = native::arange(1, 1001, 1, TensorOptions(kFloat64));
  EXPECT_EQ(native::sum(x, {}).item(), 500500.0);
  Tensor y = empty({256, 256}, kFloat32);  // a fresh allocation works
  EXPECT_EQ(y.numel(), 65536);
}

TEST(OutOfMemory, FormatsSizesAsPyTorch) {
  EXPECT_EQ(format_memory_size(0), "0 bytes");
  EXPECT_EQ(format_memory_size(1023), "1023 bytes");
  EXPECT_EQ(format_memory_size(1536), "1.50 KiB");
  EXPECT_EQ(format_memory_size(20 << 20), "20.00 MiB");
  EXPECT_EQ(format_memory_size(std::int64_t{1} << 48), "262144.00 GiB");
}

TEST(OutOfMemory, HostStatisticsFollowAllocations) {
  const HostMemoryStats before = host_memory_stats();
  host_reset_peak_memory_stats();
  {
    Tensor a = empty({1000}, kFloat64);  // 8000 bytes, counted as requested
    EXPECT_EQ(host_memory_stats().allocated, before.allocated + 8000);
    EXPECT_EQ(host_memory_stats().allocations, before.allocations + 1);
    {
      Tensor b = empty({10}, kFloat32);
      EXPECT_EQ(host_memory_stats().allocated, before.allocated + 8040);
    }
    EXPECT_EQ(host_memory_stats().allocated, before.allocated + 8000);
  }
  EXPECT_EQ(host_memory_stats().allocated, before.allocated);
  EXPECT_EQ(host_memory_stats().max_allocated, before.allocated + 8040);
  host_reset_peak_memory_stats();
  EXPECT_EQ(host_memory_stats().max_allocated, before.allocated);
}

// 2^46 float32 = 2^48 bytes = 256 TiB. The size is chosen to be refused
// deterministically: it exceeds every machine's physical memory plus swap
// (host_memory_limit), so loom refuses it before asking malloc, whatever
// Linux's overcommit setting would say (overcommit_memory = 1 grants any
// malloc) and under AddressSanitizer too, with or without
// allocator_may_return_null (ASan's malloc, which would abort above its 1 TiB
// maximum, is never called).
TEST(OutOfMemory, HugeHostRequestIsAnErrorAndLoomGoesOn) {
  ASSERT_LT(host_memory_limit(), std::int64_t{1} << 48) << "a machine with 256 TiB of memory";
  const HostMemoryStats before = host_memory_stats();
  expect_error_containing_all([] { empty({std::int64_t{1} << 46}, kFloat32); },
                              {"CPU out of memory. Tried to allocate 262144.00 GiB (",
                               " already allocated by loom on the host; ",
                               format_memory_size(host_memory_limit()) + " physical memory + swap)",
                               "the request exceeds the machine's memory"});
  // Through a differentiable factory and an operation's output too.
  expect_error_containing([] { zeros({std::int64_t{1} << 23, std::int64_t{1} << 23}, kFloat32); },
                          "CPU out of memory. Tried to allocate 262144.00 GiB");
  Tensor small = ones({1}, kFloat32);
  expect_error_containing(
      [&] { small.expand({std::int64_t{1} << 46}).contiguous(); },
      "CPU out of memory. Tried to allocate 262144.00 GiB");
  const HostMemoryStats after = host_memory_stats();
  EXPECT_EQ(after.allocated, before.allocated + 4) << "only `small` is new";
  EXPECT_EQ(after.allocations, before.allocations + 1);
  expect_loom_still_computes();
}

// Size computations that overflow are errors, never a tiny allocation.
TEST(OutOfMemory, OverflowingSizesAreErrors) {
  const std::int64_t big = std::int64_t{1} << 32;
  // numel 2^64 wraps to 0 in int64 arithmetic.
  expect_error_containing([&] { empty({big, big}, kFloat32); },
                          "the number of elements of shape [4294967296, 4294967296] overflows int64");
  // numel 2^62 fits, bytes 2^65 do not.
  expect_error_containing([] { empty({std::int64_t{1} << 62}, kFloat64); },
                          "a tensor of shape [4611686018427387904] and dtype float64 needs more "
                          "than 2^64 bytes");
  // Just below: 2^61 float64 = 2^64 bytes, also one past size_t.
  expect_error_containing([] { empty({std::int64_t{1} << 61}, kFloat64); }, "needs more than 2^64");
  // 2^60 float64 = 2^63 bytes: representable, refused as out of memory.
  expect_error_containing([] { empty({std::int64_t{1} << 60}, kFloat64); },
                          "CPU out of memory. Tried to allocate");
  // A view whose element count overflows: refused when anything asks its size.
  Tensor one = ones({1, 1}, kFloat32);
  expect_error_containing([&] { one.expand({big, big}).numel(); }, "overflows int64");
  expect_loom_still_computes();
}

// Virtual memory of this process in bytes (/proc/self/statm, first field).
std::int64_t virtual_size() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0;
  statm >> pages;
  return pages * sysconf(_SC_PAGESIZE);
}

// A request within the machine's memory that malloc refuses: a child process
// limits its address space (RLIMIT_AS) to what it uses plus 256 MiB, asks for
// 1 GiB, then works on. Exit code 0 when all went as expected.
TEST(OutOfMemory, MallocFailureIsAnErrorAndLoomGoesOn) {
#if defined(LOOM_TEST_ASAN)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of shadow address space, so an address-space "
                  "limit cannot be set under it; HugeHostRequestIsAnErrorAndLoomGoesOn runs instead";
#else
  const std::int64_t request = std::int64_t{1} << 30;
  ASSERT_GT(host_memory_limit(), 2 * request) << "the machine has less than 2 GiB";
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    rlimit limit{};
    getrlimit(RLIMIT_AS, &limit);
    limit.rlim_cur = static_cast<rlim_t>(virtual_size() + (std::int64_t{256} << 20));
    if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(10);
    const HostMemoryStats before = host_memory_stats();
    try {
      empty({request / 4}, kFloat32);
      code = 1;  // no error
    } catch (const Error& e) {
      const std::string m = e.what();
      if (m.find("CPU out of memory. Tried to allocate 1.00 GiB (") != 0) code = 2;
      if (m.find("physical memory + swap)") == std::string::npos) code = 3;
      if (m.find("exceeds the machine's memory") != std::string::npos) code = 4;  // not malloc's refusal
    } catch (...) {
      code = 5;
    }
    try {
      const HostMemoryStats after = host_memory_stats();
      if (after.allocated != before.allocated || after.allocations != before.allocations) code = 6;
      Tensor x = native::arange(1, 1001, 1, TensorOptions(kFloat64));
      if (native::sum(x, {}).item() != 500500.0) code = 7;
      Tensor y = empty({std::int64_t{1} << 20}, kFloat32);  // 4 MiB still fit
    } catch (...) {
      code = 8;
    }
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child crashed (signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1 no error, 2-4 wrong message, 5 not a loom::Error, 6 statistics changed, 7-8 later "
         "work failed, 10 setrlimit failed";
#endif
}

// ---- CUDA --------------------------------------------------------------------------

#if defined(LOOM_WITH_CUDA)
void expect_no_pending_cuda_error() { EXPECT_EQ(cudaGetLastError(), cudaSuccess); }
#else
void expect_no_pending_cuda_error() {}
#endif

// Parameters after `steps` Adam steps of an LSTM + Linear on fixed data, all
// drawn on the CPU in float64 so every device starts from the same numbers.
std::vector<Tensor> train_lstm(Device device, int steps) {
  manual_seed(7);
  const std::int64_t T = 5, N = 3, C = 4, H = 6;
  nn::LSTM lstm(nn::LSTMOptions(C, H));
  nn::Linear head(H, 2);
  for (nn::Module* m : std::vector<nn::Module*>{lstm.get(), head.get()}) {
    m->to(kFloat64);
    m->to(device);
  }
  std::vector<Tensor> params = lstm->parameters();
  for (const Tensor& p : head->parameters()) params.push_back(p);
  optim::Adam adam(params, optim::AdamOptions(1e-2));
  Tensor x = testing::random_tensor({T, N, C}, 11).to(device);
  Tensor target = testing::random_tensor({T, N, 2}, 12).to(device);
  for (int step = 0; step < steps; ++step) {
    auto [out, state] = lstm->forward(x);
    Tensor loss = mse_loss(head->forward(out), target);
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  std::vector<Tensor> host;
  for (const Tensor& p : params) host.push_back(p.detach().cpu());
  return host;
}

TEST(OutOfMemoryCuda, HugeRequestErrorsThenTrainingContinues) {
  LOOM_SKIP_WITHOUT_CUDA();
  const CudaDeviceMemory device = cuda_device_memory(0);
  ASSERT_GT(device.total, 0);
  Tensor keep = ones({1000}, TensorOptions(kFloat32).device(kCUDA));  // something allocated
  const CudaMemoryStats before = cuda_memory_stats(0);
  // Twice the device's capacity: fails also after the cache is freed.
  const std::int64_t n = device.total / 2;  // float32 elements: 2 x total bytes
  const std::int64_t bytes = (n * 4 + 511) / 512 * 512;
  expect_error_containing_all(
      [&] { empty({n}, TensorOptions(kFloat32).device(kCUDA)); },
      {"CUDA out of memory. Tried to allocate " + format_memory_size(bytes) + " (cuda:0; ",
       format_memory_size(device.total) + " total capacity; ",
       format_memory_size(before.allocated) + " already allocated by loom; ", " reserved by loom; ",
       " free)"});
  expect_no_pending_cuda_error();
  const CudaMemoryStats after = cuda_memory_stats(0);
  EXPECT_EQ(after.allocated, before.allocated) << "a failed request changed the allocation";
  EXPECT_EQ(after.reserved, after.allocated) << "the retry returns every cached block";
  EXPECT_EQ(after.driver_allocations, before.driver_allocations);
  EXPECT_EQ(keep.sum().item(), 1000.0) << "a tensor from before the failure is intact";

  // Training afterwards gives the CPU's numbers.
  std::vector<Tensor> gpu = train_lstm(kCUDA, 4), cpu = train_lstm(kCPU, 4);
  ASSERT_EQ(gpu.size(), cpu.size());
  for (std::size_t i = 0; i < cpu.size(); ++i)
    testing::expect_all_close(gpu[i].to_vector<double>(), cpu[i].to_vector<double>(), 1e-9, 1e-11,
                              "parameter " + std::to_string(i));
  expect_no_pending_cuda_error();
}

// A request that fits only once the cached blocks go back to the driver: the
// allocator frees its cache and retries instead of failing.
TEST(OutOfMemoryCuda, FailedMallocFreesTheCacheAndRetries) {
  LOOM_SKIP_WITHOUT_CUDA();
  const std::int64_t free_bytes = cuda_device_memory(0).free;
  const std::int64_t unit = std::int64_t{1} << 20;
  const std::int64_t first = free_bytes / 20 * 11 / unit * unit;   // 55% of what is free
  const std::int64_t second = free_bytes / 20 * 12 / unit * unit;  // 60%: cannot sit beside it
  {
    Tensor a = empty({first / 4}, TensorOptions(kFloat32).device(kCUDA));
  }  // `first` is now a cached, unused block, too small for `second`
  const CudaMemoryStats cached = cuda_memory_stats(0);
  EXPECT_GE(cached.reserved - cached.allocated, first);
  Tensor b = empty({second / 4}, TensorOptions(kFloat32).device(kCUDA));  // must not throw
  const CudaMemoryStats after = cuda_memory_stats(0);
  EXPECT_EQ(after.allocated, cached.allocated + second);
  EXPECT_EQ(after.reserved, after.allocated) << "the retry returned the cached blocks";
  EXPECT_EQ(after.driver_allocations, cached.driver_allocations + 1);
  expect_no_pending_cuda_error();
  native::fill_(b, 2.0);
  EXPECT_EQ(native::max(b.narrow(0, second / 4 - 3, 3), 0, false).first.item(), 2.0);
}

}  // namespace
}  // namespace loom
