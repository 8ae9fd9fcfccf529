// loom-bench: times one recurrent-layer configuration and prints ONE JSON line.
//
//   loom-bench --mode lstm --T 100 --N 64 --C 1024 --H 1024 --layers 2
//              [--bidirectional 0|1] [--proj-size P]
//              [--dtype float32|float64|bfloat16|float16]
//              [--step train|forward] [--lengths LO:HI] [--seed S]
//              [--device auto|cpu|cuda] [--warmup W] [--repeats R]
//              [--deterministic 0|1] [--cuda-graphs 0|1]
//              [--matmul-precision highest|high|medium]
//              [--autocast none|bfloat16|float16]
//              [--algo auto|standard|persistent] [--persistent-barrier grid-sync|flags]
//
// What is timed (bench/torch_bench.py times exactly the same on PyTorch):
//   forward   output = layer(x) under NoGradGuard (inference);
//   train     output = layer(x); loss = sum(output * g); loss.backward() with
//             g a fixed random tensor shaped like the output: what one
//             training step of a user costs without the optimizer.
// --dtype bfloat16|float16: the layer (parameters), x and g in that type, as
// a PyTorch module cast with .to(dtype): the fused 16-bit path of
// kernels/rnn.h (tensor-core GEMMs with float32 accumulation on CUDA).
// --autocast bfloat16|float16: the layer, x stay float32 and the forward and
// the loss run under loom::autocast(that type) (autograd/autocast.h), as
// torch.autocast: the recurrent layers cast their float32 operands to the
// 16-bit type, the sum runs in float32; backward runs outside the guard.
// g is made in the forward output's dtype (found by one untimed forward under
// NoGradGuard before timing), echoed as "output_dtype" with "autocast".
// Needs --dtype float32.
// x is (T, N, C) with no gradient; h0/c0 are zeros (not given). With
// --lengths LO:HI the N sequence lengths are drawn uniformly from [LO, HI]
// with splitmix64(seed) (the same draw as torch_bench.py), T becomes the
// longest, and x is packed ONCE before timing (pack_padded_sequence with
// enforce_sorted=false); the layer then runs on the PackedSequence and the
// loss uses the packed output's data. Parameter gradients are reset to
// undefined (zero_grad) before each repeat, outside the timed region.
//
// Timing: `warmup` untimed steps, then `repeats` timed ones; median and
// minimum in milliseconds. On CUDA each step is bracketed by CUDA events on
// loom's stream; on the CPU by std::chrono::steady_clock (loom's CPU path is
// synchronous). Memory: on CUDA the caching allocator's max_allocated over the
// timed repeats (peak reset after warm-up; includes parameters, input and
// gradients resident at the time, as torch.cuda.max_memory_allocated); on the
// CPU peak_mem_bytes is null (no comparable allocator statistic).
// On the CPU cpu_median_ms is also given: the median of the process CPU time
// (user + system, all threads) per step, which a loaded machine disturbs far
// less than wall time when one thread runs; null on CUDA.
//
// loom's switches, echoed in the line: --deterministic sets
// loom::set_deterministic (default: LOOM_DETERMINISTIC); --cuda-graphs sets
// kernels::set_rnn_cuda_graphs (CUDA builds only; default off);
// --matmul-precision sets loom::set_float32_matmul_precision ("high": TF32
// in every float32 cuBLAS GEMM; default: LOOM_FLOAT32_MATMUL_PRECISION, else
// "highest"; no effect on the CPU), echoed as "matmul_precision";
// --algo sets kernels::set_rnn_algorithm and --persistent-barrier
// kernels::set_persistent_barrier (kernels/rnn_persistent.h; the CPU has only
// the standard path), echoed as "algo" and "persistent_barrier", with
// "rnn_path": the path layer 0's first direction takes on CUDA for this shape
// and dtype ("forward:persistent backward:standard", ...; null on the CPU), or
// "forward:wavefront" when an inference forward runs the whole stack as one
// wavefront launch (kernels/rnn_wavefront.h).
//
// Exit status: 0 after printing the line, 2 on bad usage or a failed run
// (message on stderr).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/allocator.h"
#include "core/determinism.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/matmul_precision.h"
#include "nn/packed_sequence.h"
#include "kernels/half.h"
#include "kernels/rnn_persistent.h"
#include "kernels/rnn_wavefront.h"
#include "nn/rnn.h"

#ifdef LOOM_WITH_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/context.h"
#endif

namespace {

using namespace loom;

constexpr const char* kUsage =
    "usage: loom-bench --mode rnn_tanh|rnn_relu|lstm|gru --T T --N N --C C --H H [--layers L]\n"
    "                  [--bidirectional 0|1] [--proj-size P] [--dtype float32|float64|bfloat16|float16]\n"
    "                  [--step train|forward] [--lengths LO:HI] [--seed S]\n"
    "                  [--device auto|cpu|cuda] [--warmup W] [--repeats R]\n"
    "                  [--deterministic 0|1] [--cuda-graphs 0|1]\n"
    "                  [--matmul-precision highest|high|medium]\n"
    "                  [--autocast none|bfloat16|float16]\n"
    "                  [--algo auto|standard|persistent] [--persistent-barrier grid-sync|flags]\n";

struct Config {
  std::string mode = "lstm";
  std::int64_t T = 0, N = 0, C = 0, H = 0;
  std::int64_t layers = 1;
  bool bidirectional = false;
  std::int64_t proj_size = 0;
  std::string dtype = "float32";
  std::string step = "train";
  std::int64_t lengths_lo = 0, lengths_hi = 0;  // packed when hi > 0
  std::uint64_t seed = 0;
  std::string device = "auto";
  std::int64_t warmup = 3;
  std::int64_t repeats = 10;
  int deterministic = -1;  // -1: as LOOM_DETERMINISTIC says
  bool cuda_graphs = false;
  std::string matmul_precision;  // "": as LOOM_FLOAT32_MATMUL_PRECISION says
  std::string autocast = "none";  // none, bfloat16 or float16
  std::string algo = "auto";      // kernels::RnnAlgorithm by name
  std::string barrier = "grid-sync";  // kernels::PersistentBarrier by name
  bool layer_norm = false;            // nn::RNNOptions::layer_norm (lstm, gru)

  bool packed() const { return lengths_hi > 0; }
};

std::int64_t parse_int(const std::string& flag, const std::string& text, std::int64_t min) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  LOOM_CHECK(used == text.size() && !text.empty(), "{} expects an integer, got '{}'", flag, text);
  LOOM_CHECK(v >= min, "{} must be >= {}, got {}", flag, min, v);
  return v;
}

Config parse_args(int argc, char** argv) {
  Config c;
  bool have_T = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      LOOM_CHECK(i + 1 < argc, "{} needs a value", a);
      return argv[++i];
    };
    if (a == "--mode") c.mode = value();
    else if (a == "--T") { c.T = parse_int(a, value(), 1); have_T = true; }
    else if (a == "--N") c.N = parse_int(a, value(), 1);
    else if (a == "--C") c.C = parse_int(a, value(), 1);
    else if (a == "--H") c.H = parse_int(a, value(), 1);
    else if (a == "--layers") c.layers = parse_int(a, value(), 1);
    else if (a == "--bidirectional") c.bidirectional = parse_int(a, value(), 0) != 0;
    else if (a == "--proj-size") c.proj_size = parse_int(a, value(), 0);
    else if (a == "--dtype") c.dtype = value();
    else if (a == "--step") c.step = value();
    else if (a == "--lengths") {
      std::string v = value();
      std::size_t colon = v.find(':');
      LOOM_CHECK(colon != std::string::npos, "--lengths expects LO:HI, got '{}'", v);
      c.lengths_lo = parse_int(a, v.substr(0, colon), 1);
      c.lengths_hi = parse_int(a, v.substr(colon + 1), 1);
      LOOM_CHECK(c.lengths_lo <= c.lengths_hi, "--lengths expects LO <= HI, got {}", v);
    } else if (a == "--seed") c.seed = static_cast<std::uint64_t>(parse_int(a, value(), 0));
    else if (a == "--device") c.device = value();
    else if (a == "--warmup") c.warmup = parse_int(a, value(), 0);
    else if (a == "--repeats") c.repeats = parse_int(a, value(), 1);
    else if (a == "--deterministic") c.deterministic = parse_int(a, value(), 0) != 0;
    else if (a == "--cuda-graphs") c.cuda_graphs = parse_int(a, value(), 0) != 0;
    else if (a == "--layer-norm") c.layer_norm = parse_int(a, value(), 0) != 0;
    else if (a == "--algo") c.algo = value();
    else if (a == "--persistent-barrier") c.barrier = value();
    else if (a == "--matmul-precision") c.matmul_precision = value();
    else if (a == "--autocast") c.autocast = value();
    else fail("unknown option {}", a);
  }
  LOOM_CHECK(c.mode == "rnn_tanh" || c.mode == "rnn_relu" || c.mode == "lstm" || c.mode == "gru",
             "--mode must be rnn_tanh, rnn_relu, lstm or gru, got {}", c.mode);
  LOOM_CHECK(c.dtype == "float32" || c.dtype == "float64" || c.dtype == "bfloat16" ||
                 c.dtype == "float16",
             "--dtype must be float32, float64, bfloat16 or float16, got {}", c.dtype);
  LOOM_CHECK(c.step == "train" || c.step == "forward", "--step must be train or forward, got {}", c.step);
  LOOM_CHECK(c.device == "auto" || c.device == "cpu" || c.device == "cuda",
             "--device must be auto, cpu or cuda, got {}", c.device);
  LOOM_CHECK(c.N > 0 && c.C > 0 && c.H > 0, "--N, --C and --H are required");
  LOOM_CHECK(have_T || c.packed(), "--T is required unless --lengths is given");
  LOOM_CHECK(c.proj_size == 0 || c.mode == "lstm", "--proj-size is for lstm only");
  LOOM_CHECK(!c.layer_norm || ((c.mode == "lstm" || c.mode == "gru") && c.proj_size == 0),
             "--layer-norm 1 is for lstm or gru without --proj-size");
  LOOM_CHECK(!c.cuda_graphs || cuda_compiled(), "--cuda-graphs 1 needs loom built with CUDA");
  LOOM_CHECK(c.matmul_precision.empty() || c.matmul_precision == "highest" ||
                 c.matmul_precision == "high" || c.matmul_precision == "medium",
             "--matmul-precision must be highest, high or medium, got {}", c.matmul_precision);
  LOOM_CHECK(c.autocast == "none" || c.autocast == "bfloat16" || c.autocast == "float16",
             "--autocast must be none, bfloat16 or float16, got {}", c.autocast);
  LOOM_CHECK(c.autocast == "none" || c.dtype == "float32",
             "--autocast {} runs a float32 layer under loom::autocast: --dtype must be float32, got {}",
             c.autocast, c.dtype);
  kernels::parse_rnn_algorithm(c.algo);  // throws loom::Error for an unknown name
  kernels::parse_persistent_barrier(c.barrier);
  return c;
}

// The path (kernels/rnn_persistent.h) layer 0's first direction takes on CUDA
// in the storage type the layer runs in: "forward:<path>" and, when training,
// " backward:<path>". `lengths` empty: every sequence has T steps.
std::string rnn_path_text(const Config& c, std::int64_t T, const std::vector<std::int64_t>& lengths,
                          bool train) {
#ifdef LOOM_WITH_CUDA
  std::vector<kernels::index_t> batch_sizes;
  for (std::int64_t t = 0; t < T; ++t) {
    std::int64_t n = c.N;
    if (!lengths.empty()) n = std::count_if(lengths.begin(), lengths.end(), [t](std::int64_t l) { return l > t; });
    batch_sizes.push_back(n);
  }
  kernels::RnnLayerShape s;
  s.mode = c.mode == "lstm" ? kernels::RnnMode::Lstm
           : c.mode == "gru" ? kernels::RnnMode::Gru
           : c.mode == "rnn_relu" ? kernels::RnnMode::RnnRelu
                                 : kernels::RnnMode::RnnTanh;
  s.T = T, s.N = c.N, s.C = c.C, s.H = c.H;
  s.has_proj = c.proj_size > 0;
  s.P = s.has_proj ? c.proj_size : c.H;
  s.batch_sizes = batch_sizes.data();
  const std::string type = c.autocast != "none" ? c.autocast : c.dtype;
  const auto one = [&](kernels::RnnPass pass) {
    kernels::RnnPath p;
    if (type == "bfloat16") p = kernels::rnn_cuda_path<bfloat16>(s, pass);
    else if (type == "float16") p = kernels::rnn_cuda_path<float16>(s, pass);
    else if (type == "float64") p = kernels::rnn_cuda_path<double>(s, pass);
    else p = kernels::rnn_cuda_path<float>(s, pass);
    return p == kernels::RnnPath::Persistent ? "persistent" : "standard";
  };
  // An inference forward of a unidirectional stack may run as one wavefront
  // (kernels/rnn_wavefront.h; nn/fused_rnn_stack.h: no dropout here).
  if (!train && c.layers >= 2 && !c.bidirectional && !s.has_proj) {
    kernels::RnnStackShape st;
    st.mode = s.mode, st.L = c.layers, st.T = T, st.N = c.N, st.C = c.C, st.H = c.H;
    st.batch_sizes = batch_sizes.data();
    kernels::RnnStackPath sp;
    if (type == "bfloat16") sp = kernels::rnn_stack_cuda_path<bfloat16>(st);
    else if (type == "float16") sp = kernels::rnn_stack_cuda_path<float16>(st);
    else if (type == "float64") sp = kernels::rnn_stack_cuda_path<double>(st);
    else sp = kernels::rnn_stack_cuda_path<float>(st);
    if (sp == kernels::RnnStackPath::Wavefront) return "forward:wavefront";
  }
  std::string text = std::string("forward:") + one(kernels::RnnPass::Forward);
  if (train) text += std::string(" backward:") + one(kernels::RnnPass::Backward);
  return text;
#else
  (void)c, (void)T, (void)lengths, (void)train;
  return "";
#endif
}

// splitmix64: the sequence-length draw shared with torch_bench.py.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// N lengths uniform in [lo, hi] (modulo draw), in batch order.
std::vector<std::int64_t> draw_lengths(std::int64_t n, std::int64_t lo, std::int64_t hi, std::uint64_t seed) {
  std::uint64_t state = seed;
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(n));
  const auto span = static_cast<std::uint64_t>(hi - lo + 1);
  for (auto& l : lengths) l = lo + static_cast<std::int64_t>(splitmix64(state) % span);
  return lengths;
}

// "model name" from /proc/cpuinfo, or "unknown".
std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      std::size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

// Times one step; wraps CUDA events or steady_clock.
class StepTimer {
 public:
  explicit StepTimer(Device device) : device_(device) {
#ifdef LOOM_WITH_CUDA
    if (device_.is_cuda()) {
      LOOM_CUDA_CHECK(cudaEventCreate(&start_));
      LOOM_CUDA_CHECK(cudaEventCreate(&stop_));
    }
#endif
  }
  ~StepTimer() {
#ifdef LOOM_WITH_CUDA
    if (start_) cudaEventDestroy(start_);
    if (stop_) cudaEventDestroy(stop_);
#endif
  }
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

  // Milliseconds taken by fn(), all its device work included; on the CPU also
  // records the process CPU time it took (last_cpu_ms()).
  double time_ms(const std::function<void()>& fn) {
#ifdef LOOM_WITH_CUDA
    if (device_.is_cuda()) {
      kernels::cuda::synchronize();
      LOOM_CUDA_CHECK(cudaEventRecord(start_, kernels::cuda::stream()));
      fn();
      LOOM_CUDA_CHECK(cudaEventRecord(stop_, kernels::cuda::stream()));
      LOOM_CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0;
      LOOM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      return ms;
    }
#endif
    const double c0 = process_cpu_ms();
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto t1 = std::chrono::steady_clock::now();
    last_cpu_ms_ = process_cpu_ms() - c0;
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
  }
  double last_cpu_ms() const { return last_cpu_ms_; }

  const char* name() const { return device_.is_cuda() ? "cuda_event" : "steady_clock"; }

 private:
  static double process_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  }

  Device device_;
  double last_cpu_ms_ = 0;
#ifdef LOOM_WITH_CUDA
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
#endif
};

std::string device_name([[maybe_unused]] Device device) {
#ifdef LOOM_WITH_CUDA
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    LOOM_CUDA_CHECK(cudaGetDeviceProperties(&prop, device.index));
    return prop.name;
  }
#endif
  return cpu_name();
}

int run(const Config& c) {
  Device device = kCPU;
  if (c.device == "cuda" || (c.device == "auto" && cuda_available())) {
    LOOM_CHECK(cuda_available(), "--device cuda: no usable CUDA device (loom built {} CUDA)",
               cuda_compiled() ? "with" : "without");
    device = kCUDA;
  }
  const DType dtype = c.dtype == "float64"    ? kFloat64
                      : c.dtype == "bfloat16" ? kBFloat16
                      : c.dtype == "float16"  ? kFloat16
                                              : kFloat32;
  const bool train = c.step == "train";
  if (c.deterministic >= 0) set_deterministic(c.deterministic != 0);
  if (!c.matmul_precision.empty()) set_float32_matmul_precision(c.matmul_precision);
#ifdef LOOM_WITH_CUDA
  kernels::set_rnn_cuda_graphs(c.cuda_graphs);
#endif
  kernels::set_rnn_algorithm(kernels::parse_rnn_algorithm(c.algo));
  kernels::set_persistent_barrier(kernels::parse_persistent_barrier(c.barrier));
  manual_seed(c.seed);

  // The layer, on the device in the benchmark's dtype.
  nn::RNNOptions options = nn::RNNOptions(c.C, c.H)
                               .num_layers(c.layers)
                               .bidirectional(c.bidirectional)
                               .proj_size(c.proj_size)
                               .layer_norm(c.layer_norm);
  if (c.mode == "rnn_relu") options.nonlinearity("relu");
  std::unique_ptr<nn::RNNBase> layer;
  if (c.mode == "lstm") layer = std::make_unique<nn::LSTMImpl>(options);
  else if (c.mode == "gru") layer = std::make_unique<nn::GRUImpl>(options);
  else layer = std::make_unique<nn::RNNImpl>(options);
  layer->to(dtype);
  layer->to(device);

  // The input, packed once when lengths are drawn.
  std::vector<std::int64_t> lengths;
  std::int64_t T = c.T, rows = c.T * c.N;
  if (c.packed()) {
    lengths = draw_lengths(c.N, c.lengths_lo, c.lengths_hi, c.seed);
    T = *std::max_element(lengths.begin(), lengths.end());
    rows = 0;
    for (std::int64_t l : lengths) rows += l;
  }
  TensorOptions opts = TensorOptions(dtype).device(device);
  Tensor x = randn({T, c.N, c.C}, opts);
  nn::PackedSequence packed;
  if (c.packed()) packed = nn::pack_padded_sequence(x, lengths, false, /*enforce_sorted=*/false);
  const std::int64_t out_features = (c.bidirectional ? 2 : 1) * (c.proj_size > 0 ? c.proj_size : c.H);

  // One forward: the layer's output (the packed data for a packed input),
  // under autocast when asked.
  const std::optional<DType> autocast_dtype =
      c.autocast == "bfloat16" ? std::optional<DType>(kBFloat16)
      : c.autocast == "float16" ? std::optional<DType>(kFloat16)
                                : std::nullopt;
  std::function<Tensor()> forward = [&]() -> Tensor {
    if (auto* lstm = dynamic_cast<nn::LSTMImpl*>(layer.get()))
      return c.packed() ? std::get<0>(lstm->forward(packed)).data : std::get<0>(lstm->forward(x));
    if (auto* gru = dynamic_cast<nn::GRUImpl*>(layer.get()))
      return c.packed() ? std::get<0>(gru->forward(packed)).data : std::get<0>(gru->forward(x));
    auto* rnn = dynamic_cast<nn::RNNImpl*>(layer.get());
    return c.packed() ? std::get<0>(rnn->forward(packed)).data : std::get<0>(rnn->forward(x));
  };
  // The output's dtype (one untimed forward): g, the upstream gradient, is made in it.
  DType output_dtype = dtype;
  if (autocast_dtype) {
    NoGradGuard no_grad;
    autocast guard(*autocast_dtype);
    output_dtype = forward().dtype();
  }
  TensorOptions g_opts = TensorOptions(output_dtype).device(device);
  Tensor g = c.packed() ? randn({rows, out_features}, g_opts) : randn({T, c.N, out_features}, g_opts);

  std::function<void()> step = [&]() {
    if (train) {
      Tensor loss;
      {
        // Forward and loss under autocast (disabled when not asked), backward outside.
        autocast guard(autocast_dtype.value_or(kBFloat16), autocast_dtype.has_value());
        loss = sum(mul(forward(), g));
      }
      loss.backward();
    } else {
      NoGradGuard no_grad;
      autocast guard(autocast_dtype.value_or(kBFloat16), autocast_dtype.has_value());
      forward();
    }
  };

  StepTimer timer(device);
  for (std::int64_t i = 0; i < c.warmup; ++i) {
    layer->zero_grad();
    timer.time_ms(step);
  }
  if (device.is_cuda()) cuda_reset_peak_memory_stats(device.index);
  std::vector<double> times, cpu_times;
  for (std::int64_t i = 0; i < c.repeats; ++i) {
    layer->zero_grad();
    times.push_back(timer.time_ms(step));
    cpu_times.push_back(timer.last_cpu_ms());
  }
  std::optional<std::int64_t> peak;
  if (device.is_cuda()) peak = cuda_memory_stats(device.index).max_allocated;

  auto median_of = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  const double median = median_of(times);
  const double min = *std::min_element(times.begin(), times.end());
  const std::string cpu_median = device.is_cuda() ? "null" : fmt::format("{:.4f}", median_of(cpu_times));
  // The BLAS thread count the runner pinned (OpenBLAS reads it at load time).
  const std::string path = device.is_cuda() ? json_string(rnn_path_text(c, T, lengths, train))
                                            : std::string("null");
  const char* threads_env = std::getenv("OPENBLAS_NUM_THREADS");
  std::string threads = "null";
  if (threads_env && *threads_env) threads = std::to_string(std::atoi(threads_env));

  fmt::print(
      "{{\"impl\": \"loom\", \"mode\": \"{}\", \"T\": {}, \"N\": {}, \"C\": {}, \"H\": {}, "
      "\"layers\": {}, \"bidirectional\": {}, \"proj_size\": {}, \"dtype\": \"{}\", \"step\": \"{}\", "
      "\"lengths\": {}, \"lengths_drawn\": {}, \"rows\": {}, \"seed\": {}, \"device\": \"{}\", \"device_name\": {}, "
      "\"threads\": {}, \"warmup\": {}, \"repeats\": {}, \"timer\": \"{}\", "
      "\"deterministic\": {}, \"cuda_graphs\": {}, \"matmul_precision\": \"{}\", \"autocast\": {}, \"output_dtype\": \"{}\", \"algo\": \"{}\", \"persistent_barrier\": \"{}\", \"layer_norm\": {}, \"rnn_path\": {}, \"median_ms\": {:.4f}, \"min_ms\": {:.4f}, \"times_ms\": [{:.4f}], \"cpu_median_ms\": {}, "
      "\"peak_mem_bytes\": {}}}\n",
      c.mode, T, c.N, c.C, c.H, c.layers, c.bidirectional ? "true" : "false", c.proj_size, c.dtype,
      c.step, c.packed() ? fmt::format("[{}, {}]", c.lengths_lo, c.lengths_hi) : "null",
      c.packed() ? fmt::format("[{}]", fmt::join(lengths, ", ")) : "null", rows, c.seed,
      device.is_cuda() ? "cuda" : "cpu", json_string(device_name(device)),
      threads, c.warmup, c.repeats, timer.name(),
      deterministic() ? "true" : "false", c.cuda_graphs ? "true" : "false",
      get_float32_matmul_precision(), c.autocast == "none" ? "null" : json_string(c.autocast),
      dtype_name(output_dtype), c.algo, c.barrier, c.layer_norm ? "true" : "false", path, median, min,
      fmt::join(times, ", "), cpu_median, peak ? std::to_string(*peak) : "null");
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        fmt::print("{}", kUsage);
        return 0;
      }
    }
    config = parse_args(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "loom-bench: {}\n{}", e.what(), kUsage);
    return 2;
  }
  try {
    return run(config);
  } catch (const std::exception& e) {
    fmt::print(stderr, "loom-bench: {}\n", e.what());
    return 2;
  }
}
