// Learning-rate schedules: torch.optim.lr_scheduler's StepLR, ExponentialLR,
// CosineAnnealingLR (the recursive, chainable form that step() uses) and
// ReduceLROnPlateau, with PyTorch 1.13's numbers.
//
//   optim::SGD sgd(params, optim::SGDOptions(0.1));
//   optim::StepLR sched(sgd, /*step_size=*/30, /*gamma=*/0.1);
//   for (epoch...) { train(...); sgd.step(); sched.step(); }
//
// A scheduler writes each group's lr through OptimizerOptions::set_lr and
// keeps a reference to the optimizer, which must outlive it. Construction is
// PyTorch's "initial step" (last_epoch becomes 0, the lrs stay as they are);
// resuming with a last_epoch argument is not offered: restore a state_dict()
// instead. The state_dict names are PyTorch's attribute names: "last_epoch",
// "_step_count", "base_lrs.{g}", "_last_lr.{g}" and each option ("gamma", ...).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace loom::optim {

// The base of the epoch-driven schedules (PyTorch's _LRScheduler).
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and writes the new lr of every group.
  void step();
  // The lr of each group as set by the last step() (or construction).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  // The epochs stepped since construction (0 right after it).
  std::int64_t last_epoch() const { return last_epoch_; }

  // All scalars, named as at the top of this file.
  StateDict state_dict() const;
  // Restores a state_dict() of the same kind of schedule over an optimizer
  // with as many groups; does not touch the optimizer's lrs (PyTorch neither:
  // load the optimizer's own state_dict for those). Every entry is required:
  // throws loom::Error for a missing name ("LRScheduler.load_state_dict: schedule
  // state entry 'last_epoch' is missing"), an unknown one, or an epoch count or
  // period (step_size, T_max) that is not a whole number in range; on error
  // nothing is changed.
  void load_state_dict(const StateDict& dict);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // PyTorch's _initial_step(): call at the end of the derived constructor.
  void initial_step();
  // The lrs for last_epoch_ (already advanced), from the groups' current lrs
  // (the chainable form).
  virtual std::vector<double> get_lr() const = 0;
  // The schedule's own options by name, for state_dict.
  virtual std::vector<std::pair<std::string, double*>> option_fields() = 0;

  std::vector<double> group_lrs() const;

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;  // each group's lr at construction
  std::int64_t last_epoch_ = -1;
  std::int64_t step_count_ = 0;
  std::vector<double> last_lr_;
};

// lr *= gamma every step_size epochs.
class StepLR final : public LRScheduler {
 public:
  // step_size: period of decay (> 0); gamma: multiplicative factor (PyTorch's default 0.1).
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() const override;
  std::vector<std::pair<std::string, double*>> option_fields() override;

 private:
  double step_size_;  // an integer, stored as a double for state_dict
  double gamma_;
};

// lr *= gamma every epoch.
class ExponentialLR final : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr() const override;
  std::vector<std::pair<std::string, double*>> option_fields() override;

 private:
  double gamma_;
};

// Cosine annealing from each group's initial lr down to eta_min over T_max
// epochs and back up again (no restarts), in PyTorch's recursive form:
//   lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max))
// and lr_t = lr_{t-1} + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2 when
// (t - 1 - T_max) is a multiple of 2 T_max.
class CosineAnnealingLR final : public LRScheduler {
 public:
  // T_max: half period in epochs (> 0); eta_min: the minimum lr (default 0).
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0);

 protected:
  std::vector<double> get_lr() const override;
  std::vector<std::pair<std::string, double*>> option_fields() override;

 private:
  double T_max_;  // an integer, stored as a double for state_dict
  double eta_min_;
};

struct ReduceLROnPlateauOptions {
  std::string mode = "min";            // "min": the metric should fall; "max": rise
  double factor = 0.1;                 // new_lr = lr * factor (< 1)
  std::int64_t patience = 10;          // bad epochs tolerated before reducing
  double threshold = 1e-4;             // what counts as an improvement
  std::string threshold_mode = "rel";  // "rel": best * (1 -/+ threshold); "abs": best -/+ threshold
  std::int64_t cooldown = 0;           // epochs to wait after a reduction
  std::vector<double> min_lr = {0};    // lower bound: one value for all groups, or one per group
  double eps = 1e-8;                   // reductions smaller than eps are skipped
};

// Reduces every group's lr by `factor` when the metric has not improved for
// `patience` epochs (torch.optim.lr_scheduler.ReduceLROnPlateau).
class ReduceLROnPlateau {
 public:
  // Throws loom::Error in PyTorch's words: "Factor should be < 1.0.",
  // "expected 2 min_lrs, got 3", "mode foo is unknown!", "threshold mode foo is unknown!".
  explicit ReduceLROnPlateau(Optimizer& optimizer,
                             const ReduceLROnPlateauOptions& options = ReduceLROnPlateauOptions());

  // One epoch with this value of the monitored metric.
  void step(double metric);
  // Each group's lr after the last step (its lr at construction before any).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  // The current best metric, bad-epoch count and cooldown counter.
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  std::int64_t cooldown_counter() const { return cooldown_counter_; }

  // Scalars with PyTorch's attribute names: "factor", "patience", "threshold",
  // "cooldown", "eps", "min_lrs.{g}", "best", "num_bad_epochs",
  // "cooldown_counter", "last_epoch", "_last_lr.{g}", and "mode" (0 min, 1 max),
  // "threshold_mode" (0 rel, 1 abs) as numbers.
  StateDict state_dict() const;
  // Restores a state_dict() over an optimizer with as many groups; throws for
  // a missing name ("... schedule state entry 'best' is missing"), an unknown
  // one, or a count that is not a whole number >= 0 (nothing changed then).
  void load_state_dict(const StateDict& dict);

 private:
  bool is_better(double a, double best) const;

  Optimizer& optimizer_;
  bool mode_max_ = false;
  bool threshold_abs_ = false;
  double factor_;
  std::int64_t patience_;
  double threshold_;
  std::int64_t cooldown_;
  std::vector<double> min_lrs_;
  double eps_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace loom::optim
