// The tape's building blocks: Node (one recorded operation that knows how to
// send gradients to its inputs), Edge, grad mode, and the helpers a
// differentiable function uses to record itself.
//
// A differentiable function computes its output with loom::native, then, if
// grad mode is on and an input requires grad, records a named node:
//
//   Tensor tanh(const Tensor& x) {
//     Tensor y = native::unary(UnaryOp::Tanh, x);
//     if (auto node = make_node<TanhBackward>({x})) {
//       node->y = saved(y);
//       set_history(y, node);
//     }
//     return y;
//   }
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace loom {

class Node;
namespace autograd {
struct AnomalyMetadata;
}

// Where a gradient goes: input `input_nr` of `node` (null: nowhere).
struct Edge {
  std::shared_ptr<Node> node;
  std::uint32_t input_nr = 0;
};

// Shape, dtype and device of a tensor, kept to check and zero-fill gradients.
struct TensorMeta {
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
};

// A tensor a node saved for backward, as autograd's version counter checks it:
// the storage's version when saved, and what the error message names (PyTorch's
// "[torch.FloatTensor [3]], which is output 0 of ExpBackward").
struct SavedVersion {
  std::weak_ptr<Storage> storage;
  std::uint64_t version = 0;
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
  std::weak_ptr<Node> producer;  // the saved tensor's grad_fn (null for a leaf)
  std::uint32_t output_nr = 0;
  const TensorImpl* source = nullptr;  // identity only (never dereferenced)
};

class Node {
 public:
  Node();
  // Releases the graph below without recursion (a chain of 10^6 nodes, an
  // unrolled sequence, is freed in constant stack depth).
  virtual ~Node();

  // Given the gradient of each output (never undefined: the engine fills zeros),
  // returns the gradient of each input, in next_edges order. An entry may be
  // undefined where the input needs no gradient.
  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) = 0;
  // The node's name as PyTorch spells it ("TanhBackward0" -> "TanhBackward").
  virtual const char* name() const = 0;
  // Frees saved tensors after a backward pass without retain_graph.
  virtual void release_saved() {}
  // True when apply(), run with grad mode on (a backward with create_graph),
  // records the exact derivative of its gradients: its formula uses
  // differentiable operations only, and every value it reads that depends on
  // a differentiated input carries that history. Saved tensors carry none
  // (saved()), so this holds for formulas linear in the incoming gradients
  // that read only constants, and for nodes that rebuild what they read (the
  // fused RNN nodes). The engine refuses create_graph through any other node
  // with a loom::Error rather than return a wrong second derivative.
  virtual bool double_backward_ok() const { return false; }

  std::vector<Edge> next_edges;       // one per input
  std::vector<TensorMeta> input_meta;   // shape/dtype/device of each input
  std::vector<TensorMeta> output_meta;  // of each output
  std::uint64_t sequence_nr;          // creation order: later nodes run first
  bool released = false;              // saved tensors freed by an earlier backward
  // Non-leaf outputs whose .grad is kept (retain_grad): output index -> tensor.
  std::vector<std::pair<std::uint32_t, std::weak_ptr<TensorImpl>>> retained;
  // The tensors saved by saved() while this node was recorded, with their
  // versions; the engine refuses to run the node when one has moved
  // (check_saved_versions).
  std::vector<SavedVersion> saved_versions;
  // Where the node was created: set only while anomaly mode is on
  // (autograd/anomaly_mode.h), else null.
  std::shared_ptr<const autograd::AnomalyMetadata> anomaly;
};

// Accumulates the incoming gradient into a leaf's .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> variable);
  std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override;
  const char* name() const override { return "AccumulateGrad"; }
  bool double_backward_ok() const override { return true; }
  std::shared_ptr<TensorImpl> variable;
};

// ---- grad mode ------------------------------------------------------------------
// True when operations record the tape (the default); per thread.
bool grad_enabled();
void set_grad_enabled(bool enabled);

// Disables recording for its scope, like torch::NoGradGuard.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Sets grad mode to `enabled` for its scope, like torch::AutoGradMode (the
// engine turns recording on this way for create_graph).
class AutoGradMode {
 public:
  explicit AutoGradMode(bool enabled) : previous_(grad_enabled()) { set_grad_enabled(enabled); }
  ~AutoGradMode() { set_grad_enabled(previous_); }
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;

 private:
  bool previous_;
};

// ---- recording helpers -------------------------------------------------------------
// The edge a gradient for `t` must follow (null node when t needs no gradient).
Edge gradient_edge(const Tensor& t);
// True when grad mode is on and any defined input requires grad.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// A new node of type N wired to `inputs` when recording is needed, else null.
namespace detail {
// Forgets tensors saved since the last node was recorded (make_node calls it:
// what saved() registers next belongs to the new node).
void begin_recording();
}  // namespace detail

template <typename N>
std::shared_ptr<N> make_node(const std::vector<Tensor>& inputs) {
  if (!any_requires_grad(inputs)) return nullptr;
  detail::begin_recording();
  // Edges first: a leaf's AccumulateGrad, made on demand here, must be older
  // (lower sequence_nr) than every node that feeds it, or the engine would run
  // it before all its gradients have arrived.
  std::vector<Edge> edges;
  std::vector<TensorMeta> meta;
  for (const Tensor& t : inputs) {
    edges.push_back(t.defined() ? gradient_edge(t) : Edge{});
    meta.push_back(t.defined() ? TensorMeta{t.shape(), t.dtype(), t.device()} : TensorMeta{});
  }
  auto node = std::make_shared<N>();
  node->next_edges = std::move(edges);
  node->input_meta = std::move(meta);
  return node;
}
template <typename N>
std::shared_ptr<N> make_node(std::initializer_list<Tensor> inputs) {
  return make_node<N>(std::vector<Tensor>(inputs));
}

// Makes `node` the producer of `output` (its output number `output_nr`), and
// gives it the version records of the tensors saved() since make_node.
void set_history(Tensor& output, const std::shared_ptr<Node>& node, std::uint32_t output_nr = 0);
// Makes `node` the producer of each of `outputs`, numbered in order.
void set_history(std::vector<Tensor>& outputs, const std::shared_ptr<Node>& node);

// A handle to t's data without its history, for a node to keep (saving the
// tensor itself would make output -> node -> output a reference cycle).
// Records t's storage version for the node being recorded (the next
// set_history), so that an in-place change before backward is an error.
Tensor saved(const Tensor& t);

// Throws PyTorch's error when a tensor `node` saved has been modified in place
// since ("one of the variables needed for gradient computation has been
// modified by an inplace operation: [torch.FloatTensor [3]], which is output 0
// of ExpBackward, is at version 1; expected version 0 instead. Hint: ...").
void check_saved_versions(const Node& node);

}  // namespace loom
