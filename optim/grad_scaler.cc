#include "optim/grad_scaler.h"

#include <cmath>
#include <string>
#include <type_traits>

#include "autograd/functions.h"
#include "core/native.h"
#include "kernels/amp_scale.h"
#include "optim/python_float.h"

namespace loom::optim {

namespace {

void check_growth_factor(double v) { LOOM_CHECK(v > 1.0, "The growth factor must be > 1.0."); }
// PyTorch checks only < 1; a factor <= 0 would make the scale 0 or negative
// and every later step be skipped, so loom refuses it too.
void check_backoff_factor(double v) {
  LOOM_CHECK(v < 1.0, "The backoff factor must be < 1.0.");
  LOOM_CHECK(v > 0.0, "The backoff factor must be > 0.0, got {}.", python_float(v));
}
void check_growth_interval(std::int64_t v) {
  LOOM_CHECK(v >= 1, "The growth interval must be >= 1, got {}.", v);
}
void check_scale_value(double v, const char* what) {
  LOOM_CHECK(std::isfinite(v) && v > 0.0, "The {} must be finite and > 0.0, got {}.", what,
             python_float(v));
}

// The double `value` as an int64 when it holds an integer (for state dicts).
std::int64_t integer_entry(double value, const char* key) {
  LOOM_CHECK(std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9.0e15,
             "grad scaler state entry '{}' must be an integer, got {}", key, python_float(value));
  return static_cast<std::int64_t>(value);
}

}  // namespace

GradScaler::GradScaler(GradScalerOptions options)
    : enabled_(options.enabled()),
      init_scale_(options.init_scale()),
      growth_factor_(options.growth_factor()),
      backoff_factor_(options.backoff_factor()),
      growth_interval_(options.growth_interval()) {
  if (!enabled_) return;
  check_growth_factor(growth_factor_);
  check_backoff_factor(backoff_factor_);
  check_scale_value(init_scale_, "initial scale");
  check_growth_interval(growth_interval_);
}

Tensor GradScaler::scale(const Tensor& outputs) {
  if (!enabled_) return outputs;
  LOOM_CHECK(outputs.defined(), "GradScaler.scale: the tensor to scale is undefined");
  LOOM_CHECK(is_floating(outputs.dtype()),
             "GradScaler.scale: expected a floating tensor, got {}", outputs.dtype());
  if (!scale_.defined()) {
    const Device device = outputs.device();
    scale_ = native::full({1}, init_scale_, TensorOptions(kFloat32).device(device));
    growth_tracker_ = native::full({1}, static_cast<double>(init_growth_tracker_),
                                   TensorOptions(kInt64).device(device));
  }
  // PyTorch's promotion of outputs * scale: the [1] float32 scale has
  // dimensions, so it wins over a 0-dim output of any floating dtype; against
  // an output with dimensions the wider type wins (float64 only).
  const DType dtype = outputs.dtype() == kFloat64 && outputs.dim() > 0 ? kFloat64 : kFloat32;
  Tensor factor = native::to(native::to(scale_, outputs.device()), dtype);
  return mul(to(outputs, dtype), factor);
}

std::vector<Tensor> GradScaler::scale(const std::vector<Tensor>& outputs) {
  std::vector<Tensor> out;
  out.reserve(outputs.size());
  for (const Tensor& t : outputs) out.push_back(scale(t));
  return out;
}

void GradScaler::check_scale_exists(const char* funcname) const {
  LOOM_CHECK(scale_.defined(),
             "Attempted {} but _scale is None.  This may indicate your script did not use "
             "scaler.scale(loss or outputs) earlier in the iteration.",
             funcname);
}

GradScaler::OptimizerRecord& GradScaler::record_for(const Optimizer& optimizer) {
  return records_[&optimizer];
}

void GradScaler::unscale_(Optimizer& optimizer) {
  if (!enabled_) return;
  check_scale_exists("unscale_");
  OptimizerRecord& record = record_for(optimizer);
  LOOM_CHECK(record.stage != Stage::kUnscaled,
             "unscale_() has already been called on this optimizer since the last update().");
  LOOM_CHECK(record.stage != Stage::kStepped, "unscale_() is being called after step().");

  // Every gradient is checked before any is changed.
  std::vector<Tensor> grads;
  for (const ParamGroup& group : optimizer.param_groups())
    for (const Tensor& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      LOOM_CHECK(g.dtype() != kFloat16, "Attempting to unscale FP16 gradients.");
      LOOM_CHECK(is_floating(g.dtype()), "GradScaler.unscale_: a gradient has dtype {}",
                 g.dtype());
      grads.push_back(g);
    }

  std::vector<std::pair<Device, Tensor>> found;
  for (const Tensor& g : grads) {
    const Device device = g.device();
    Tensor* found_inf = nullptr;
    for (auto& [d, t] : found)
      if (d == device) found_inf = &t;
    if (found_inf == nullptr) {
      found.emplace_back(device, native::zeros({1}, TensorOptions(kFloat32).device(device)));
      found_inf = &found.back().second;
    }
    const Tensor device_scale = native::to(scale_, device);
    Tensor work = native::contiguous(g);
    const float* sp = static_cast<const float*>(device_scale.data_ptr());
    float* fp = static_cast<float*>(found_inf->data_ptr());
    native::dispatch_all(work.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                    std::is_same_v<T, bfloat16> || std::is_same_v<T, float16>) {
        LOOM_DISPATCH_DEVICE(device, amp_unscale, work.numel(), static_cast<T*>(work.data_ptr()),
                             sp, fp);
      }
    });
    if (!work.is_same(g)) native::copy_(g, work);
  }
  record.found_inf_per_device = std::move(found);
  record.stage = Stage::kUnscaled;
}

bool GradScaler::step(Optimizer& optimizer) {
  if (!enabled_) {
    optimizer.step();
    return true;
  }
  check_scale_exists("step");
  OptimizerRecord& record = record_for(optimizer);
  LOOM_CHECK(record.stage != Stage::kStepped,
             "step() has already been called since the last update().");
  if (record.stage == Stage::kReady) unscale_(optimizer);
  LOOM_CHECK(!record.found_inf_per_device.empty(), "No inf checks were recorded for this optimizer.");
  double found = 0;
  for (const auto& [device, t] : record.found_inf_per_device) found += t.item();
  const bool stepped = found == 0;
  if (stepped) optimizer.step();
  record.stage = Stage::kStepped;
  return stepped;
}

void GradScaler::update() {
  if (!enabled_) return;
  check_scale_exists("update");
  Tensor combined;
  for (const auto& [opt, record] : records_)
    for (const auto& [device, t] : record.found_inf_per_device) {
      Tensor here = native::to(t, scale_.device());
      combined = combined.defined() ? native::binary(native::BinaryOp::Add, combined, here) : here;
    }
  LOOM_CHECK(combined.defined(), "No inf checks were recorded prior to update.");
  combined = native::contiguous(combined);
  LOOM_DISPATCH_DEVICE(scale_.device(), amp_update_scale, static_cast<float*>(scale_.data_ptr()),
                       static_cast<std::int64_t*>(growth_tracker_.data_ptr()),
                       static_cast<const float*>(combined.data_ptr()), growth_factor_,
                       backoff_factor_, growth_interval_);
  records_.clear();
}

void GradScaler::update(double new_scale) {
  if (!enabled_) return;
  check_scale_exists("update");
  check_scale_value(new_scale, "new scale");
  native::fill_(scale_, new_scale);
  records_.clear();
}

void GradScaler::update(const Tensor& new_scale) {
  if (!enabled_) return;
  check_scale_exists("update");
  LOOM_CHECK(new_scale.defined() && new_scale.dtype() == kFloat32 && new_scale.numel() == 1 &&
                 !new_scale.requires_grad(),
             "new_scale should be a float or a 1-element torch.cuda.FloatTensor with "
             "requires_grad=False.");
  const double value = new_scale.item();
  check_scale_value(value, "new scale");
  native::fill_(scale_, value);
  records_.clear();
}

double GradScaler::get_scale() const {
  if (!enabled_) return 1.0;
  return scale_.defined() ? scale_.item() : init_scale_;
}

std::int64_t GradScaler::get_growth_tracker() const {
  if (!enabled_) return 0;
  return growth_tracker_.defined() ? static_cast<std::int64_t>(growth_tracker_.item())
                                   : init_growth_tracker_;
}

void GradScaler::set_growth_factor(double new_factor) {
  if (enabled_) check_growth_factor(new_factor);
  growth_factor_ = new_factor;
}

void GradScaler::set_backoff_factor(double new_factor) {
  if (enabled_) check_backoff_factor(new_factor);
  backoff_factor_ = new_factor;
}

void GradScaler::set_growth_interval(std::int64_t new_interval) {
  if (enabled_) check_growth_interval(new_interval);
  growth_interval_ = new_interval;
}

StateDict GradScaler::state_dict() const {
  StateDict dict;
  if (!enabled_) return dict;
  dict.scalars["scale"] = get_scale();
  dict.scalars["growth_factor"] = growth_factor_;
  dict.scalars["backoff_factor"] = backoff_factor_;
  dict.scalars["growth_interval"] = static_cast<double>(growth_interval_);
  dict.scalars["_growth_tracker"] = static_cast<double>(get_growth_tracker());
  return dict;
}

void GradScaler::load_state_dict(const StateDict& dict) {
  if (!enabled_) return;
  LOOM_CHECK(!dict.scalars.empty() || !dict.tensors.empty(),
             "The source state dict is empty, possibly because it was saved from a disabled "
             "instance of GradScaler.");
  auto entry = [&](const char* key) {
    auto it = dict.scalars.find(key);
    LOOM_CHECK(it != dict.scalars.end(), "grad scaler state entry '{}' is missing", key);
    return it->second;
  };
  // Everything is read and checked before anything changes.
  const double scale = entry("scale");
  const double growth_factor = entry("growth_factor");
  const double backoff_factor = entry("backoff_factor");
  const std::int64_t growth_interval = integer_entry(entry("growth_interval"), "growth_interval");
  const std::int64_t tracker = integer_entry(entry("_growth_tracker"), "_growth_tracker");
  check_scale_value(scale, "scale");
  check_growth_factor(growth_factor);
  check_backoff_factor(backoff_factor);
  check_growth_interval(growth_interval);
  LOOM_CHECK(tracker >= 0, "grad scaler state entry '_growth_tracker' must be >= 0, got {}",
             tracker);

  init_scale_ = scale;
  growth_factor_ = growth_factor;
  backoff_factor_ = backoff_factor;
  growth_interval_ = growth_interval;
  init_growth_tracker_ = tracker;
  if (scale_.defined()) native::fill_(scale_, scale);
  if (growth_tracker_.defined()) native::fill_(growth_tracker_, static_cast<double>(tracker));
}

}  // namespace loom::optim
