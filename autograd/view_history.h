// How a differentiable view's autograd history follows its base (PyTorch's
// view tracking and CopySlices).
//
// Every view op (select, slice/narrow, transpose, permute, view, unsqueeze,
// squeeze, expand, and the split family) records on its output a ViewInfo:
// the root base (a tensor that is not itself a differentiable view) and a
// replay, the chain of view ops that turns the base into this view. Then:
//
// - An in-place op on a view that must be recorded rewrites the BASE's
//   history: the base's new grad_fn is a CopySlices node whose backward passes
//   the incoming gradient through to the base's old history, except for the
//   view's elements, whose gradient goes to the in-place op's result (and from
//   there to the view's old values and the op's other operands).
// - A view's grad_fn is regenerated lazily, by replaying the view ops on the
//   base, whenever the shared version counter (the storage's) has moved since
//   it was made: so later uses of the base and of every view of it
//   differentiate through the in-place changes.
// - PyTorch's refusals are kept: a view of a leaf that requires grad, outputs
//   of a multiple-output view op (split, split_with_sizes, chunk), and views
//   made in no-grad mode cannot be modified in place when the op must be
//   recorded (nor used after their base was).
//
// detach() and the handles saved() keeps are not differentiable views: they
// share storage (and so the version counter) but carry no ViewInfo.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace loom {

// One view op of a replay chain, applied after its parent's (null: the base).
struct ViewReplayStep {
  std::function<Tensor(const Tensor&)> apply;
  std::shared_ptr<const ViewReplayStep> parent;
};

// How a view was made, as PyTorch's CreationMeta (it decides what in-place
// ops on it are allowed).
enum class ViewCreation : std::uint8_t {
  Default,      // by a single-output view op with grad mode on
  MultiOutput,  // an output of split/split_with_sizes/chunk (or a view of one)
  NoGrad,       // made while grad mode was off (or a view of such a view)
};

// The differentiable-view record of a TensorImpl (TensorImpl::view).
struct ViewInfo {
  std::shared_ptr<TensorImpl> base;               // root base: never a differentiable view
  std::shared_ptr<const ViewReplayStep> replay;   // base -> this view
  ViewCreation creation = ViewCreation::Default;
  // For a direct output of a multiple-output op: its name and output index,
  // for PyTorch's error text ("Output 1 of SplitBackward is a view ...").
  const char* multi_output_name = nullptr;
  std::uint32_t multi_output_index = 0;
  // The storage version when this view's grad_fn was last made; a different
  // version means the base or another view may have a new history.
  std::uint64_t history_version = 0;
};

// Makes `view` (sharing storage with `of`) a differentiable view of `of`:
// its ViewInfo names of's root base and appends `step` (which must produce a
// tensor of view's geometry from one of of's geometry) to of's replay. The
// creation mode is NoGrad when grad mode is off, else inherited from `of`
// (Default for a root). Call before recording view's history.
void make_differentiable_view(const Tensor& view, const Tensor& of,
                              std::function<Tensor(const Tensor&)> step);

// Marks the pieces of a multiple-output view op (PyTorch's MULTI_OUTPUT_NODE):
// with grad mode on each piece becomes MultiOutput, named `name` with its
// index; pieces made in no-grad mode stay NoGrad.
void mark_multi_output_views(const std::vector<Tensor>& pieces, const char* name);

// True when t is a differentiable view (has a ViewInfo).
bool is_differentiable_view(const Tensor& t);

// Applies a view's replay chain to `base_like` (a tensor of the base's shape).
// Uses loom's view functions, so it records when grad mode is on.
Tensor replay_view(const ViewReplayStep& replay, const Tensor& base_like);

// Brings a view's grad_fn up to date with its base (see above); throws
// PyTorch's error when the view may not follow its base's in-place change
// (multiple-output or no-grad views). A no-op for other tensors.
void refresh_view_history(TensorImpl& impl);

// Throws PyTorch's error when `view` may not be modified by an in-place op
// that must be recorded: a multiple-output or no-grad view ("Output 0 of
// SplitBackward is a view and is being modified inplace. ..."), or a view of
// a leaf that requires grad ("a view of a leaf Variable that requires grad is
// being used in an in-place operation.").
void check_view_inplace_allowed(const Tensor& view);

// After an in-place op wrote `result` (view's shape and dtype, with history)
// into the differentiable view `view`: gives view's base a CopySlices node as
// its new grad_fn, with edges to the base's old history and to result.
void rebase_history_of_base(const Tensor& view, const Tensor& result);

}  // namespace loom
