// Tensor::str(): PyTorch's printing style (4 decimals, aligned columns,
// summarised past 1000 elements, dtype/device/grad suffixes).
#include <cmath>
#include <string>

#include "core/native.h"
#include "core/tensor.h"

namespace loom {

namespace {

constexpr std::int64_t kSummarizeThreshold = 1000;
constexpr std::int64_t kEdgeItems = 3;

struct Formatter {
  DType dtype;
  bool sci = false;
  int width = 1;

  std::string format(double v) const {
    if (dtype == DType::Bool) return v != 0 ? "True" : "False";
    if (dtype == DType::Int64) return fmt::format("{}", static_cast<std::int64_t>(v));
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return sci ? fmt::format("{:.4e}", v) : fmt::format("{:.4f}", v);
  }
};

void render(std::string& out, const std::vector<double>& values, const Shape& shape,
            const Shape& strides, std::int64_t offset, std::size_t d, const Formatter& f,
            bool summarize, int indent) {
  if (d == shape.size()) {
    std::string s = f.format(values[offset]);
    if (f.width > static_cast<int>(s.size())) out.append(f.width - s.size(), ' ');
    out += s;
    return;
  }
  out += '[';
  std::int64_t n = shape[d];
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      out += d + 1 == shape.size() ? "..., " : fmt::format("...,\n{}", std::string(indent + 1, ' '));
      i = n - kEdgeItems - 1;
      continue;
    }
    render(out, values, shape, strides, offset + i * strides[d], d + 1, f, summarize, indent + 1);
    if (i + 1 < n) {
      if (d + 1 == shape.size()) out += ", ";
      else {
        out += ',';
        out.append(shape.size() - d - 1, '\n');
        out.append(indent + 1, ' ');
      }
    }
  }
  out += ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "[ Tensor (undefined) ]";
  Tensor host = native::contiguous(native::to(native::to(*this, kCPU), kFloat64));
  const double* p = host.data<double>();
  std::vector<double> values(p, p + host.numel());

  Formatter f{dtype()};
  bool summarize = numel() > kSummarizeThreshold;
  if (is_floating(dtype())) {
    double max_abs = 0, min_abs = INFINITY;
    for (double v : values)
      if (std::isfinite(v)) max_abs = std::max(max_abs, std::abs(v)), min_abs = std::min(min_abs, std::abs(v) > 0 ? std::abs(v) : min_abs);
    f.sci = max_abs >= 1e8 || (min_abs < 1e-4 && min_abs > 0) || (max_abs > 0 && max_abs / std::max(min_abs, 1e-300) > 1000 && max_abs >= 1e3);
  }
  for (double v : values) f.width = std::max<int>(f.width, static_cast<int>(f.format(v).size()));

  std::string body;
  if (numel() == 0) body = "[]";
  else render(body, values, shape(), host.strides(), 0, 0, f, summarize, 7);

  std::string out = "tensor(" + body;
  if (numel() == 0 && dim() != 1) out += fmt::format(", size=({})", fmt::join(shape(), ", "));
  if (device().is_cuda()) out += fmt::format(", device='{}'", device().str());
  if (dtype() != DType::Float32 && dtype() != DType::Int64 && dtype() != DType::Bool)
    out += fmt::format(", dtype=torch.{}", dtype_name(dtype()));
  if (grad_fn()) out += fmt::format(", grad_fn=<{}0>", grad_fn_name(*grad_fn()));
  else if (requires_grad()) out += ", requires_grad=True";
  return out + ")";
}

}  // namespace loom
