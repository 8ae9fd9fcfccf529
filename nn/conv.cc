#include "nn/conv.h"

#include <cmath>
#include <vector>

#include "autograd/functions.h"
#include "nn/init.h"

namespace loom {

namespace {
void check_geometry(std::int64_t stride, std::int64_t padding, std::int64_t dilation) {
  LOOM_CHECK(stride > 0, "non-positive stride is not supported");
  LOOM_CHECK(padding >= 0, "negative padding is not supported");
  LOOM_CHECK(dilation > 0, "dilation should be greater than zero, but got [{}]", dilation);
}
}  // namespace

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::int64_t stride,
              std::int64_t padding, std::int64_t dilation, std::int64_t groups) {
  check_geometry(stride, padding, dilation);
  LOOM_CHECK(groups > 0, "non-positive groups is not supported");
  LOOM_CHECK(input.defined() && weight.defined(), "conv1d: input and weight must be defined tensors");
  LOOM_CHECK(input.dim() == 2 || input.dim() == 3,
             "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: {}",
             shape_str(input.shape()));
  LOOM_CHECK(weight.dim() == 3, "conv1d: expected a 3-D weight (out_channels, in_channels / groups, "
             "kernel_size), got size {}", shape_str(weight.shape()));
  const std::int64_t O = weight.size(0), Cg = weight.size(1), K = weight.size(2);
  LOOM_CHECK(K > 0, "kernel size should be greater than zero, but got kernel_width: {}", K);
  LOOM_CHECK(O % groups == 0, "Given groups={}, expected weight to be divisible by {} at dimension "
             "0, but got weight of size {} instead", groups, groups, shape_str(weight.shape()));
  const bool batched = input.dim() == 3;
  Tensor x = batched ? input : unsqueeze(input, 0);
  const std::int64_t N = x.size(0), C = x.size(1), L = x.size(2);
  LOOM_CHECK(C == Cg * groups, "Given groups={}, weight of size {}, expected input{} to have {} "
             "channels, but got {} channels instead",
             groups, shape_str(weight.shape()), shape_str(x.shape()), Cg * groups, C);
  LOOM_CHECK(input.dtype() == weight.dtype() && (!bias.defined() || bias.dtype() == weight.dtype()),
             "expected scalar type {} but found {}", scalar_type_name(input.dtype()),
             scalar_type_name(input.dtype() == weight.dtype() ? bias.dtype() : weight.dtype()));
  LOOM_CHECK(!bias.defined() || bias.shape() == Shape{O},
             "conv1d: expected bias of size [{}], got {}", O, shape_str(bias.shape()));
  const std::int64_t Lp = L + 2 * padding, span = dilation * (K - 1) + 1;
  LOOM_CHECK(Lp >= span, "Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel "
             "size can't be greater than actual input size", Lp, span);
  const std::int64_t L_out = (Lp - span) / stride + 1;

  if (padding > 0) {
    Tensor pad = zeros({N, C, padding}, TensorOptions(x.dtype()).device(x.device()));
    x = cat({pad, x, pad}, 2);
  }
  // Columns [N, C, K, L_out]: tap j reads x[..., j * dilation + l * stride].
  std::vector<Tensor> taps;
  for (std::int64_t j = 0; j < K; ++j)
    taps.push_back(slice(x, 2, j * dilation, j * dilation + (L_out - 1) * stride + 1, stride));
  Tensor cols = reshape(stack(taps, 2), {N, groups, Cg * K, L_out});
  Tensor w = reshape(weight, {groups, O / groups, Cg * K});
  Tensor out = reshape(matmul(w, cols), {N, O, L_out});  // [N, G, O/G, L_out]
  if (bias.defined()) out = out + reshape(bias, {O, 1});
  return batched ? out : squeeze(out, 0);
}

}  // namespace loom

namespace loom::nn {



Conv1dImpl::Conv1dImpl(Conv1dOptions options) : options_(options) {
  const Conv1dOptions& o = options_;
  LOOM_CHECK(o.groups_ > 0, "groups must be a positive integer");
  LOOM_CHECK(o.in_channels_ > 0 && o.out_channels_ > 0,
             "Conv1d: in_channels and out_channels must be positive, got {} and {}", o.in_channels_,
             o.out_channels_);
  LOOM_CHECK(o.in_channels_ % o.groups_ == 0, "in_channels must be divisible by groups");
  LOOM_CHECK(o.out_channels_ % o.groups_ == 0, "out_channels must be divisible by groups");
  LOOM_CHECK(o.kernel_size_ > 0, "kernel size should be greater than zero, but got kernel_width: {}",
             o.kernel_size_);
  check_geometry(o.stride_, o.padding_, o.dilation_);
  weight = register_parameter("weight", empty({o.out_channels_, o.in_channels_ / o.groups_, o.kernel_size_}));
  bias = register_parameter("bias", o.bias_ ? empty({o.out_channels_}) : Tensor());
  reset_parameters();
}

void Conv1dImpl::reset_parameters() {
  const double fan_in = static_cast<double>(options_.in_channels_ / options_.groups_ * options_.kernel_size_);
  const double bound = 1.0 / std::sqrt(fan_in);
  init::uniform_(weight, -bound, bound);
  if (bias.defined()) init::uniform_(bias, -bound, bound);
}

Tensor Conv1dImpl::forward(const Tensor& input) const {
  const Conv1dOptions& o = options_;
  return conv1d(input, weight, bias, o.stride_, o.padding_, o.dilation_, o.groups_);
}

std::string Conv1dImpl::extra_repr() const {
  const Conv1dOptions& o = options_;
  std::string s = fmt::format("{}, {}, kernel_size=({},), stride=({},)", o.in_channels_, o.out_channels_,
                              o.kernel_size_, o.stride_);
  if (o.padding_ != 0) s += fmt::format(", padding=({},)", o.padding_);
  if (o.dilation_ != 1) s += fmt::format(", dilation=({},)", o.dilation_);
  if (o.groups_ != 1) s += fmt::format(", groups={}", o.groups_);
  if (!o.bias_) s += ", bias=False";
  return s;
}

}  // namespace loom::nn
