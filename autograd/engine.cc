// The whole backward algorithm.
//
// A tape is a topological order for free: a node's inputs always existed
// before it, so a node is created after every node it sends gradients to.
// Running nodes from the highest sequence number down therefore reaches each
// node only after every consumer has contributed to its gradient. Per node we
// sum the incoming gradients, check their shapes against what the node
// recorded, call apply(), in anomaly mode check that no result holds NaN/inf
// (autograd/anomaly_mode.h), and route each result along the node's edges.
#include "autograd/engine.h"

#include <map>
#include <queue>
#include <unordered_map>

#include "autograd/anomaly_mode.h"
#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"

namespace loom::autograd {

namespace {

struct LaterFirst {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr < b->sequence_nr; }
};

void check_grad(const Tensor& g, const TensorMeta& meta, const Node& node, std::size_t i) {
  LOOM_CHECK(g.shape() == meta.shape,
             "Function {} returned an invalid gradient at index {} - got {} but expected shape "
             "compatible with {}",
             node.name(), i, shape_str(g.shape()), shape_str(meta.shape));
  LOOM_CHECK(g.dtype() == meta.dtype && g.device() == meta.device,
             "Function {} returned a gradient of dtype {} on {} at index {}; expected {} on {}",
             node.name(), g.dtype(), g.device(), i, meta.dtype, meta.device);
}

// Runs the graph below `roots`. When `capture` is non-empty, gradients reaching
// those edges are stored there instead of being accumulated into leaves.
// create_graph: backward functions record (grad mode on) and incoming
// gradients are summed with the differentiable add.
void run(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
         bool create_graph, const std::vector<Edge>& capture_edges, std::vector<Tensor>* captured) {
  LOOM_CHECK(roots.size() == grads.size(), "backward: {} tensors but {} gradients", roots.size(),
             grads.size());
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::unordered_map<Node*, std::shared_ptr<Node>> keep_alive;
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;

  auto deliver = [&](const Edge& edge, const Tensor& g) {
    if (!edge.node || !g.defined()) return;
    Node* n = edge.node.get();
    auto [it, inserted] = buffers.try_emplace(n);
    if (inserted) {
      keep_alive[n] = edge.node;
      it->second.resize(std::max<std::size_t>(n->output_meta.size(), edge.input_nr + 1));
      ready.push(n);
    }
    Tensor& slot = it->second[edge.input_nr];
    if (!slot.defined()) slot = g;
    else if (create_graph) slot = add(slot, g);  // recorded when grad mode is on
    else slot = native::binary(native::BinaryOp::Add, slot, g);
  };

  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    LOOM_CHECK(root.requires_grad(),
               "element {} of tensors does not require grad and does not have a grad_fn", i);
    Tensor g = grads[i];
    if (!g.defined()) {
      LOOM_CHECK(root.numel() == 1, "grad can be implicitly created only for scalar outputs "
                 "(got a tensor of shape {})", shape_str(root.shape()));
      g = native::ones_like(root);
    }
    LOOM_CHECK(g.shape() == root.shape(),
               "Mismatch in shape: grad_output[{}] has a shape of {} and output[{}] has a shape of {}.",
               i, shape_str(g.shape()), i, shape_str(root.shape()));
    deliver(gradient_edge(root), native::to(native::to(g, root.dtype()), root.device()));
  }

  AutoGradMode grad_mode(create_graph);
  // Backward functions run in the dtypes forward chose, also when backward is
  // called inside an autocast region.
  autocast no_autocast(kBFloat16, false);
  const bool detect_anomaly = is_anomaly_enabled();  // read once: free when off
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    std::vector<Tensor> inputs = std::move(buffers[node]);

    // A captured edge (autograd::grad): keep the gradient reaching it.
    for (std::size_t c = 0; c < capture_edges.size(); ++c) {
      const Edge& e = capture_edges[c];
      if (e.node.get() == node && e.input_nr < inputs.size() && inputs[e.input_nr].defined())
        (*captured)[c] = inputs[e.input_nr];
    }
    // autograd::grad returns gradients and leaves every .grad untouched.
    if (captured != nullptr && dynamic_cast<AccumulateGrad*>(node)) continue;

    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const TensorMeta& meta = node->output_meta[i];
      if (!inputs[i].defined()) inputs[i] = native::zeros(meta.shape, TensorOptions(meta.dtype).device(meta.device));
      else check_grad(inputs[i], meta, *node, i);
    }
    for (auto& [nr, weak] : node->retained) {
      if (auto impl = weak.lock()) {
        Tensor t(impl);
        Tensor current = t.grad();
        t.set_grad(current.defined() ? native::binary(native::BinaryOp::Add, current, inputs[nr])
                                     : native::clone(inputs[nr]));
      }
    }
    LOOM_CHECK(!node->released,
               "Trying to backward through the graph a second time (or directly access saved "
               "tensors after they have already been freed). Specify retain_graph=true if you need "
               "to backward through the graph a second time. (node {})",
               node->name());
    LOOM_CHECK(!create_graph || node->double_backward_ok(),
               "double backward (create_graph) through {} is not supported: its backward is not "
               "itself differentiable in loom (saved tensors carry no history). Supported: nn::RNN/"
               "LSTM/GRU, views, cat/stack, add/sub, sum/mean, dropout, embedding/index_select/"
               "gather, neg, add/sub/mul/div by a scalar, and mul/div by a tensor that does not "
               "require grad",
               node->name());
    check_saved_versions(*node);  // an in-place change since: PyTorch's error, not a wrong gradient
    std::vector<Tensor> outputs = node->apply(inputs);
    if (!retain_graph && !dynamic_cast<AccumulateGrad*>(node)) {
      node->release_saved();
      node->released = true;
    }
    LOOM_CHECK(outputs.size() == node->next_edges.size() || dynamic_cast<AccumulateGrad*>(node),
               "Function {} returned {} gradients, expected {}", node->name(), outputs.size(),
               node->next_edges.size());
    if (detect_anomaly) check_gradients_finite(*node, outputs);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (!outputs[i].defined() || !node->next_edges[i].node) continue;
      check_grad(outputs[i], node->input_meta[i], *node, i);
      deliver(node->next_edges[i], outputs[i]);
    }
  }
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
              std::optional<bool> retain_graph, bool create_graph) {
  run(roots, grads, retain_graph.value_or(create_graph), create_graph, {}, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs,
                         std::optional<bool> retain_graph, bool create_graph) {
  std::vector<Edge> edges;
  for (const Tensor& t : inputs) {
    LOOM_CHECK(t.requires_grad(), "One of the differentiated Tensors does not require grad");
    edges.push_back(gradient_edge(t));
  }
  std::vector<Tensor> captured(inputs.size());
  std::vector<Tensor> g = grad_outputs;
  if (g.empty()) g.resize(outputs.size());
  run(outputs, g, retain_graph.value_or(create_graph), create_graph, edges, &captured);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!captured[i].defined()) captured[i] = native::zeros_like(inputs[i]);
  return captured;
}

}  // namespace loom::autograd
