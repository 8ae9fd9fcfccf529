// nn::Conv1d: 1-D cross-correlation over (N, C_in, L) or unbatched (C_in, L)
// input, as torch.nn.Conv1d with padding_mode "zeros":
//
//   out[n, o, l] = bias[o] + sum_{c in o's group, j < K}
//                  weight[o, c, j] * x_padded[n, c, l * stride + j * dilation]
//
// weight has shape (C_out, C_in / groups, K); bias (C_out). L_out =
// (L + 2 padding - dilation (K - 1) - 1) / stride + 1. Composed from
// differentiable ops (zero padding, strided slices stacked into columns, one
// batched matmul per group), so it runs on every device those ops take.
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom {

// conv1d(input, weight, bias, stride, padding, dilation, groups), as
// torch.nn.functional.conv1d (bias may be undefined). Throws loom::Error
// (PyTorch's words) for a non-positive stride or dilation, a negative
// padding, an input that is not 2-D or 3-D, a channel count that does not
// match the weight, a kernel larger than the padded input, or operands of
// different dtypes.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t dilation = 1,
              std::int64_t groups = 1);

}  // namespace loom

namespace loom::nn {

// Options of Conv1d, with PyTorch's defaults:
//   Conv1d conv(Conv1dOptions(16, 32, 3).stride(2).padding(1).bias(false));
struct Conv1dOptions {
  Conv1dOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}

  std::int64_t in_channels_;
  std::int64_t out_channels_;
  std::int64_t kernel_size_;
  std::int64_t stride_ = 1;
  std::int64_t padding_ = 0;   // zeros on both sides
  std::int64_t dilation_ = 1;
  std::int64_t groups_ = 1;
  bool bias_ = true;

  Conv1dOptions& stride(std::int64_t v) { stride_ = v; return *this; }
  Conv1dOptions& padding(std::int64_t v) { padding_ = v; return *this; }
  Conv1dOptions& dilation(std::int64_t v) { dilation_ = v; return *this; }
  Conv1dOptions& groups(std::int64_t v) { groups_ = v; return *this; }
  Conv1dOptions& bias(bool v) { bias_ = v; return *this; }
};

class Conv1dImpl : public Module {
 public:
  // Throws loom::Error (PyTorch's words) for invalid options: non-positive
  // groups, channels not divisible by groups, and the checks of conv1d.
  explicit Conv1dImpl(Conv1dOptions options);
  Conv1dImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
      : Conv1dImpl(Conv1dOptions(in_channels, out_channels, kernel_size)) {}

  Tensor forward(const Tensor& input) const;
  // weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in =
  // in_channels / groups * kernel_size (PyTorch's kaiming_uniform_(a=sqrt(5))).
  void reset_parameters();

  const Conv1dOptions& options() const { return options_; }
  std::string type() const override { return "Conv1d"; }
  // "3, 4, kernel_size=(2,), stride=(1,)" plus padding, dilation, groups and
  // bias=False where they differ from the defaults, as PyTorch.
  std::string extra_repr() const override;

  Tensor weight;  // (out_channels, in_channels / groups, kernel_size)
  Tensor bias;    // (out_channels); undefined without bias

 private:
  Conv1dOptions options_;
};

// The holders (libtorch's TORCH_MODULE): nn::Conv1d m(opts); m->forward(x).
LOOM_MODULE(Conv1d);

}  // namespace loom::nn
