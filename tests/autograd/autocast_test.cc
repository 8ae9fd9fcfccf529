// loom::autocast (autograd/autocast.h). The oracle of each test is the same
// computation spelled out by hand without the guard: the float32 operands
// cast with loom::to to the 16-bit type (or 16-bit operands to float32), the
// op run on the casts, and the 16-bit gradients cast back to float32. Autocast
// must give exactly those bits: it is that cast and nothing else. The
// accuracy of the 16-bit kernels themselves against float64 and PyTorch is
// tested elsewhere (tests/nn/rnn_half_test.cc, loom-rnn-check --dtype, and
// tests/nn/training_autocast_test.cc for a whole training run).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "autograd/autocast.h"
#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/packed_sequence.h"
#include "nn/rnn.h"
#include "testing.h"

namespace loom {
namespace {

std::vector<double> values(const Tensor& t) { return to(to(t, kCPU), kFloat64).to_vector<double>(); }

void expect_same_bits(const Tensor& actual, const Tensor& expected, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(actual.defined());
  ASSERT_TRUE(expected.defined());
  EXPECT_EQ(actual.dtype(), expected.dtype());
  EXPECT_EQ(actual.shape(), expected.shape());
  EXPECT_EQ(values(actual), values(expected));
}

Tensor leaf(const Shape& shape, unsigned seed, DType dtype = kFloat32) {
  Tensor t = testing::random_tensor(shape, seed, dtype);
  t.requires_grad_(true);
  return t;
}

// A fresh leaf holding the values of `t` cast to `dtype` (the hand-made cast).
Tensor leaf_cast(const Tensor& t, DType dtype) {
  Tensor c = to(detach(t), dtype);
  c.requires_grad_(true);
  return c;
}

class AutocastTypes : public ::testing::TestWithParam<DType> {};

TEST(Autocast, GuardNestsRestoresAndDisables) {
  EXPECT_FALSE(is_autocast_enabled());
  {
    autocast outer(kFloat16);
    EXPECT_TRUE(is_autocast_enabled());
    EXPECT_EQ(get_autocast_dtype(), kFloat16);
    {
      autocast inner(kBFloat16);
      EXPECT_EQ(get_autocast_dtype(), kBFloat16);
      {
        autocast off(kBFloat16, false);
        EXPECT_FALSE(is_autocast_enabled());
        Tensor x = leaf({2, 3}, 1), w = leaf({4, 3}, 2);
        EXPECT_EQ(linear(x, w).dtype(), kFloat32);  // disabled: runs as given
      }
      EXPECT_TRUE(is_autocast_enabled());
      EXPECT_EQ(get_autocast_dtype(), kBFloat16);
    }
    EXPECT_EQ(get_autocast_dtype(), kFloat16);
  }
  EXPECT_FALSE(is_autocast_enabled());
}

TEST(Autocast, RefusesTypesOtherThanBFloat16AndFloat16) {
  testing::expect_error_text([] { autocast a(kFloat32); },
                             "autocast: the type must be bfloat16 or float16, got float32");
  testing::expect_error_text([] { autocast a(kInt64); },
                             "autocast: the type must be bfloat16 or float16, got int64");
  EXPECT_FALSE(is_autocast_enabled());
}

TEST_P(AutocastTypes, LinearRunsInTheLowTypeAndGradientsReachFloat32Parameters) {
  const DType low = GetParam();
  Tensor x = leaf({5, 7}, 3), w = leaf({4, 7}, 4), b = leaf({4}, 5);
  Tensor g = testing::random_tensor({5, 4}, 6, low);
  Tensor out;
  {
    autocast guard(low);
    out = linear(x, w, b);
  }
  EXPECT_EQ(out.dtype(), low);
  autograd::backward({out}, {g});

  Tensor x16 = leaf_cast(x, low), w16 = leaf_cast(w, low), b16 = leaf_cast(b, low);
  Tensor expected = linear(x16, w16, b16);
  autograd::backward({expected}, {g});
  expect_same_bits(out, expected, "output");
  expect_same_bits(x.grad(), to(x16.grad(), kFloat32), "input gradient");
  expect_same_bits(w.grad(), to(w16.grad(), kFloat32), "weight gradient");
  expect_same_bits(b.grad(), to(b16.grad(), kFloat32), "bias gradient");
}

TEST_P(AutocastTypes, MatmulAndBmmRunInTheLowType) {
  const DType low = GetParam();
  autocast guard(low);
  Tensor a = testing::random_tensor({3, 4, 5}, 7, kFloat32), b = testing::random_tensor({3, 5, 2}, 8, kFloat32);
  Tensor mm = matmul(a, b), bm = bmm(a, b);
  EXPECT_EQ(mm.dtype(), low);
  EXPECT_EQ(bm.dtype(), low);
  {
    autocast off(low, false);
    expect_same_bits(mm, matmul(to(a, low), to(b, low)), "matmul");
    expect_same_bits(bm, bmm(to(a, low), to(b, low)), "bmm");
  }
  // float64 operands are not cast, as in PyTorch (only float32 is eligible).
  Tensor a64 = testing::random_tensor({2, 3}, 9), b64 = testing::random_tensor({3, 2}, 10);
  EXPECT_EQ(matmul(a64, b64).dtype(), kFloat64);
}

TEST_P(AutocastTypes, LossesAndReductionsRunInFloat32) {
  const DType low = GetParam();
  Tensor logits = leaf({6, 5}, 11, low);
  Tensor target = tensor({0, 4, 2, 2, 1, 3}, kInt64);
  Tensor other = testing::random_tensor({6, 5}, 12, low);
  autocast guard(low);
  Tensor ce = cross_entropy(logits, target);
  Tensor f32 = to(detach(logits), kFloat32);
  {
    autocast off(low, false);
    expect_same_bits(ce, cross_entropy(f32, target), "cross_entropy");
    EXPECT_EQ(softmax(logits, 1).dtype(), low);  // autocast off: the operand's type
  }
  expect_same_bits(softmax(logits, 1), softmax(f32, 1), "softmax");
  EXPECT_EQ(softmax(logits, 1).dtype(), kFloat32);
  EXPECT_EQ(log_softmax(logits, 1).dtype(), kFloat32);
  EXPECT_EQ(nll_loss(log_softmax(logits, 1), target).dtype(), kFloat32);
  EXPECT_EQ(mse_loss(logits, other).dtype(), kFloat32);
  EXPECT_EQ(sum(logits).dtype(), kFloat32);
  EXPECT_EQ(mean(logits, {1}).dtype(), kFloat32);
  // The gradient reaches the 16-bit leaf in its own type.
  ce.backward();
  EXPECT_EQ(logits.grad().dtype(), low);
}

TEST_P(AutocastTypes, ElementwiseOpsKeepTheirOperandsType) {
  const DType low = GetParam();
  autocast guard(low);
  Tensor a = testing::random_tensor({4}, 13, kFloat32);
  EXPECT_EQ(tanh(a).dtype(), kFloat32);
  EXPECT_EQ(sigmoid(to(a, low)).dtype(), low);
}

// A 2-layer bidirectional LSTM under autocast equals the same layer cast to
// the low type by hand, on tensor and on packed input; its parameters'
// gradients are the 16-bit layer's, cast to float32.
TEST_P(AutocastTypes, RecurrentLayersEqualTheirHandCastTwin) {
  const DType low = GetParam();
  for (bool packed : {false, true}) {
    SCOPED_TRACE(packed ? "packed" : "tensor");
    auto lstm = std::make_shared<nn::LSTMImpl>(nn::LSTMOptions(3, 5).num_layers(2).bidirectional(true));
    auto twin = std::make_shared<nn::LSTMImpl>(nn::LSTMOptions(3, 5).num_layers(2).bidirectional(true));
    {
      NoGradGuard no_grad;
      twin->load_state_dict(lstm->state_dict());
    }
    twin->to(low);
    Tensor x = leaf({4, 2, 3}, 14), h0 = leaf({4, 2, 5}, 15), c0 = leaf({4, 2, 5}, 16);
    Tensor x16 = leaf_cast(x, low), h16 = leaf_cast(h0, low), c16 = leaf_cast(c0, low);
    Tensor out, h_n, c_n, out16, h_n16, c_n16;
    if (packed) {
      std::vector<std::int64_t> lengths = {4, 2};
      nn::PackedSequence p = nn::pack_padded_sequence(x, lengths);
      nn::PackedSequence p16 = nn::pack_padded_sequence(x16, lengths);
      {
        autocast guard(low);
        auto [o, s] = lstm->forward(p, nn::LSTMImpl::State{h0, c0});
        out = o.data, h_n = std::get<0>(s), c_n = std::get<1>(s);
      }
      auto [o16, s16] = twin->forward(p16, nn::LSTMImpl::State{h16, c16});
      out16 = o16.data, h_n16 = std::get<0>(s16), c_n16 = std::get<1>(s16);
    } else {
      {
        autocast guard(low);
        auto [o, s] = lstm->forward(x, nn::LSTMImpl::State{h0, c0});
        out = o, h_n = std::get<0>(s), c_n = std::get<1>(s);
      }
      auto [o16, s16] = twin->forward(x16, nn::LSTMImpl::State{h16, c16});
      out16 = o16, h_n16 = std::get<0>(s16), c_n16 = std::get<1>(s16);
    }
    expect_same_bits(out, out16, "output");
    expect_same_bits(h_n, h_n16, "h_n");
    expect_same_bits(c_n, c_n16, "c_n");
    // Any upstream gradient: a weighted sum in float32 of the three results.
    Tensor wo = testing::random_tensor(out.shape(), 17, kFloat32);
    Tensor wh = testing::random_tensor(h_n.shape(), 18, kFloat32);
    auto loss_of = [&](const Tensor& o, const Tensor& h, const Tensor& c) {
      return sum(mul(to(o, kFloat32), wo)) + sum(mul(to(h, kFloat32), wh)) + sum(to(c, kFloat32));
    };
    loss_of(out, h_n, c_n).backward();
    loss_of(out16, h_n16, c_n16).backward();
    expect_same_bits(x.grad(), to(x16.grad(), kFloat32), "input gradient");
    expect_same_bits(h0.grad(), to(h16.grad(), kFloat32), "h0 gradient");
    expect_same_bits(c0.grad(), to(c16.grad(), kFloat32), "c0 gradient");
    auto params = lstm->named_parameters(), params16 = twin->named_parameters();
    ASSERT_EQ(params.size(), params16.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_EQ(params[i].second.dtype(), kFloat32);
      expect_same_bits(params[i].second.grad(), to(params16[i].second.grad(), kFloat32),
                       params[i].first + " gradient");
    }
  }
}

// A language model as users write it: float32 parameters, the forward under
// the guard, the loss in float32, backward after the guard (and, equally,
// inside it: backward ignores autocast and runs in the dtypes forward chose).
TEST_P(AutocastTypes, LanguageModelTrainsFloat32ParametersFromLowPrecisionForward) {
  const DType low = GetParam();
  auto embedding = std::make_shared<nn::EmbeddingImpl>(9, 4);
  auto gru = std::make_shared<nn::GRUImpl>(nn::GRUOptions(4, 6));
  auto head = std::make_shared<nn::LinearImpl>(6, 9);
  Tensor tokens = tensor({1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3}, kInt64).reshape({4, 3});
  Tensor targets = tensor({2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4}, kInt64);
  std::vector<Tensor> grads_after, grads_inside;
  for (bool inside : {false, true}) {
    for (auto* m : std::initializer_list<nn::Module*>{embedding.get(), gru.get(), head.get()})
      for (Tensor& p : m->parameters()) p.set_grad(Tensor());
    Tensor loss;
    {
      autocast guard(low);
      auto [out, h_n] = gru->forward(embedding->forward(tokens));
      EXPECT_EQ(out.dtype(), low);
      Tensor logits = head->forward(reshape(out, {12, 6}));
      EXPECT_EQ(logits.dtype(), low);
      loss = cross_entropy(logits, targets);
      if (inside) loss.backward();
    }
    EXPECT_EQ(loss.dtype(), kFloat32);
    if (!inside) loss.backward();
    std::vector<Tensor>& grads = inside ? grads_inside : grads_after;
    for (auto* m : std::initializer_list<nn::Module*>{embedding.get(), gru.get(), head.get()})
      for (Tensor& p : m->parameters()) {
        ASSERT_TRUE(p.grad().defined());
        EXPECT_EQ(p.grad().dtype(), kFloat32);
        grads.push_back(p.grad());
      }
  }
  ASSERT_EQ(grads_after.size(), grads_inside.size());
  for (std::size_t i = 0; i < grads_after.size(); ++i)
    expect_same_bits(grads_inside[i], grads_after[i], "gradient " + std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(Types, AutocastTypes, ::testing::Values(kBFloat16, kFloat16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace loom
