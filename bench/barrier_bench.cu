// loom-barrier-bench: the cost of one grid-wide barrier of the persistent
// recurrent kernels (issue 12 items 1 and 6), each kind timed on the GPU.
//
//   loom-barrier-bench [--barriers N] [--repeats R] [--blocks B] [--threads T]
//                      [--smem BYTES] [--out FILE]
//
// For each barrier of kernels/cuda/grid_barrier.cuh -- cooperative_groups'
// grid.sync() ("grid-sync") and loom's arrival counter ("flags") -- one
// cooperative launch of B blocks (default: one per multiprocessor, as the
// persistent kernels) of T threads (default 256) with BYTES of dynamic shared
// memory passes N barriers in a row (default 10000); an empty launch of the
// same grid is the baseline. Each is timed R times (default 7) with CUDA
// events; microseconds per barrier = (median launch with N barriers - median
// empty launch) / N. Prints ONE JSON line (and writes it to FILE with --out):
//   {"device": ..., "sm_count": ..., "blocks": ..., "threads": ..., "smem": ...,
//    "barriers": N, "repeats": R, "empty_launch_us": ...,
//    "grid_sync_us_per_barrier": ..., "flags_us_per_barrier": ...,
//    "grid_sync_launch_ms": [...], "flags_launch_ms": [...], "empty_launch_ms": [...]}
// Exit status: 0 after printing, 2 on bad usage or a CUDA failure (message on
// stderr). Written and compiled without a GPU; it has not run yet.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/grid_barrier.cuh"

namespace {

__device__ unsigned int g_bench_counter;

// Passes `barriers` grid-wide barriers of kind kFlags (none: the baseline).
template <bool kFlags>
__global__ void barrier_kernel(unsigned int* counter, unsigned int barriers) {
  for (unsigned int i = 0; i < barriers; ++i)
    loom::kernels::cuda_persistent::grid_barrier<kFlags>(counter, i + 1);
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

struct Config {
  long barriers = 10000, repeats = 7, blocks = 0, threads = 256, smem = 0;
  std::string out;
};

long parse_long(const std::string& flag, const char* text, long lo, long hi) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi)
    throw std::invalid_argument(flag + " expects an integer in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], got '" + text + "'");
  return v;
}

const char* const kUsage =
    "usage: loom-barrier-bench [--barriers N] [--repeats R] [--blocks B] [--threads T] "
    "[--smem BYTES] [--out FILE]\n";

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
    const char* v = argv[++i];
    if (a == "--barriers") c.barriers = parse_long(a, v, 1, 1000000);
    else if (a == "--repeats") c.repeats = parse_long(a, v, 1, 1000);
    else if (a == "--blocks") c.blocks = parse_long(a, v, 1, 100000);
    else if (a == "--threads") c.threads = parse_long(a, v, 32, 1024);
    else if (a == "--smem") c.smem = parse_long(a, v, 0, 1 << 20);
    else if (a == "--out") c.out = v;
    else throw std::invalid_argument("unknown argument " + a);
  }
  return c;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Milliseconds of each of `repeats` cooperative launches of `kernel`.
std::vector<double> time_launches(const void* kernel, const Config& c, unsigned int barriers,
                                  unsigned int* counter) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> ms;
  for (long r = 0; r < c.repeats + 1; ++r) {  // the first launch is a warm-up
    check(cudaMemset(counter, 0, sizeof(unsigned int)), "cudaMemset");
    void* args[] = {&counter, &barriers};
    check(cudaEventRecord(start), "cudaEventRecord");
    check(cudaLaunchCooperativeKernel(kernel, dim3(static_cast<unsigned>(c.blocks)),
                                      dim3(static_cast<unsigned>(c.threads)), args,
                                      static_cast<size_t>(c.smem), nullptr),
          "cudaLaunchCooperativeKernel");
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float t = 0;
    check(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
    if (r > 0) ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms;
}

std::string list(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.4f", i ? ", " : "", v[i]);
    s += buf;
  }
  return s + "]";
}

int run(Config c) {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  int cooperative = 0;
  check(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device),
        "cudaDeviceGetAttribute");
  if (!cooperative) throw std::runtime_error("the device does not support cooperative launch");
  if (c.blocks == 0) c.blocks = prop.multiProcessorCount;
  if (static_cast<double>(c.barriers) * static_cast<double>(c.blocks) >= 4294967295.0)
    throw std::invalid_argument("--barriers x --blocks overflows the flag barrier's 32-bit counter");
  const void* kernels[] = {reinterpret_cast<const void*>(&barrier_kernel<false>),
                           reinterpret_cast<const void*>(&barrier_kernel<true>)};
  for (const void* k : kernels) {
    check(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(c.smem)),
          "cudaFuncSetAttribute");
    int per_sm = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, static_cast<int>(c.threads),
                                                        static_cast<size_t>(c.smem)),
          "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    if (static_cast<long>(per_sm) * prop.multiProcessorCount < c.blocks)
      throw std::invalid_argument("--blocks " + std::to_string(c.blocks) +
                                  " cannot all be resident (" + std::to_string(per_sm) +
                                  " per multiprocessor)");
  }
  unsigned int* counter = nullptr;
  check(cudaGetSymbolAddress(reinterpret_cast<void**>(&counter), g_bench_counter),
        "cudaGetSymbolAddress");
  const unsigned int n = static_cast<unsigned int>(c.barriers);
  const std::vector<double> empty = time_launches(kernels[0], c, 0, counter);
  const std::vector<double> sync = time_launches(kernels[0], c, n, counter);
  const std::vector<double> flags = time_launches(kernels[1], c, n, counter);
  const double base = median(empty);
  const auto per_barrier_us = [&](const std::vector<double>& v) {
    return (median(v) - base) * 1000.0 / static_cast<double>(n);
  };
  char head[512];
  std::snprintf(head, sizeof head,
                "{\"device\": \"%s\", \"sm_count\": %d, \"blocks\": %ld, \"threads\": %ld, "
                "\"smem\": %ld, \"barriers\": %ld, \"repeats\": %ld, \"empty_launch_us\": %.3f, "
                "\"grid_sync_us_per_barrier\": %.4f, \"flags_us_per_barrier\": %.4f, ",
                prop.name, prop.multiProcessorCount, c.blocks, c.threads, c.smem, c.barriers,
                c.repeats, base * 1000.0, per_barrier_us(sync), per_barrier_us(flags));
  const std::string line = std::string(head) + "\"grid_sync_launch_ms\": " + list(sync) +
                           ", \"flags_launch_ms\": " + list(flags) +
                           ", \"empty_launch_ms\": " + list(empty) + "}\n";
  std::fputs(line.c_str(), stdout);
  if (!c.out.empty()) {
    FILE* f = std::fopen(c.out.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + c.out);
    std::fputs(line.c_str(), f);
    std::fclose(f);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom-barrier-bench: %s\n%s", e.what(), kUsage);
    return 2;
  }
}
