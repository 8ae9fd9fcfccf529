// The backward engine: runs recorded nodes in reverse creation order.
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.h"

namespace loom::autograd {

// Computes the gradients of `roots` (each with upstream gradient `grads[i]`;
// an undefined entry means ones for a one-element root) with respect to every
// leaf that requires grad, accumulating into the leaves' .grad. Saved tensors
// are freed afterwards unless retain_graph; a second backward through a freed
// graph throws loom::Error.
// With create_graph, the backward functions run with grad mode on and record
// their own operations (and gradients arriving at one tensor are summed with
// the differentiable add), so the gradients are differentiable functions of
// the inputs, as torch's create_graph=True. retain_graph unset means
// create_graph, as PyTorch (the new graph reaches into the old one). As in
// PyTorch, backward with create_graph stores gradients with history in the
// leaves' .grad, a reference cycle (leaf -> .grad -> graph -> leaf) until
// .grad is reset; prefer grad(..., create_graph = true).
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false);

// The gradients of `outputs` with respect to `inputs` (like torch.autograd.grad),
// returned rather than accumulated into any .grad. An input the outputs do not
// depend on gets zeros of its shape. Empty grad_outputs means ones for
// one-element outputs. create_graph as for backward: the returned gradients
// carry history (double backward, gradient penalties); an input the outputs
// do not depend on still gets plain zeros.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs,
                         std::optional<bool> retain_graph = std::nullopt, bool create_graph = false);

}  // namespace loom::autograd
