// Anomaly mode: the switch, the creation records and their report (see anomaly_mode.h).
#include "autograd/anomaly_mode.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "autograd/node.h"
#include "core/error.h"

namespace loom::autograd {

namespace {
std::atomic<bool> g_anomaly_enabled{false};
thread_local std::vector<std::string> t_context;  // open AnomalyContext names, outermost first

constexpr int kMaxFrames = 48;
// capture_anomaly_metadata() and Node::Node(): the recording itself, not its caller.
constexpr int kRecordingFrames = 2;

// The last path component of a module's file name.
std::string_view base_name(const char* path) {
  std::string_view p(path == nullptr ? "?" : path);
  const auto slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

// A C++ symbol demangled, or as it is when it is not a mangled name.
std::string demangle(const char* symbol) {
  int status = 0;
  char* out = abi::__cxa_demangle(symbol, nullptr, nullptr, &status);
  std::string result = status == 0 && out != nullptr ? out : symbol;
  std::free(out);
  return result;
}
}  // namespace

void set_detect_anomaly(bool enabled) { g_anomaly_enabled.store(enabled); }

bool is_anomaly_enabled() { return g_anomaly_enabled.load(std::memory_order_relaxed); }

DetectAnomalyGuard::DetectAnomalyGuard() : previous_(g_anomaly_enabled.exchange(true)) {}

DetectAnomalyGuard::~DetectAnomalyGuard() { g_anomaly_enabled.store(previous_); }

AnomalyContext::AnomalyContext(std::string name) : pushed_(is_anomaly_enabled()) {
  if (pushed_) t_context.push_back(std::move(name));
}

AnomalyContext::~AnomalyContext() {
  if (pushed_) t_context.pop_back();
}

std::string current_anomaly_context() { return fmt::format("{}", fmt::join(t_context, " > ")); }

[[gnu::noinline]] std::shared_ptr<const AnomalyMetadata> capture_anomaly_metadata() {
  void* raw[kMaxFrames];
  const int n = ::backtrace(raw, kMaxFrames);
  auto meta = std::make_shared<AnomalyMetadata>();
  for (int i = kRecordingFrames; i < n; ++i) meta->frames.push_back(raw[i]);
  meta->context = current_anomaly_context();
  return meta;
}

std::vector<std::string> symbolize(const std::vector<void*>& frames) {
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    // A return address points after the call; look up the call itself.
    const auto address = reinterpret_cast<std::uintptr_t>(frames[i]);
    const auto lookup = reinterpret_cast<void*>(address - 1);
    Dl_info info{};
    if (dladdr(lookup, &info) == 0) {
      lines.push_back(fmt::format("#{} {}", i, frames[i]));
      continue;
    }
    const auto base = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
    const std::string where = fmt::format("{}+{:#x}", base_name(info.dli_fname), address - 1 - base);
    if (info.dli_sname != nullptr) {
      const auto start = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
      lines.push_back(fmt::format("#{} {}+{:#x} ({})", i, demangle(info.dli_sname),
                                  address - start, where));
    } else {
      lines.push_back(fmt::format("#{} ?? ({})", i, where));
    }
  }
  return lines;
}

std::string describe_creation(const Node& node) {
  std::string out = fmt::format("Error detected in {} (sequence number {})", node.name(),
                                node.sequence_nr);
  if (!node.anomaly) {
    out += ". No forward pass information available. Enable detect anomaly during forward pass "
           "for more information.";
    return out;
  }
  out += ", created by the forward call:\n  inputs:";
  for (std::size_t i = 0; i < node.input_meta.size(); ++i) {
    const TensorMeta& m = node.input_meta[i];
    const bool needs_grad = i < node.next_edges.size() && node.next_edges[i].node != nullptr;
    out += fmt::format("{} [{}] {} {} {}{}", i ? "," : "", i, shape_str(m.shape), m.dtype, m.device,
                       needs_grad ? "" : " (no grad)");
  }
  if (!node.anomaly->context.empty()) out += "\n  context: " + node.anomaly->context;
  out += "\n  backtrace (most recent call first):";
  for (const std::string& line : symbolize(node.anomaly->frames)) out += "\n    " + line;
  return out;
}

void check_gradients_finite(const Node& node, const std::vector<Tensor>& grads) {
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    if (!g.defined() || i >= node.next_edges.size() || node.next_edges[i].node == nullptr ||
        !is_floating(g.dtype()))
      continue;
    const std::vector<double> values = g.to_vector<double>();
    std::int64_t nans = 0, infs = 0, first_nan = -1, first_inf = -1;
    for (std::size_t k = 0; k < values.size(); ++k) {
      if (std::isnan(values[k])) {
        if (nans++ == 0) first_nan = static_cast<std::int64_t>(k);
      } else if (std::isinf(values[k])) {
        if (infs++ == 0) first_inf = static_cast<std::int64_t>(k);
      }
    }
    if (nans == 0 && infs == 0) continue;
    const bool nan = nans > 0;
    fail("Function '{}' returned {} values in its {}th output.\n"
         "  gradient: {} of {} elements are {}, the first at flat index {} (shape {})\n{}",
         node.name(), nan ? "nan" : "inf", i, nan ? nans : infs, values.size(),
         nan ? "nan" : "+-inf", nan ? first_nan : first_inf, shape_str(g.shape()),
         describe_creation(node));
  }
}

}  // namespace loom::autograd
