// The backward engine: runs recorded nodes in reverse creation order.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace loom::autograd {

// Computes the gradients of `roots` (each with upstream gradient `grads[i]`;
// an undefined entry means ones for a one-element root) with respect to every
// leaf that requires grad, accumulating into the leaves' .grad. Saved tensors
// are freed afterwards unless retain_graph; a second backward through a freed
// graph throws loom::Error.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
              bool retain_graph = false);

// The gradients of `outputs` with respect to `inputs` (like torch.autograd.grad),
// returned rather than accumulated into any .grad. An input the outputs do not
// depend on gets zeros of its shape. Empty grad_outputs means ones for
// one-element outputs.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph = false);

}  // namespace loom::autograd
