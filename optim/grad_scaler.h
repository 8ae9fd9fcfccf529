// loom::optim::GradScaler: dynamic loss scaling for mixed-precision training,
// as torch.cuda.amp.GradScaler (PyTorch 1.13; torch.amp.GradScaler in 2.x).
//
//   optim::GradScaler scaler;                      // init_scale 2^16
//   for (...) {
//     adam.zero_grad();
//     Tensor loss = ...;                           // e.g. under loom::autocast
//     scaler.scale(loss).backward();               // gradients scaled by the scale
//     scaler.unscale_(adam);                       // optional: to clip true gradients
//     optim::clip_grad_norm_(model.parameters(), 1.0);
//     scaler.step(adam);                           // skipped when a gradient has inf/NaN
//     scaler.update();                             // backs off or grows the scale
//   }
//
// The scale is a float32 [1] tensor on the device of the first scaled loss,
// created by the first scale(); its growth tracker (the count of consecutive
// finite steps) is an int64 [1] tensor beside it (PyTorch: int32). unscale_
// multiplies each gradient by 1/scale (the reciprocal in float64, rounded to
// float32) and notes any inf/NaN in one pass (kernels/amp_scale.h, CPU and
// CUDA alike, deterministic); step() reads that note on the host (the only
// device synchronisation); update() changes the scale on its device.
//
// Unlike PyTorch 1.13's, this scaler also runs on the CPU (PyTorch disables
// itself there with a warning).
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "optim/optimizer.h"

namespace loom::optim {

// GradScaler's constructor arguments, with PyTorch's names and defaults.
struct GradScalerOptions {
  GradScalerOptions& init_scale(double v) { init_scale_ = v; return *this; }
  GradScalerOptions& growth_factor(double v) { growth_factor_ = v; return *this; }
  GradScalerOptions& backoff_factor(double v) { backoff_factor_ = v; return *this; }
  GradScalerOptions& growth_interval(std::int64_t v) { growth_interval_ = v; return *this; }
  GradScalerOptions& enabled(bool v) { enabled_ = v; return *this; }
  double init_scale() const { return init_scale_; }
  double growth_factor() const { return growth_factor_; }
  double backoff_factor() const { return backoff_factor_; }
  std::int64_t growth_interval() const { return growth_interval_; }
  bool enabled() const { return enabled_; }

 private:
  double init_scale_ = 65536.0;  // 2^16
  double growth_factor_ = 2.0;
  double backoff_factor_ = 0.5;
  std::int64_t growth_interval_ = 2000;
  bool enabled_ = true;
};

class GradScaler {
 public:
  // Throws loom::Error when enabled and an option is invalid: PyTorch's
  // "The growth factor must be > 1.0." and "The backoff factor must be < 1.0."
  // and, loom's own (PyTorch accepts these and then never steps or never
  // grows), "The backoff factor must be > 0.0, got {v}.", "The initial scale
  // must be finite and > 0.0, got {v}." and "The growth interval must be >= 1,
  // got {v}.". A disabled scaler checks nothing.
  explicit GradScaler(GradScalerOptions options = {});
  GradScaler(const GradScaler&) = delete;
  GradScaler& operator=(const GradScaler&) = delete;

  // outputs * scale (differentiable), with PyTorch's type promotion against
  // the float32 [1] scale: float32 of shape broadcast(outputs.shape, [1]) for
  // float32, bfloat16 and float16 outputs and for a 0-dim float64 one; float64
  // for a float64 output with dimensions. The first call creates the scale on
  // outputs' device; later calls copy it to theirs. Disabled: outputs itself.
  // Throws loom::Error for an undefined or non-floating tensor.
  Tensor scale(const Tensor& outputs);
  // scale() of each tensor.
  std::vector<Tensor> scale(const std::vector<Tensor>& outputs);

  // Divides every defined .grad of `optimizer`'s parameters by the scale in
  // place (multiplies by 1/scale as described above) and records, for this
  // optimizer, whether any of them held an inf or NaN. Disabled: nothing.
  // Throws loom::Error, in PyTorch's words, before touching any gradient:
  // "unscale_() has already been called on this optimizer since the last
  // update().", "unscale_() is being called after step().", "Attempting to
  // unscale FP16 gradients." (float16 gradients: keep fp32 master parameters),
  // and "Attempted unscale_ but _scale is None.  This may indicate your script
  // did not use scaler.scale(loss or outputs) earlier in the iteration.".
  void unscale_(Optimizer& optimizer);

  // unscale_(optimizer) unless already done since the last update(), then
  // optimizer.step() unless a gradient held an inf or NaN. Returns whether
  // optimizer.step() ran. Disabled: optimizer.step(), returns true. Throws
  // loom::Error "step() has already been called since the last update().",
  // "No inf checks were recorded for this optimizer." (no parameter has a
  // gradient) and unscale_'s errors.
  bool step(Optimizer& optimizer);

  // The end of an iteration: updates the scale from every optimizer's inf/NaN
  // record since the last update() (torch._amp_update_scale_, see
  // kernels/amp_scale.h) and forgets the records. Disabled: nothing. Throws
  // "No inf checks were recorded prior to update." when no step() or
  // unscale_() ran, and the "_scale is None" error before the first scale().
  void update();
  // Sets the scale to new_scale (growth tracker unchanged) and forgets the
  // records. new_scale must be finite and > 0 (loom's check).
  void update(double new_scale);
  // The same from a 1-element float32 tensor without requires_grad (any
  // device); otherwise PyTorch's "new_scale should be a float or a 1-element
  // torch.cuda.FloatTensor with requires_grad=False.".
  void update(const Tensor& new_scale);

  // The current scale (reads it from its device); init_scale before the first
  // scale(); 1.0 when disabled.
  double get_scale() const;
  // The scale tensor itself (float32 [1]); undefined before the first scale()
  // and when disabled.
  const Tensor& scale_tensor() const { return scale_; }
  // PyTorch's _get_growth_tracker(): consecutive finite steps since the last
  // growth or backoff; 0 when disabled.
  std::int64_t get_growth_tracker() const;
  double get_growth_factor() const { return growth_factor_; }
  double get_backoff_factor() const { return backoff_factor_; }
  std::int64_t get_growth_interval() const { return growth_interval_; }
  // The setters check as the constructor does (growth factor > 1, backoff
  // factor in (0, 1), growth interval >= 1) when enabled.
  void set_growth_factor(double new_factor);
  void set_backoff_factor(double new_factor);
  void set_growth_interval(std::int64_t new_interval);
  bool is_enabled() const { return enabled_; }

  // PyTorch's state_dict() as scalars "scale", "growth_factor",
  // "backoff_factor", "growth_interval", "_growth_tracker"; empty when
  // disabled. Reads the scale from its device.
  StateDict state_dict() const;
  // Restores a state_dict(). Disabled: nothing. Throws loom::Error, changing
  // nothing, for an empty dict ("The source state dict is empty, possibly
  // because it was saved from a disabled instance of GradScaler."), a missing
  // entry ("grad scaler state entry 'scale' is missing"), and invalid values
  // (the constructor's checks; growth_interval and _growth_tracker must be
  // integers, the tracker >= 0). Per-optimizer records are kept.
  void load_state_dict(const StateDict& dict);

 private:
  enum class Stage { kReady, kUnscaled, kStepped };
  struct OptimizerRecord {
    Stage stage = Stage::kReady;
    // One float32 [1] per device holding gradients: 1 when one had inf/NaN.
    std::vector<std::pair<Device, Tensor>> found_inf_per_device;
  };

  // Throws PyTorch's "Attempted <funcname> but _scale is None. ..." before the
  // first scale().
  void check_scale_exists(const char* funcname) const;
  OptimizerRecord& record_for(const Optimizer& optimizer);

  bool enabled_;
  double init_scale_;
  double growth_factor_;
  double backoff_factor_;
  std::int64_t growth_interval_;
  std::int64_t init_growth_tracker_ = 0;
  Tensor scale_;           // float32 [1], created by the first scale()
  Tensor growth_tracker_;  // int64 [1], beside scale_
  std::map<const Optimizer*, OptimizerRecord> records_;
};

}  // namespace loom::optim
