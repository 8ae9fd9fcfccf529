#include "optim/lr_scheduler.h"

#include <cmath>
#include <numbers>

#include "optim/python_float.h"

namespace loom::optim {

namespace {

// Checks that `dict` holds exactly the scalar names of `expected` and no
// tensors; `what` names the scheduler in the message.
void check_same_names(const char* what, const StateDict& expected, const StateDict& dict) {
  LOOM_CHECK(dict.tensors.empty(), "{}.load_state_dict: unexpected tensor '{}'", what,
             dict.tensors.begin()->first);
  for (const auto& [name, v] : expected.scalars)
    LOOM_CHECK(dict.scalars.count(name), "{}.load_state_dict: schedule state entry '{}' is missing",
               what, name);
  for (const auto& [name, v] : dict.scalars)
    LOOM_CHECK(expected.scalars.count(name), "{}.load_state_dict: unexpected key '{}'", what, name);
}

// `value` (a state_dict scalar) as an integer >= `min`. Throws loom::Error
// unless it is a whole number within +-2^53: a damaged checkpoint can hold
// NaN, 1e300 or 0 where an epoch count or a period belongs, whose conversion
// is undefined or which would divide by zero later.
std::int64_t whole(const char* what, const std::string& name, double value, std::int64_t min) {
  LOOM_CHECK(std::isfinite(value) && value == std::floor(value) && std::abs(value) <= 0x1p53 &&
                 value >= static_cast<double>(min),
             "{}.load_state_dict: '{}' must be a whole number >= {}, got {}", what, name, min, value);
  return static_cast<std::int64_t>(value);
}

std::vector<double> lrs_of(const Optimizer& optimizer) {
  std::vector<double> out;
  for (const ParamGroup& g : optimizer.param_groups()) out.push_back(g.options->get_lr());
  return out;
}

}  // namespace

// ---- LRScheduler ------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer), base_lrs_(lrs_of(optimizer)) {}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

std::vector<double> LRScheduler::group_lrs() const { return lrs_of(optimizer_); }

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  std::vector<double> values = get_lr();
  auto& groups = optimizer_.param_groups();
  for (std::size_t g = 0; g < groups.size() && g < values.size(); ++g) groups[g].options->set_lr(values[g]);
  last_lr_ = lrs_of(optimizer_);
}

StateDict LRScheduler::state_dict() const {
  StateDict out;
  out.scalars["last_epoch"] = static_cast<double>(last_epoch_);
  out.scalars["_step_count"] = static_cast<double>(step_count_);
  for (std::size_t g = 0; g < base_lrs_.size(); ++g)
    out.scalars[fmt::format("base_lrs.{}", g)] = base_lrs_[g];
  for (std::size_t g = 0; g < last_lr_.size(); ++g)
    out.scalars[fmt::format("_last_lr.{}", g)] = last_lr_[g];
  for (const auto& [name, ptr] : const_cast<LRScheduler*>(this)->option_fields())
    out.scalars[name] = *ptr;
  return out;
}

void LRScheduler::load_state_dict(const StateDict& dict) {
  check_same_names("LRScheduler", state_dict(), dict);
  // Check everything before changing anything; the periods (StepLR's
  // step_size, CosineAnnealingLR's T_max) are whole numbers >= 1.
  const std::int64_t last_epoch = whole("LRScheduler", "last_epoch", dict.scalars.at("last_epoch"), -1);
  const std::int64_t step_count = whole("LRScheduler", "_step_count", dict.scalars.at("_step_count"), 0);
  for (const auto& [name, ptr] : option_fields())
    if (name == "step_size" || name == "T_max") whole("LRScheduler", name, dict.scalars.at(name), 1);
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g)
    base_lrs_[g] = dict.scalars.at(fmt::format("base_lrs.{}", g));
  for (std::size_t g = 0; g < last_lr_.size(); ++g)
    last_lr_[g] = dict.scalars.at(fmt::format("_last_lr.{}", g));
  for (const auto& [name, ptr] : option_fields()) *ptr = dict.scalars.at(name);
}

// ---- StepLR ---------------------------------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(static_cast<double>(step_size)), gamma_(gamma) {
  LOOM_CHECK(step_size > 0, "StepLR: expected step_size > 0, got {}", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() const {
  std::vector<double> lrs = group_lrs();
  const auto step_size = static_cast<std::int64_t>(step_size_);
  if (last_epoch_ == 0 || last_epoch_ % step_size != 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::vector<std::pair<std::string, double*>> StepLR::option_fields() {
  return {{"step_size", &step_size_}, {"gamma", &gamma_}};
}

// ---- ExponentialLR -------------------------------------------------------------------------

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() const {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::vector<std::pair<std::string, double*>> ExponentialLR::option_fields() {
  return {{"gamma", &gamma_}};
}

// ---- CosineAnnealingLR ---------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(static_cast<double>(T_max)), eta_min_(eta_min) {
  LOOM_CHECK(T_max > 0, "CosineAnnealingLR: expected T_max > 0, got {}", T_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() const {
  // PyTorch 1.13's get_lr, branch for branch, in Python's evaluation order.
  // (Its `_step_count == 1 and last_epoch > 0` branch needs a last_epoch
  // argument at construction, which loom does not offer.)
  constexpr double kPi = std::numbers::pi;
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  const auto T_max = static_cast<std::int64_t>(T_max_);
  const auto epoch = static_cast<double>(last_epoch_);
  if ((last_epoch_ - 1 - T_max) % (2 * T_max) == 0) {
    for (std::size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(kPi / T_max_)) / 2;
    return lrs;
  }
  for (double& lr : lrs)
    lr = (1 + std::cos(kPi * epoch / T_max_)) / (1 + std::cos(kPi * (epoch - 1) / T_max_)) *
             (lr - eta_min_) +
         eta_min_;
  return lrs;
}

std::vector<std::pair<std::string, double*>> CosineAnnealingLR::option_fields() {
  return {{"T_max", &T_max_}, {"eta_min", &eta_min_}};
}

// ---- ReduceLROnPlateau ---------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& o)
    : optimizer_(optimizer),
      factor_(o.factor),
      patience_(o.patience),
      threshold_(o.threshold),
      cooldown_(o.cooldown),
      eps_(o.eps) {
  // PyTorch's checks, in its order.
  LOOM_CHECK(o.factor < 1.0, "Factor should be < 1.0.");
  const std::size_t groups = optimizer.param_groups().size();
  if (o.min_lr.size() == 1) {
    min_lrs_.assign(groups, o.min_lr[0]);
  } else {
    LOOM_CHECK(o.min_lr.size() == groups, "expected {} min_lrs, got {}", groups, o.min_lr.size());
    min_lrs_ = o.min_lr;
  }
  LOOM_CHECK(o.mode == "min" || o.mode == "max", "mode {} is unknown!", o.mode);
  LOOM_CHECK(o.threshold_mode == "rel" || o.threshold_mode == "abs",
             "threshold mode {} is unknown!", o.threshold_mode);
  mode_max_ = o.mode == "max";
  threshold_abs_ = o.threshold_mode == "abs";
  // _reset(): best = mode_worse.
  best_ = mode_max_ ? -INFINITY : INFINITY;
  last_lr_ = lrs_of(optimizer);
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  if (!mode_max_ && !threshold_abs_) return a < best * (1. - threshold_);
  if (!mode_max_ && threshold_abs_) return a < best - threshold_;
  if (mode_max_ && !threshold_abs_) return a > best * (threshold_ + 1.);
  return a > best + threshold_;
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (cooldown_counter_ > 0) {  // in_cooldown
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // ignore any bad epochs in cooldown
  }
  if (num_bad_epochs_ > patience_) {
    auto& groups = optimizer_.param_groups();
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const double old_lr = groups[g].options->get_lr();
      const double new_lr = std::max(old_lr * factor_, min_lrs_[g]);
      if (old_lr - new_lr > eps_) groups[g].options->set_lr(new_lr);
    }
    cooldown_counter_ = cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_ = lrs_of(optimizer_);
}

StateDict ReduceLROnPlateau::state_dict() const {
  StateDict out;
  auto& s = out.scalars;
  s["mode"] = mode_max_ ? 1 : 0;
  s["threshold_mode"] = threshold_abs_ ? 1 : 0;
  s["factor"] = factor_;
  s["patience"] = static_cast<double>(patience_);
  s["threshold"] = threshold_;
  s["cooldown"] = static_cast<double>(cooldown_);
  s["eps"] = eps_;
  s["best"] = best_;
  s["num_bad_epochs"] = static_cast<double>(num_bad_epochs_);
  s["cooldown_counter"] = static_cast<double>(cooldown_counter_);
  s["last_epoch"] = static_cast<double>(last_epoch_);
  for (std::size_t g = 0; g < min_lrs_.size(); ++g) s[fmt::format("min_lrs.{}", g)] = min_lrs_[g];
  for (std::size_t g = 0; g < last_lr_.size(); ++g) s[fmt::format("_last_lr.{}", g)] = last_lr_[g];
  return out;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& dict) {
  check_same_names("ReduceLROnPlateau", state_dict(), dict);
  const auto& s = dict.scalars;
  const double factor = s.at("factor");
  LOOM_CHECK(factor < 1.0, "Factor should be < 1.0.");
  const char* what = "ReduceLROnPlateau";
  const std::int64_t patience = whole(what, "patience", s.at("patience"), 0);
  const std::int64_t cooldown = whole(what, "cooldown", s.at("cooldown"), 0);
  const std::int64_t num_bad_epochs = whole(what, "num_bad_epochs", s.at("num_bad_epochs"), 0);
  const std::int64_t cooldown_counter = whole(what, "cooldown_counter", s.at("cooldown_counter"), 0);
  const std::int64_t last_epoch = whole(what, "last_epoch", s.at("last_epoch"), -1);
  mode_max_ = s.at("mode") != 0;
  threshold_abs_ = s.at("threshold_mode") != 0;
  factor_ = factor;
  patience_ = patience;
  threshold_ = s.at("threshold");
  cooldown_ = cooldown;
  eps_ = s.at("eps");
  best_ = s.at("best");
  num_bad_epochs_ = num_bad_epochs;
  cooldown_counter_ = cooldown_counter;
  last_epoch_ = last_epoch;
  for (std::size_t g = 0; g < min_lrs_.size(); ++g) min_lrs_[g] = s.at(fmt::format("min_lrs.{}", g));
  for (std::size_t g = 0; g < last_lr_.size(); ++g) last_lr_[g] = s.at(fmt::format("_last_lr.{}", g));
}

}  // namespace loom::optim
