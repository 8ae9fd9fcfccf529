#include "autograd/view_history.h"

#include <string>

#include "autograd/node.h"
#include "core/native.h"

namespace loom {

namespace {

// Turns grad mode on for its scope (a view's history is regenerated the same
// way whatever mode the access happens in).
class GradModeOn {
 public:
  GradModeOn() : previous_(grad_enabled()) { set_grad_enabled(true); }
  ~GradModeOn() { set_grad_enabled(previous_); }
  GradModeOn(const GradModeOn&) = delete;
  GradModeOn& operator=(const GradModeOn&) = delete;

 private:
  bool previous_;
};

// The base's history after an in-place op on one of its views. Inputs: 0 the
// base's old values (its old history), 1 the op's result written into the
// view. Backward: the view's elements of the gradient go to the result, the
// others pass through to the old base (whose view elements were overwritten;
// their gradient reaches the old base only through the result's own history,
// e.g. mul_'s gradient to the view's old values).
struct CopySlices final : Node {
  std::shared_ptr<const ViewReplayStep> replay;  // base -> the modified view
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    Tensor grad_base = native::clone(g[0]);  // a fresh contiguous buffer of the base's shape
    Tensor slot = replay_view(*replay, grad_base);
    Tensor grad_result = native::clone(slot);
    native::fill_(slot, 0);
    return {next_edges[0].node ? grad_base : Tensor(), grad_result};
  }
  const char* name() const override { return "CopySlices"; }
};

// PyTorch's handle_view_on_rebase: multiple-output and no-grad views may not
// take part in a recorded in-place change (`indirect`: their base or another
// view of it was changed).
void check_view_creation(const TensorImpl& impl, bool indirect) {
  const ViewInfo& v = *impl.view;
  if (v.creation == ViewCreation::Default) return;
  const char* modified = indirect ? "its base or another view of its base has been" : "is being";
  std::string msg;
  if (impl.grad_fn) {
    if (v.multi_output_name)
      msg = fmt::format("Output {} of {} is a view and {} modified inplace.", v.multi_output_index,
                        v.multi_output_name, modified);
    else
      msg = fmt::format("Output {} of {} is a view and {} modified inplace.", impl.output_nr,
                        impl.grad_fn->name(), modified);
  } else {
    msg = fmt::format("A view was created in no_grad mode and {} modified inplace with grad mode "
                      "enabled.",
                      modified);
  }
  if (v.creation == ViewCreation::MultiOutput)
    msg += " This view is the output of a function that returns multiple views. Such functions do "
           "not allow the output views to be modified inplace. You should replace the inplace "
           "operation by an out-of-place one.";
  else
    msg += " Given that this use case is ambiguous and error-prone, it is forbidden. You can "
           "clarify your code by moving both the view and the inplace either both inside the "
           "no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
           "want the inplace to be tracked).";
  fail("{}", msg);
}

}  // namespace

void make_differentiable_view(const Tensor& view, const Tensor& of,
                              std::function<Tensor(const Tensor&)> step) {
  auto info = std::make_shared<ViewInfo>();
  auto replay = std::make_shared<ViewReplayStep>();
  replay->apply = std::move(step);
  const ViewInfo* parent = of.impl().view.get();
  ViewCreation creation = grad_enabled() ? ViewCreation::Default : ViewCreation::NoGrad;
  if (parent) {
    info->base = parent->base;
    replay->parent = parent->replay;
    if (parent->creation != ViewCreation::Default) creation = parent->creation;
  } else {
    info->base = of.impl_ptr();
  }
  info->replay = std::move(replay);
  info->creation = creation;
  info->history_version = view.impl().storage->version();
  view.impl().view = std::move(info);
}

void mark_multi_output_views(const std::vector<Tensor>& pieces, const char* name) {
  if (!grad_enabled()) return;  // no-grad pieces stay NoGrad
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    ViewInfo* v = pieces[i].impl().view.get();
    if (!v || v->creation == ViewCreation::NoGrad) continue;
    v->creation = ViewCreation::MultiOutput;
    v->multi_output_name = name;
    v->multi_output_index = static_cast<std::uint32_t>(i);
  }
}

bool is_differentiable_view(const Tensor& t) { return t.defined() && t.impl().view != nullptr; }

Tensor replay_view(const ViewReplayStep& replay, const Tensor& base_like) {
  std::vector<const ViewReplayStep*> chain;
  for (const ViewReplayStep* s = &replay; s != nullptr; s = s->parent.get()) chain.push_back(s);
  Tensor t = base_like;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) t = (*it)->apply(t);
  return t;
}

void refresh_view_history(TensorImpl& impl) {
  if (!impl.view) return;
  ViewInfo& v = *impl.view;
  if (!impl.grad_fn && !v.base->requires_grad) return;  // nothing to follow
  const std::uint64_t now = impl.storage->version();
  if (v.history_version == now) return;
  check_view_creation(impl, /*indirect=*/true);
  Tensor replayed;
  {
    GradModeOn grad_on;
    replayed = replay_view(*v.replay, Tensor(v.base));
  }
  impl.grad_fn = replayed.impl().grad_fn;
  impl.output_nr = replayed.impl().output_nr;
  impl.requires_grad = replayed.impl().requires_grad;
  v.history_version = now;
}

void check_view_inplace_allowed(const Tensor& view) {
  const TensorImpl& impl = view.impl();
  if (!impl.view) return;
  check_view_creation(impl, /*indirect=*/false);
  LOOM_CHECK(!(view.requires_grad() && impl.view->base->grad_fn == nullptr),
             "a view of a leaf Variable that requires grad is being used in an in-place operation.");
}

void rebase_history_of_base(const Tensor& view, const Tensor& result) {
  const ViewInfo& v = *view.impl().view;
  Tensor base(v.base);
  auto node = make_node<CopySlices>({base, result});
  LOOM_CHECK(node != nullptr, "internal error: an in-place op on a view recorded no history");
  node->replay = v.replay;
  set_history(base, node);
  base.impl().grad_accumulator.reset();
}

// ---- Tensor's autograd accessors (declared in core/tensor.h) ----------------------

bool Tensor::requires_grad() const {
  if (!defined()) return false;
  const TensorImpl& i = impl();
  return i.requires_grad || (i.view && i.view->base->requires_grad);
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  refresh_view_history(impl());
  return impl().grad_fn;
}

bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

}  // namespace loom
