#include "autograd/node.h"

#include <atomic>

#include "autograd/anomaly_mode.h"
#include "autograd/functions.h"
#include "core/native.h"

namespace loom {

namespace {
std::atomic<std::uint64_t> g_next_sequence_nr{0};
thread_local bool g_grad_enabled = true;
// Version records of the tensors saved since the last make_node (this thread).
thread_local std::vector<SavedVersion> g_pending_saves;
}  // namespace

namespace detail {
void begin_recording() { g_pending_saves.clear(); }
}  // namespace detail

Node::Node() : sequence_nr(g_next_sequence_nr.fetch_add(1)) {
  if (autograd::is_anomaly_enabled()) anomaly = autograd::capture_anomaly_metadata();
}

// Letting next_edges go would destroy an input node that only this node owns,
// whose destructor would destroy its own inputs, and so on: one nested call per
// node of a chain, enough to overflow the stack for a long unrolled sequence.
// Instead (as PyTorch's deleteNode) the input nodes move to a local list; one
// that nothing else holds gives up its own inputs to the list before it is
// released, so its destructor finds no edges left and nothing nests.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  auto take_inputs = [&pending](Node& n) {
    for (Edge& e : n.next_edges)
      if (e.node) pending.push_back(std::move(e.node));
  };
  take_inputs(*this);
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    if (n.use_count() == 1) take_inputs(*n);
  }
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> v) : variable(std::move(v)) {
  input_meta.push_back({variable->shape, variable->dtype, variable->storage->device()});
  output_meta = input_meta;
}

std::vector<Tensor> AccumulateGrad::apply(const std::vector<Tensor>& grad_outputs) {
  const Tensor& g = grad_outputs[0];
  Tensor var(variable);
  Tensor current = var.grad();
  if (grad_enabled() && g.requires_grad()) {
    // backward(create_graph): .grad keeps the gradient's history, as PyTorch.
    var.set_grad(current.defined() ? add(current, g) : g);
    return {};
  }
  if (!current.defined()) {
    // Like PyTorch, take the incoming buffer itself when nothing else can see
    // it (this engine's buffer is its only owner and it views no other
    // tensor's storage); otherwise store a copy, so a later in-place update
    // of .grad (an optimizer's, accumulation) never reaches another tensor.
    const bool sole_owner = g.impl_ptr().use_count() == 1 &&
                            g.impl().storage.use_count() == 1 && g.is_contiguous() &&
                            !g.requires_grad() && g.impl().grad_fn == nullptr;
    var.set_grad(sole_owner ? g : native::clone(g));
  } else {
    var.set_grad(native::binary(native::BinaryOp::Add, current, g));
  }
  return {};
}

const char* grad_fn_name(const Node& node) { return node.name(); }

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool enabled) { g_grad_enabled = enabled; }

Edge gradient_edge(const Tensor& t) {
  if (!t.requires_grad()) return {};
  TensorImpl& impl = t.impl();
  if (const auto& fn = t.grad_fn()) return {fn, impl.output_nr};  // a view's, brought up to date
  auto acc = impl.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl.grad_accumulator = acc;
  }
  return {acc, 0};
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  return any_requires_grad(std::vector<Tensor>(inputs));
}

void set_history(Tensor& output, const std::shared_ptr<Node>& node, std::uint32_t output_nr) {
  TensorImpl& impl = output.impl();
  impl.grad_fn = node;
  impl.output_nr = output_nr;
  impl.requires_grad = true;
  if (node->output_meta.size() <= output_nr) node->output_meta.resize(output_nr + 1);
  node->output_meta[output_nr] = {output.shape(), output.dtype(), output.device()};
  for (SavedVersion& s : g_pending_saves) {
    node->saved_versions.push_back(std::move(s));
  }
  g_pending_saves.clear();
  // A saved output (e.g. exp's result) is "output k of" this node.
  for (SavedVersion& s : node->saved_versions) {
    if (s.source == &impl && s.producer.expired()) {
      s.producer = node;
      s.output_nr = output_nr;
    }
  }
}

void set_history(std::vector<Tensor>& outputs, const std::shared_ptr<Node>& node) {
  for (std::size_t i = 0; i < outputs.size(); ++i)
    set_history(outputs[i], node, static_cast<std::uint32_t>(i));
}

Tensor saved(const Tensor& t) {
  if (!t.defined()) return t;
  const TensorImpl& impl = t.impl();
  SavedVersion record;
  record.storage = impl.storage;
  record.version = impl.storage->version();
  record.shape = impl.shape;
  record.dtype = impl.dtype;
  record.device = impl.storage->device();
  record.producer = impl.grad_fn;
  record.output_nr = impl.output_nr;
  record.source = &impl;
  g_pending_saves.push_back(std::move(record));
  return make_view(t, t.shape(), t.strides(), t.storage_offset());
}

void check_saved_versions(const Node& node) {
  for (const SavedVersion& s : node.saved_versions) {
    auto storage = s.storage.lock();
    if (!storage || storage->version() == s.version) continue;
    std::string which;
    if (auto producer = s.producer.lock())
      which = fmt::format(", which is output {} of {},", s.output_nr, producer->name());
    const char* hint =
        autograd::is_anomaly_enabled()
            ? " Hint: the backtrace further above shows the operation that failed to compute its "
              "gradient. The variable in question was changed in there or anywhere later. Good luck!"
            : " Hint: enable anomaly detection to find the operation that failed to compute its "
              "gradient, with loom::autograd::set_detect_anomaly(true).";
    fail("one of the variables needed for gradient computation has been modified by an inplace "
         "operation: [torch.{}{}Tensor {}]{} is at version {}; expected version {} instead.{}",
         s.device.is_cuda() ? "cuda." : "", scalar_type_name(s.dtype), shape_str(s.shape), which,
         storage->version(), s.version, hint);
  }
}

}  // namespace loom
