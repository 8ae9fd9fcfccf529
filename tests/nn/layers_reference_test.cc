// erf, gelu, LayerNorm, Conv1d and channel-wise dropout: values and
// gradients against PyTorch 1.13 (literals from
// tests/fixtures/make_module_reference.py in module_reference_values.h),
// gradcheck in float64, the modules' parameters and printing, and the
// error texts (PyTorch's words, produced by /usr/bin/python3 with torch 1.13).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "autograd/op_testing.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/layer_norm.h"
#include "nn/module_reference_values.h"

namespace loom {
namespace {

namespace ref = testing::torch_reference;
using testing::expect_tensor;
using testing::leaf;

// wave(shape, a, b)[i] = sin(a * i + b), float64, as the generator builds it.
Tensor wave(const Shape& shape, double a, double b, double scale = 1, double shift = 0) {
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = shift + scale * std::sin(a * static_cast<double>(i) + b);
  Tensor t = tensor(v, shape, TensorOptions(kFloat64));
  t.requires_grad_(true);
  return t;
}

constexpr double kRtol = 1e-10, kAtol = 1e-12;

// Back-propagates the generator's upstream gradient wave(y.shape, 0.7, 0.3).
void backward_wave(const Tensor& y) { y.backward(detach(wave(y.shape(), 0.7, 0.3))); }

TEST(Erf, MatchesTorchValuesAndGradient) {
  Tensor x = wave({2, 5}, 0.9, 0.2, 3);
  Tensor y = erf(x);
  backward_wave(y);
  expect_tensor(y, {2, 5}, ref::kErfOut, kRtol, kAtol, "erf");
  expect_tensor(x.grad(), {2, 5}, ref::kErfGrad0, kRtol, kAtol, "erf grad");
}

TEST(Erf, Gradcheck) {
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return erf(in[0]); }, {leaf({3, 4}, 1, -2.5, 2.5)});
}

TEST(Gelu, MatchesTorchForBothApproximations) {
  for (const std::string approx : {"none", "tanh"}) {
    SCOPED_TRACE(approx);
    Tensor x = wave({2, 5}, 0.9, 0.2, 3);
    nn::GELU gelu_module(approx);
    Tensor y = gelu_module->forward(x);
    backward_wave(y);
    expect_tensor(y, {2, 5}, approx == "none" ? ref::kGeluNoneOut : ref::kGeluTanhOut, kRtol, kAtol);
    expect_tensor(x.grad(), {2, 5}, approx == "none" ? ref::kGeluNoneGrad0 : ref::kGeluTanhGrad0, kRtol,
                  kAtol);
  }
}

TEST(Gelu, Gradcheck) {
  for (const std::string approx : {"none", "tanh"})
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return gelu(in[0], approx); },
                     {leaf({3, 4}, 2, -3, 3)});
}

TEST(Activations, ModulesApplyTheirFunction) {
  Tensor x = detach(wave({2, 3}, 1.1, -0.4, 2));
  expect_tensor(nn::ReLU()->forward(x), {2, 3}, testing::values(relu(x)), 0, 0);
  expect_tensor(nn::Tanh()->forward(x), {2, 3}, testing::values(tanh(x)), 0, 0);
  expect_tensor(nn::Sigmoid()->forward(x), {2, 3}, testing::values(sigmoid(x)), 0, 0);
  // The modules' functions against std:: on the same numbers.
  std::vector<double> xs = testing::values(x), r, t, s;
  for (double v : xs) {
    r.push_back(v > 0 ? v : 0);
    t.push_back(std::tanh(v));
    s.push_back(1 / (1 + std::exp(-v)));
  }
  expect_tensor(nn::ReLU()->forward(x), {2, 3}, r, 0, 0);
  expect_tensor(nn::Tanh()->forward(x), {2, 3}, t, 1e-15, 1e-15);
  expect_tensor(nn::Sigmoid()->forward(x), {2, 3}, s, 1e-15, 1e-15);
  // torch: print(nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU(), nn.GELU('tanh'))
  EXPECT_EQ(nn::ReLU()->str(), "ReLU()");
  EXPECT_EQ(nn::Tanh()->str(), "Tanh()");
  EXPECT_EQ(nn::Sigmoid()->str(), "Sigmoid()");
  EXPECT_EQ(nn::GELU()->str(), "GELU(approximate='none')");
  EXPECT_EQ(nn::GELU("tanh")->str(), "GELU(approximate='tanh')");
}

TEST(Activations, Errors) {
  // torch: F.gelu(x, approximate='x'); F.gelu(torch.ones(2, dtype=torch.long))
  EXPECT_ERROR_TEXT(nn::GELU("x"), "approximate argument must be either none or tanh.");
  EXPECT_ERROR_TEXT(gelu(ones({2}), "exact"), "approximate argument must be either none or tanh.");
  EXPECT_ERROR_TEXT(gelu(tensor_int64({1, 2}, {2})), "\"GeluKernelImpl\" not implemented for 'Long'");
}

TEST(LayerNorm, MatchesTorchWithAffine) {
  nn::LayerNorm ln(nn::LayerNormOptions({3, 4}));
  ln->to(kFloat64);
  {
    NoGradGuard no_grad;
    native::copy_(ln->weight, detach(wave({3, 4}, 1.3, 0.4, 0.5, 1)));
    native::copy_(ln->bias, detach(wave({3, 4}, 0.8, 0.9, 0.1)));
  }
  Tensor x = wave({2, 3, 4}, 0.5, 0.1, 2);
  Tensor y = ln->forward(x);
  backward_wave(y);
  expect_tensor(y, {2, 3, 4}, ref::kLayerNormOut, kRtol, kAtol, "out");
  expect_tensor(x.grad(), {2, 3, 4}, ref::kLayerNormGrad0, kRtol, kAtol, "grad x");
  expect_tensor(ln->weight.grad(), {3, 4}, ref::kLayerNormGrad1, kRtol, kAtol, "grad weight");
  expect_tensor(ln->bias.grad(), {3, 4}, ref::kLayerNormGrad2, kRtol, kAtol, "grad bias");
}

TEST(LayerNorm, MatchesTorchWithoutAffine) {
  nn::LayerNorm ln(nn::LayerNormOptions({4}).elementwise_affine(false));
  EXPECT_TRUE(ln->parameters().empty());
  Tensor x = wave({3, 4}, 0.45, 0.0);
  Tensor y = ln->forward(x);
  backward_wave(y);
  expect_tensor(y, {3, 4}, ref::kLayerNormPlainOut, kRtol, kAtol, "out");
  expect_tensor(x.grad(), {3, 4}, ref::kLayerNormPlainGrad0, kRtol, kAtol, "grad x");
}

TEST(LayerNorm, Gradcheck) {
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], {2, 3}, in[1], in[2], 1e-5); },
      {leaf({4, 2, 3}, 3), leaf({2, 3}, 4, 0.5, 1.5), leaf({2, 3}, 5)});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, Tensor(), Tensor()); },
                   {leaf({3, 5}, 6)});
}

TEST(LayerNorm, ParametersPrintingAndErrors) {
  nn::LayerNorm ln(nn::LayerNormOptions({3, 4}));
  EXPECT_EQ(ln->state_dict().keys(), (std::vector<std::string>{"weight", "bias"}));
  expect_tensor(ln->weight, {3, 4}, std::vector<double>(12, 1.0), 0, 0);
  expect_tensor(ln->bias, {3, 4}, std::vector<double>(12, 0.0), 0, 0);
  // torch: print(nn.LayerNorm([3, 4])); print(nn.LayerNorm(4, elementwise_affine=False))
  EXPECT_EQ(ln->str(), "LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)");
  EXPECT_EQ(nn::LayerNorm(nn::LayerNormOptions({4}).elementwise_affine(false))->str(),
            "LayerNorm((4,), eps=1e-05, elementwise_affine=False)");
  // torch: nn.LayerNorm([3, 4])(torch.ones(2, 3)) and (torch.ones(4))
  EXPECT_ERROR_TEXT(ln->forward(ones({2, 3})),
                    "Given normalized_shape=[3, 4], expected input with shape [*, 3, 4], but got input "
                    "of size[2, 3]");
  EXPECT_ERROR_TEXT(ln->forward(ones({4})),
                    "Given normalized_shape=[3, 4], expected input with shape [*, 3, 4], but got input "
                    "of size[4]");
  EXPECT_LOOM_ERROR(nn::LayerNorm(nn::LayerNormOptions(Shape{})), "at least 1-dimensional");
  EXPECT_LOOM_ERROR(nn::LayerNorm(nn::LayerNormOptions({0, 2})), "must be positive");
  EXPECT_LOOM_ERROR(layer_norm(ones({2, 3}), {3}, ones({2}), Tensor()), "Expected weight to be of same shape");
  // torch: F.layer_norm(torch.ones(2, 4, dtype=torch.float64), [4], torch.ones(4))
  EXPECT_ERROR_TEXT(layer_norm(ones({2, 4}, TensorOptions(kFloat64)), {4}, ones({4}), Tensor()),
                    "expected scalar type Double but found Float");
}

// Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2) with the generator's parameters.
nn::Conv1d grouped_conv() {
  nn::Conv1d conv(nn::Conv1dOptions(4, 6, 3).stride(2).padding(1).dilation(2).groups(2));
  conv->to(kFloat64);
  NoGradGuard no_grad;
  native::copy_(conv->weight, detach(wave({6, 2, 3}, 0.77, 0.5, 0.4)));
  native::copy_(conv->bias, detach(wave({6}, 1.1, 0.3, 0.2)));
  return conv;
}

TEST(Conv1d, MatchesTorchGroupedStridedPaddedDilated) {
  nn::Conv1d conv = grouped_conv();
  Tensor x = wave({2, 4, 9}, 0.31, 0.2);
  Tensor y = conv->forward(x);
  backward_wave(y);
  expect_tensor(y, {2, 6, 4}, ref::kConvGroupedOut, kRtol, kAtol, "out");
  expect_tensor(x.grad(), {2, 4, 9}, ref::kConvGroupedGrad0, kRtol, kAtol, "grad x");
  expect_tensor(conv->weight.grad(), {6, 2, 3}, ref::kConvGroupedGrad1, kRtol, kAtol, "grad weight");
  expect_tensor(conv->bias.grad(), {6}, ref::kConvGroupedGrad2, kRtol, kAtol, "grad bias");
}

TEST(Conv1d, MatchesTorchUnbatchedWithoutBias) {
  Tensor x = wave({3, 5}, 0.63, 0.7);
  Tensor w = wave({2, 3, 2}, 0.41, 0.1, 0.5);
  Tensor y = conv1d(x, w);
  backward_wave(y);
  expect_tensor(y, {2, 4}, ref::kConvPlainOut, kRtol, kAtol, "out");
  expect_tensor(x.grad(), {3, 5}, ref::kConvPlainGrad0, kRtol, kAtol, "grad x");
  expect_tensor(w.grad(), {2, 3, 2}, ref::kConvPlainGrad1, kRtol, kAtol, "grad weight");
}

TEST(Conv1d, Gradcheck) {
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], in[2], 2, 1, 2, 2); },
      {leaf({2, 4, 9}, 7), leaf({6, 2, 3}, 8), leaf({6}, 9)});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], Tensor(), 1, 2); },
                   {leaf({3, 4}, 10), leaf({5, 3, 3}, 11)});
}

TEST(Conv1d, ParametersInitAndPrinting) {
  nn::Conv1d conv(nn::Conv1dOptions(4, 6, 3).groups(2));
  EXPECT_EQ(shape_str(conv->weight.shape()), "[6, 2, 3]");
  EXPECT_EQ(shape_str(conv->bias.shape()), "[6]");
  // PyTorch's kaiming_uniform_(a=sqrt(5)): |w| <= 1 / sqrt(fan_in), fan_in = 2 * 3.
  const double bound = 1 / std::sqrt(6.0);
  double widest = 0;
  for (double v : testing::values(conv->weight)) widest = std::max(widest, std::abs(v));
  EXPECT_LE(widest, bound);
  EXPECT_GT(widest, 0.5 * bound);  // 36 draws: not all in the inner half (p = 2^-36)
  // torch: print(nn.Conv1d(3, 4, 2)); print(nn.Conv1d(4, 6, 3, stride=2, padding=1,
  //        dilation=2, groups=2, bias=False))
  EXPECT_EQ(nn::Conv1d(3, 4, 2)->str(), "Conv1d(3, 4, kernel_size=(2,), stride=(1,))");
  EXPECT_EQ(nn::Conv1d(nn::Conv1dOptions(4, 6, 3).stride(2).padding(1).dilation(2).groups(2).bias(false))->str(),
            "Conv1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), groups=2, bias=False)");
}

TEST(Conv1d, Errors) {
  nn::Conv1d conv(3, 4, 2);
  // torch 1.13: the same calls on nn.Conv1d / F.conv1d.
  EXPECT_ERROR_TEXT(conv->forward(ones({2, 5, 7})),
                    "Given groups=1, weight of size [4, 3, 2], expected input[2, 5, 7] to have 3 channels, "
                    "but got 5 channels instead");
  EXPECT_ERROR_TEXT(conv->forward(ones({2, 3, 1})),
                    "Calculated padded input size per channel: (1). Kernel size: (2). Kernel size can't "
                    "be greater than actual input size");
  EXPECT_ERROR_TEXT(conv1d(ones({1, 3, 5}), ones({4, 3, 3}), Tensor(), 1, 0, 3),
                    "Calculated padded input size per channel: (5). Kernel size: (7). Kernel size can't "
                    "be greater than actual input size");
  EXPECT_ERROR_TEXT(conv->forward(ones({2, 3, 4, 5})),
                    "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: "
                    "[2, 3, 4, 5]");
  EXPECT_ERROR_TEXT(conv->forward(ones({1, 3, 5}, TensorOptions(kFloat64))),
                    "expected scalar type Double but found Float");
  EXPECT_ERROR_TEXT(nn::Conv1d(nn::Conv1dOptions(3, 4, 2).groups(2)), "in_channels must be divisible by groups");
  EXPECT_ERROR_TEXT(nn::Conv1d(nn::Conv1dOptions(3, 4, 2).groups(0)), "groups must be a positive integer");
  EXPECT_ERROR_TEXT(nn::Conv1d(nn::Conv1dOptions(3, 4, 2).stride(0)), "non-positive stride is not supported");
  EXPECT_ERROR_TEXT(nn::Conv1d(nn::Conv1dOptions(3, 4, 2).padding(-1)), "negative padding is not supported");
  EXPECT_LOOM_ERROR(nn::Conv1d(nn::Conv1dOptions(3, 4, 2).dilation(0)), "dilation should be greater than zero");
  EXPECT_LOOM_ERROR(nn::Conv1d(nn::Conv1dOptions(3, 4, 0)), "kernel size should be greater than zero");
}

// Which (n, c) channels of y are zero and which are x * 1 / (1 - p), exactly.
void expect_whole_channels(const Tensor& x, const Tensor& y, double p, int* dropped, int* kept) {
  const std::int64_t N = x.size(0), C = x.size(1), inner = x.numel() / (N * C);
  std::vector<double> xs = testing::values(x), ys = testing::values(y);
  for (std::int64_t nc = 0; nc < N * C; ++nc) {
    const bool zero = ys[nc * inner] == 0;
    for (std::int64_t k = 0; k < inner; ++k) {
      const double expected = zero ? 0.0 : xs[nc * inner + k] / (1 - p);
      ASSERT_NEAR(ys[nc * inner + k], expected, 1e-12) << "channel " << nc << " element " << k;
    }
    (zero ? *dropped : *kept) += 1;
  }
}

TEST(FeatureDropout, ZeroesWholeChannelsAndScalesTheRest) {
  manual_seed(5);
  for (int rank : {3, 4}) {
    SCOPED_TRACE(rank);
    Shape shape = rank == 3 ? Shape{40, 25, 6} : Shape{40, 25, 2, 3};
    Tensor x = detach(wave(shape, 0.37, 0.1, 1, 2));  // all in [1, 3]: never zero
    int dropped = 0, kept = 0;
    nn::Dropout1d d1(0.3);
    nn::Dropout2d d2(0.3);
    expect_whole_channels(x, rank == 3 ? d1->forward(x) : d2->forward(x), 0.3, &dropped, &kept);
    // 1000 channels, p = 0.3: 300 +- 14.5 expected; 6 sigma either side.
    EXPECT_GT(dropped, 213);
    EXPECT_LT(dropped, 387);
    EXPECT_EQ(dropped + kept, 1000);
  }
  // Unbatched (C, L) for dropout1d: channel c is zeroed whole.
  Tensor x = detach(wave({200, 4}, 0.37, 0.1, 1, 2));
  int dropped = 0, kept = 0;
  expect_whole_channels(unsqueeze(x, 0), unsqueeze(dropout1d(x, 0.5), 0), 0.5, &dropped, &kept);
  EXPECT_GT(dropped, 57);
  EXPECT_LT(dropped, 143);
}

TEST(FeatureDropout, IdentityInEvalAndP0AllZeroAtP1SameMaskForSameSeed) {
  Tensor x = detach(wave({3, 4, 5}, 0.37, 0.1, 1, 2));
  nn::Dropout1d d(0.5);
  d->eval();
  EXPECT_TRUE(d->forward(x).is_same(x));
  EXPECT_TRUE(dropout2d(x, 0.0).is_same(x));
  expect_tensor(dropout1d(x, 1.0), {3, 4, 5}, std::vector<double>(60, 0.0), 0, 0);
  manual_seed(11);
  std::vector<double> first = testing::values(dropout1d(x, 0.5));
  manual_seed(11);
  EXPECT_EQ(testing::values(dropout1d(x, 0.5)), first);
}

TEST(FeatureDropout, GradientIsTheMask) {
  // With the seed fixed inside f, every call draws the same mask: gradcheck.
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        manual_seed(3);
        return dropout2d(in[0], 0.4);
      },
      {leaf({3, 4, 2, 2}, 12)});
}

TEST(FeatureDropout, PrintingAndErrors) {
  // torch: print(nn.Dropout1d(0.2), nn.Dropout2d())
  EXPECT_EQ(nn::Dropout1d(0.2)->str(), "Dropout1d(p=0.2, inplace=False)");
  EXPECT_EQ(nn::Dropout2d()->str(), "Dropout2d(p=0.5, inplace=False)");
  EXPECT_ERROR_TEXT(nn::Dropout1d(1.5), "dropout probability has to be between 0 and 1, but got 1.5");
  // torch: nn.Dropout1d()(torch.ones(3))
  EXPECT_ERROR_TEXT(dropout1d(ones({3})),
                    "dropout1d: Expected 2D or 3D input, but received a 1D input. Note that dropout1d "
                    "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                    "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).");
  // torch 1.13 only warns with this text (and drops single elements); loom refuses.
  EXPECT_LOOM_ERROR(dropout2d(ones({2, 3})), "dropout2d: Received a 2-D input to dropout2d, which is deprecated");
}

}  // namespace
}  // namespace loom
