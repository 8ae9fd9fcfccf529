// nn::Linear, nn::Embedding and nn::Dropout: outputs and gradients against
// PyTorch 1.13 with the same weights, default initialisation ranges, options,
// printing and errors.
//
// Weights and inputs come from f(n, a, b, scale)[k] = (((k*a + b) % 17) / 17 - 0.5) * scale,
// computed identically here and in the generating script (/usr/bin/python3,
// torch 1.13, float64):
//   def f(n, a, b, scale=1.0):
//       return torch.tensor([(((k*a+b) % 17)/17.0 - 0.5)*scale for k in range(n)], dtype=torch.float64)
#include <cmath>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "autograd/op_testing.h"
#include "core/native.h"
#include "core/generator.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"

namespace loom::nn {
namespace {

using testing::expect_tensor;

Tensor f(const Shape& shape, int a, int b, double scale) {
  std::vector<double> v;
  for (std::int64_t k = 0; k < shape_numel(shape); ++k)
    v.push_back((static_cast<double>((k * a + b) % 17) / 17.0 - 0.5) * scale);
  return tensor(v, shape, kFloat64);
}

// Overwrites a parameter's values in place (as PyTorch's `with no_grad: p.copy_(v)`).
void set(const Tensor& param, const Tensor& value) {
  NoGradGuard no_grad;
  native::copy_(param, value);
}

// ---- Linear --------------------------------------------------------------------------------

// l = nn.Linear(3, 4).double(); weight = f(12, 5, 1, 1.6).view(4, 3); bias = f(4, 3, 2, 0.8)
// x = f(6, 4, 0, 2.0).view(2, 1, 3); g = f(8, 9, 4, 2.0).view(2, 1, 4); (l(x) * g).sum().backward()
TEST(Linear, MatchesPyTorchWithSameWeights) {
  Linear l(3, 4);
  l->to(kFloat64);
  set(l->weight, f({4, 3}, 5, 1, 1.6));
  set(l->bias, f({4}, 3, 2, 0.8));
  Tensor x = f({2, 1, 3}, 4, 0, 2.0);
  x.requires_grad_();
  Tensor y = l->forward(x);
  expect_tensor(y, {2, 1, 4},
                {0.510726643598616, -0.6491349480968859, -0.20899653979238744, 0.23114186851211072,
                 -0.9564013840830451, -0.2782006920415224, -0.25882352941176473, -0.23944636678200693},
                1e-12, 1e-14, "y");
  (y * f({2, 1, 4}, 9, 4, 2.0)).sum().backward();
  expect_tensor(x.grad(), {2, 1, 3},
                {0.7474048442906575, -0.36539792387543246, -0.25467128027681657, 0.9467128027681659,
                 -0.8525951557093425, -0.29896193771626295},
                1e-12, 1e-14, "grad x");
  expect_tensor(l->weight.grad(), {4, 3},
                {0.4083044982698962, 0.020761245674740525, 0.22145328719723179, -0.21453287197231818,
                 0.39446366782006914, -0.5259515570934256, 0.3391003460207612, 0.06228373702422141,
                 0.1384083044982699, -0.28373702422145314, 0.43598615916955014, -0.6089965397923874},
                1e-12, 1e-14, "grad weight");
  expect_tensor(l->bias.grad(), {4},
                {-0.8235294117647058, 1.2941176470588234, -0.5882352941176471, 1.5294117647058822}, 1e-12,
                1e-14, "grad bias");
}

TEST(Linear, DefaultInitIsUniformInOneOverSqrtFanIn) {
  manual_seed(3);
  Linear l(16, 400);  // 6400 weights
  const double bound = 1.0 / std::sqrt(16.0);
  std::vector<double> w = l->weight.to_vector<double>();
  double mean = 0, var = 0, lo = 1, hi = -1;
  for (double v : w) {
    mean += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  mean /= static_cast<double>(w.size());
  for (double v : w) var += (v - mean) * (v - mean);
  var /= static_cast<double>(w.size());
  EXPECT_GE(lo, -bound);
  EXPECT_LT(hi, bound);
  EXPECT_LT(lo, -0.95 * bound);  // the range is used up to its ends
  EXPECT_GT(hi, 0.95 * bound);
  EXPECT_NEAR(mean, 0.0, 0.01);                        // sd of the mean ~ 0.0018
  EXPECT_NEAR(var, bound * bound / 3.0, 0.004);        // U(-b, b): b^2 / 3 ~ 0.0208
  for (double v : l->bias.to_vector<double>()) {
    EXPECT_GE(v, -bound);
    EXPECT_LT(v, bound);
  }
  EXPECT_EQ(l->weight.dtype(), kFloat32);
  EXPECT_EQ(l->weight.shape(), (Shape{400, 16}));
  EXPECT_EQ(l->bias.shape(), (Shape{400}));
}

TEST(Linear, OptionsPrintingAndNoBias) {
  // repr(nn.Linear(3, 4)), repr(nn.Linear(3, 4, bias=False)) in torch 1.13.
  EXPECT_EQ(Linear(3, 4)->str(), "Linear(in_features=3, out_features=4, bias=True)");
  Linear nb(LinearOptions(3, 4).bias(false));
  EXPECT_EQ(nb->str(), "Linear(in_features=3, out_features=4, bias=False)");
  EXPECT_FALSE(nb->bias.defined());
  ASSERT_EQ(nb->named_parameters().size(), 1u);
  EXPECT_EQ(nb->named_parameters()[0].first, "weight");
  Tensor y = nb->forward(ones({5, 3}));
  EXPECT_EQ(y.shape(), (Shape{5, 4}));
  // Without bias, each output is the row sum of the weight.
  std::vector<double> w = nb->weight.to_vector<double>(), out = y.to_vector<double>();
  for (int o = 0; o < 4; ++o) EXPECT_NEAR(out[o], w[3 * o] + w[3 * o + 1] + w[3 * o + 2], 1e-6);
  EXPECT_THROW(nb->forward(ones({5, 2})), Error);
  EXPECT_ERROR_TEXT(Linear(-1, 2),
                    "Linear: in_features and out_features must be non-negative, got in_features=-1, "
                    "out_features=2");
}

// ---- Embedding -------------------------------------------------------------------------------

// e = nn.Embedding(5, 3, padding_idx=2).double(); e->weight = f(15, 5, 1, 1.6).view(5, 3)
// idx = [[0, 4], [2, 2], [4, 1]]; g = f(18, 9, 4, 2.0).view(3, 2, 3); (e(idx) * g).sum().backward()
TEST(Embedding, MatchesPyTorchIncludingPaddingIdx) {
  Embedding e(EmbeddingOptions(5, 3).padding_idx(2));
  e->to(kFloat64);
  set(e->weight, f({5, 3}, 5, 1, 1.6));
  Tensor idx = tensor_int64({0, 4, 2, 2, 4, 1}, {3, 2});
  Tensor y = e->forward(idx);
  expect_tensor(y, {3, 2, 3},
                {-0.7058823529411765, -0.2352941176470588, 0.23529411764705888, 0.14117647058823532,
                 0.611764705882353, -0.5176470588235293, 0.5176470588235293, -0.611764705882353,
                 -0.14117647058823532, 0.5176470588235293, -0.611764705882353, -0.14117647058823532,
                 0.14117647058823532, 0.611764705882353, -0.5176470588235293, 0.7058823529411765,
                 -0.42352941176470593, 0.04705882352941178},
                0, 0, "embedding output");
  (y * f({3, 2, 3}, 9, 4, 2.0)).sum().backward();
  // Row 2 (padding_idx) gets no gradient although it was looked up twice.
  expect_tensor(e->weight.grad(), {5, 3},
                {-0.5294117647058824, 0.5294117647058822, -0.4117647058823529, -0.6470588235294117,
                 0.41176470588235303, -0.5294117647058824, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8235294117647058,
                 -1.0588235294117645, 1.0588235294117647},
                1e-12, 1e-14, "embedding grad");
}

TEST(Embedding, InitPrintingAndErrors) {
  manual_seed(5);
  Embedding e(EmbeddingOptions(2000, 4).padding_idx(-1));
  EXPECT_EQ(e->padding_idx(), 1999);  // negative padding_idx is stored wrapped, as in PyTorch
  std::vector<double> w = e->weight.to_vector<double>();
  for (int j = 0; j < 4; ++j) EXPECT_EQ(w[1999 * 4 + j], 0.0);  // the padding row starts at zero
  double mean = 0, var = 0;
  std::size_t n = 1999 * 4;
  for (std::size_t i = 0; i < n; ++i) mean += w[i];
  mean /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i) var += (w[i] - mean) * (w[i] - mean);
  var /= static_cast<double>(n);
  EXPECT_NEAR(mean, 0.0, 0.06);  // N(0, 1): sd of the mean ~ 0.011
  EXPECT_NEAR(var, 1.0, 0.08);   // sd of the variance ~ 0.016

  // repr(nn.Embedding(10, 3)), repr(nn.Embedding(10, 3, padding_idx=0)) in torch 1.13.
  EXPECT_EQ(Embedding(10, 3)->str(), "Embedding(10, 3)");
  EXPECT_EQ(Embedding(EmbeddingOptions(10, 3).padding_idx(0))->str(), "Embedding(10, 3, padding_idx=0)");
  EXPECT_EQ(Embedding(EmbeddingOptions(10, 3).padding_idx(-2))->str(), "Embedding(10, 3, padding_idx=8)");
  // nn.Embedding(10, 3, padding_idx=10) -> AssertionError in torch 1.13.
  EXPECT_ERROR_TEXT(Embedding(EmbeddingOptions(10, 3).padding_idx(10)), "Padding_idx must be within num_embeddings");
  EXPECT_ERROR_TEXT(Embedding(EmbeddingOptions(10, 3).padding_idx(-11)), "Padding_idx must be within num_embeddings");
  EXPECT_THROW(Embedding(10, 3)->forward(tensor_int64({10}, {1})), Error);  // index out of range
}

// ---- Dropout ---------------------------------------------------------------------------------------

TEST(Dropout, TrainingOnlyAndScaled) {
  manual_seed(9);
  Dropout d(0.25);
  Tensor x = ones({200, 100}, TensorOptions(kFloat64).requires_grad());
  Tensor y = d->forward(x);
  std::vector<double> v = y.to_vector<double>();
  std::size_t zeros_seen = 0;
  for (double e : v) {
    if (e == 0.0) ++zeros_seen;
    else EXPECT_DOUBLE_EQ(e, 1.0 / 0.75);
  }
  EXPECT_NEAR(static_cast<double>(zeros_seen) / 20000.0, 0.25, 0.02);  // sd ~ 0.003
  y.sum().backward();
  std::vector<double> g = x.grad().to_vector<double>();
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(g[i], v[i]);  // d(x * mask)/dx = mask

  d->eval();
  Tensor z = d->forward(x);
  EXPECT_EQ(z.to_vector<double>(), x.to_vector<double>());
  d->train();
  EXPECT_EQ(Dropout(0.0)->forward(x).to_vector<double>(), x.to_vector<double>());
}

TEST(Dropout, PrintingAndErrors) {
  // repr(nn.Dropout()), repr(nn.Dropout(0.25)), repr(nn.Dropout(1.0)) in torch 1.13.
  EXPECT_EQ(Dropout()->str(), "Dropout(p=0.5, inplace=False)");
  EXPECT_EQ(Dropout(0.25)->str(), "Dropout(p=0.25, inplace=False)");
  EXPECT_EQ(Dropout(1.0)->str(), "Dropout(p=1.0, inplace=False)");
  // nn.Dropout(1.5) -> ValueError in torch 1.13.
  EXPECT_ERROR_TEXT(Dropout(1.5), "dropout probability has to be between 0 and 1, but got 1.5");
  EXPECT_ERROR_TEXT(Dropout(-0.5), "dropout probability has to be between 0 and 1, but got -0.5");
}

}  // namespace
}  // namespace loom::nn
