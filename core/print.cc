// Tensor::str(): PyTorch 1.13's printing (torch/_tensor_str.py with the
// default print options: precision 4, threshold 1000, edgeitems 3, linewidth
// 80), reproduced rule for rule:
//   - one formatter for the whole tensor, built from the (summarised) values:
//     floats print as integers with a trailing '.' when every finite nonzero
//     value is integral, in scientific notation when max/min > 1000, max > 1e8
//     or (non-integral) min < 1e-4, else with 4 decimals; every element is
//     right-aligned to the widest finite nonzero value;
//   - past 1000 elements only 3 edge items per dimension are shown, around
//     "..." (" ..." inside a row);
//   - rows wrap at 80 columns; suffixes (device, dtype, grad_fn or
//     requires_grad) follow, wrapping to a new line when they would pass 80.
// operator<< writes the same text.
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/native.h"
#include "core/tensor.h"

namespace loom {

namespace {

constexpr std::int64_t kThreshold = 1000;
constexpr std::int64_t kEdgeItems = 3;
constexpr int kLineWidth = 80;
constexpr int kPrecision = 4;

// The host copy being printed: contiguous, values as double (floats, bools)
// or int64 (int64/int32/uint8, kept exact).
struct HostData {
  DType dtype;
  Shape shape, strides;
  std::vector<double> real;
  std::vector<std::int64_t> integer;
};

// Offsets of the elements shown (all, or the edge items of every dimension).
void shown_offsets(const HostData& h, std::size_t d, std::int64_t offset, bool summarize,
                   std::vector<std::int64_t>& out) {
  if (d == h.shape.size()) {
    out.push_back(offset);
    return;
  }
  std::int64_t n = h.shape[d];
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) i = n - kEdgeItems;
    shown_offsets(h, d + 1, offset + i * h.strides[d], summarize, out);
  }
}

class Formatter {
 public:
  Formatter(const HostData& h, const std::vector<std::int64_t>& offsets) : h_(h) {
    floating_ = is_floating(h.dtype);
    if (!floating_) {
      for (auto o : offsets) width_ = std::max(width_, static_cast<int>(plain(o).size()));
      return;
    }
    std::vector<double> finite;  // nonzero finite values
    for (auto o : offsets)
      if (std::isfinite(h.real[o]) && h.real[o] != 0) finite.push_back(h.real[o]);
    if (finite.empty()) return;
    double min_abs = INFINITY, max_abs = 0;
    for (double v : finite) {
      min_abs = std::min(min_abs, std::abs(v));
      max_abs = std::max(max_abs, std::abs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    bool wide = max_abs / min_abs > 1000.0 || max_abs > 1e8;
    sci_mode_ = int_mode_ ? wide : wide || min_abs < 1e-4;
    for (double v : finite) {
      if (sci_mode_) width_ = std::max(width_, static_cast<int>(sci(v).size()));
      else if (int_mode_) width_ = std::max(width_, static_cast<int>(fmt::format("{:.0f}", v).size()) + 1);
      else width_ = std::max(width_, static_cast<int>(fixed(v).size()));
    }
  }

  int width() const { return width_; }

  // The element at `offset`, right-aligned to width().
  std::string format(std::int64_t offset) const {
    std::string s = plain(offset);
    if (static_cast<int>(s.size()) < width_) s.insert(0, width_ - s.size(), ' ');
    return s;
  }

 private:
  static std::string special(double v) {
    if (std::isnan(v)) return "nan";
    return v > 0 ? "inf" : "-inf";
  }
  static std::string sci(double v) {
    return std::isfinite(v) ? fmt::format("{:.{}e}", v, kPrecision) : special(v);
  }
  static std::string fixed(double v) {
    return std::isfinite(v) ? fmt::format("{:.{}f}", v, kPrecision) : special(v);
  }
  std::string plain(std::int64_t offset) const {
    if (h_.dtype == DType::Bool) return h_.real[offset] != 0 ? "True" : "False";
    if (is_integral(h_.dtype)) return fmt::format("{}", h_.integer[offset]);
    double v = h_.real[offset];
    if (sci_mode_) return sci(v);
    if (int_mode_) return std::isfinite(v) ? fmt::format("{:.0f}.", v) : special(v);
    return fixed(v);
  }

  const HostData& h_;
  bool floating_ = false, int_mode_ = true, sci_mode_ = false;
  int width_ = 1;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

// One dimension-d slice starting at `offset`, as _tensor_str_with_formatter.
std::string render(const HostData& h, const Formatter& f, std::size_t d, std::int64_t offset,
                   int indent, bool summarize) {
  std::size_t dims_left = h.shape.size() - d;
  if (dims_left == 0) return f.format(offset);
  std::int64_t n = h.shape[d];
  bool cut = summarize && n > 2 * kEdgeItems;
  if (dims_left == 1) {
    std::vector<std::string> data;
    for (std::int64_t i = 0; i < n; ++i) {
      if (cut && i == kEdgeItems) {
        data.push_back(" ...");
        i = n - kEdgeItems;
      }
      data.push_back(f.format(offset + i * h.strides[d]));
    }
    int element_length = f.width() + 2;
    std::size_t per_line = static_cast<std::size_t>(std::max(1, (kLineWidth - indent) / element_length));
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < data.size(); i += per_line)
      lines.push_back(join(std::vector<std::string>(data.begin() + i, data.begin() + std::min(data.size(), i + per_line)), ", "));
    return "[" + join(lines, ",\n" + std::string(indent + 1, ' ')) + "]";
  }
  std::vector<std::string> slices;
  for (std::int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      slices.push_back("...");
      i = n - kEdgeItems;
    }
    slices.push_back(render(h, f, d + 1, offset + i * h.strides[d], indent + 1, summarize));
  }
  return "[" + join(slices, "," + std::string(dims_left - 1, '\n') + std::string(indent + 1, ' ')) + "]";
}

// As _add_suffixes: ", suffix" on the same line unless it would pass the line width.
std::string add_suffixes(std::string text, const std::vector<std::string>& suffixes, int indent) {
  std::size_t newline = text.rfind('\n');
  std::int64_t last_line_len = static_cast<std::int64_t>(text.size()) -
                               (newline == std::string::npos ? -1 : static_cast<std::int64_t>(newline)) + 1;
  for (const std::string& s : suffixes) {
    std::int64_t len = static_cast<std::int64_t>(s.size());
    if (last_line_len + len + 2 > kLineWidth) {
      text += ",\n" + std::string(indent, ' ') + s;
      last_line_len = indent + len;
    } else {
      text += ", " + s;
      last_line_len += len + 2;
    }
  }
  return text + ")";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "[ Tensor (undefined) ]";
  const std::string prefix = "tensor(";
  const int indent = static_cast<int>(prefix.size());
  std::vector<std::string> suffixes;
  if (device().is_cuda()) suffixes.push_back(fmt::format("device='{}'", device().str()));

  std::string body;
  if (numel() == 0) {
    // The shape unless it is (0,); the dtype unless float32 (no values to tell an int64).
    body = "[]";
    if (dim() != 1) suffixes.push_back(fmt::format("size=({})", fmt::join(shape(), ", ")));
    if (dtype() != DType::Float32) suffixes.push_back(fmt::format("dtype=torch.{}", dtype_name(dtype())));
  } else {
    HostData h;
    h.dtype = dtype();
    Tensor host = native::contiguous(native::to(*this, kCPU));
    h.shape = host.shape();
    h.strides = host.strides();
    if (is_integral(dtype())) h.integer = host.to_vector<std::int64_t>();  // int64, int32, uint8: exact
    else h.real = host.to_vector<double>();
    bool summarize = numel() > kThreshold;
    std::vector<std::int64_t> offsets;
    shown_offsets(h, 0, 0, summarize, offsets);
    Formatter f(h, offsets);
    body = render(h, f, 0, 0, indent, summarize);
    if (dtype() != DType::Float32 && dtype() != DType::Int64 && dtype() != DType::Bool)
      suffixes.push_back(fmt::format("dtype=torch.{}", dtype_name(dtype())));
  }
  if (grad_fn()) suffixes.push_back(fmt::format("grad_fn=<{}0>", grad_fn_name(*grad_fn())));
  else if (requires_grad()) suffixes.push_back("requires_grad=True");
  return add_suffixes(prefix + body, suffixes, indent);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace loom
