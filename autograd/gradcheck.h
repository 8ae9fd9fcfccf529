// gradcheck: compares the tape's gradients with central finite differences.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace loom {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  std::uint64_t seed = 1234;  // for the random upstream gradient
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;  // worst |analytic - numeric| over every input element
  std::string message;       // what failed and where; empty when ok
};

// For f mapping `inputs` to a tensor (or several: their outputs are all
// checked), draws a random upstream gradient v (uniform in [-1, 1], never all
// ones), and compares, for every element x_i of every input that requires
// grad, the analytic d(sum(v * f))/dx_i from backward with the central
// difference (g(x_i + eps) - g(x_i - eps)) / (2 eps). Inputs should be float64
// on any device. Inputs are restored after perturbation.
GradcheckResult gradcheck(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

// Single-output convenience form.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

// Second-order check, as torch.autograd.gradgradcheck: draws random upstream
// gradients v (uniform in [-1, 1], float64, requiring grad) for f's outputs
// and runs gradcheck on the first-order gradients
//   (inputs, v) -> autograd::grad(f(inputs), inputs, v, create_graph = true),
// so the gradients of the gradients with respect to the inputs and to v are
// compared with central differences of the first-order gradients. Fails
// (ok false, a message) where no input requires grad. Inputs as gradcheck.
GradcheckResult gradgradcheck(
    const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f,
    const std::vector<Tensor>& inputs, GradcheckOptions options = {});

// Single-output convenience form.
GradcheckResult gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                              const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace loom
