// bfloat16 / float16 tensors: storage, .to(dtype) with every other dtype,
// factories, random fills (drawn in float32, rounded once), to_vector, item,
// printing (strings from PyTorch 1.13) and the errors of unsupported uses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/rnn.h"
#include "../autograd/op_testing.h"
#include "testing.h"

namespace loom {
namespace {

std::vector<std::uint16_t> bits(const Tensor& t) {
  std::vector<std::uint16_t> out;
  if (t.dtype() == kBFloat16)
    for (bfloat16 v : t.to_vector<bfloat16>()) out.push_back(v.bits);
  else
    for (float16 v : t.to_vector<float16>()) out.push_back(v.bits);
  return out;
}

template <typename H>
std::vector<std::uint16_t> rounded(const std::vector<float>& v) {
  std::vector<std::uint16_t> out;
  for (float f : v) out.push_back(H(f).bits);
  return out;
}

const std::vector<double> kValues = {0.0, -0.0, 1.0, -2.5, 0.1, 3.14159, 65504.0, 65520.0, 1e-7,
                                     -1e30, 255.5, 257.0, INFINITY, -INFINITY};

TEST(HalfTensor, StorageIsTwoBytesPerElement) {
  for (DType t : {kBFloat16, kFloat16}) {
    Tensor x = empty({3, 5}, t);
    EXPECT_EQ(x.dtype(), t);
    EXPECT_EQ(x.impl().storage->bytes(), 30u);
    Tensor v = x.transpose(0, 1).select(0, 2);
    EXPECT_EQ(static_cast<char*>(v.data_ptr()) - static_cast<char*>(x.data_ptr()), 4);
  }
  EXPECT_NO_THROW(empty({2}, kBFloat16).data<bfloat16>());
  EXPECT_LOOM_ERROR(empty({2}, kBFloat16).data<float16>(), "data<float16>() called on a tensor of dtype bfloat16");
}

TEST(HalfTensor, FromFloat64RoundsThroughFloat32) {
  Tensor b = tensor(kValues, {static_cast<std::int64_t>(kValues.size())}, kBFloat16);
  Tensor h = tensor(kValues, {static_cast<std::int64_t>(kValues.size())}, kFloat16);
  std::vector<float> f(kValues.begin(), kValues.end());
  EXPECT_EQ(bits(b), rounded<bfloat16>(f));
  EXPECT_EQ(bits(h), rounded<float16>(f));
  // Exact landmarks (65520 overflows float16; 1e-7 is a float16 subnormal 2^-23 + ...).
  EXPECT_EQ(bits(h)[7], 0x7c00);
  EXPECT_EQ(bits(h)[8], 0x0002);  // 1e-7 / 2^-24 = 1.68 -> 2
  EXPECT_EQ(bits(b)[11], 0x4380); // 257 is a tie between 256 and 258: to even (256)
}

TEST(HalfTensor, ToEveryDTypeAndBack) {
  Tensor f32 = tensor({1.75, -2.25, 0.0, 300.5, -0.4}, kFloat32);
  for (DType half : {kBFloat16, kFloat16}) {
    Tensor h = f32.to(half);
    EXPECT_EQ(h.dtype(), half);
    std::vector<double> back = h.to(kFloat64).to_vector<double>();
    std::vector<float> src = f32.to_vector<float>();
    for (std::size_t i = 0; i < src.size(); ++i) {
      float expected = half == kBFloat16 ? static_cast<float>(bfloat16(src[i])) : static_cast<float>(float16(src[i]));
      EXPECT_EQ(back[i], static_cast<double>(expected)) << i;
    }
    EXPECT_EQ(h.to(kFloat32).to_vector<float>()[3], half == kBFloat16 ? 300.0f : 300.5f);
    EXPECT_EQ(h.to(kInt64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, -2, 0, 300, 0}));
    EXPECT_EQ(h.to(kBool).to_vector<bool>(), (std::vector<bool>{true, true, false, true, true}));
    Tensor other = h.to(half == kBFloat16 ? kFloat16 : kBFloat16);  // 16 -> 16 through float
    EXPECT_EQ(other.to(kFloat64).to_vector<double>()[0], 1.75);
    // From int64 and bool.
    EXPECT_EQ(tensor_int64({2049, -3}, {2}).to(half).to_vector<double>(),
              (std::vector<double>{half == kBFloat16 ? 2048.0 : 2048.0, -3.0}));
    EXPECT_EQ(ones({2}, kBool).to(half).to_vector<double>(), (std::vector<double>{1.0, 1.0}));
    // A strided source and destination.
    Tensor m = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kFloat64).to(half);
    EXPECT_EQ(m.t().contiguous().to(kFloat64).to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
    EXPECT_TRUE(h.to(half).is_same(h));
  }
}

TEST(HalfTensor, NaNStaysNaNThroughEveryConversion) {
  Tensor x = tensor({NAN, -NAN}, kFloat64);
  for (DType half : {kBFloat16, kFloat16}) {
    std::vector<double> v = x.to(half).to(kFloat64).to_vector<double>();
    EXPECT_TRUE(std::isnan(v[0]) && !std::signbit(v[0]));
    EXPECT_TRUE(std::isnan(v[1]) && std::signbit(v[1]));
  }
}

TEST(HalfTensor, Factories) {
  for (DType half : {kBFloat16, kFloat16}) {
    EXPECT_EQ(zeros({2, 2}, half).to_vector<double>(), std::vector<double>(4, 0.0));
    EXPECT_EQ(ones({3}, half).to_vector<double>(), std::vector<double>(3, 1.0));
    EXPECT_EQ(full({2}, 0.1, half).dtype(), half);
    std::uint16_t expected = half == kBFloat16 ? bfloat16(0.1f).bits : float16(0.1f).bits;
    EXPECT_EQ(bits(full({2}, 0.1, half)), (std::vector<std::uint16_t>{expected, expected}));
    EXPECT_EQ(zeros_like(ones({2, 3}, half)).dtype(), half);
    Tensor z = zeros({4}, half);
    native::fill_(z.slice(0, 0, 4, 2), 2.5);  // a strided fill
    EXPECT_EQ(z.to_vector<double>(), (std::vector<double>{2.5, 0, 2.5, 0}));
    EXPECT_TRUE(ones({2}, TensorOptions(half).requires_grad()).requires_grad());
  }
  // torch.arange(0, 3, 0.3, dtype=...) bits, from PyTorch 1.13.
  EXPECT_EQ(bits(arange(0, 3, 0.3, kBFloat16)),
            (std::vector<std::uint16_t>{0x0, 0x3e9a, 0x3f1a, 0x3f66, 0x3f9a, 0x3fc0, 0x3fe6, 0x4006,
                                        0x401a, 0x402d}));
  EXPECT_EQ(bits(arange(0, 3, 0.3, kFloat16)),
            (std::vector<std::uint16_t>{0x0, 0x34cd, 0x38cd, 0x3b33, 0x3ccd, 0x3e00, 0x3f33, 0x4033,
                                        0x40cd, 0x4166}));
  // torch.arange(250, 270, 1.0, dtype=torch.bfloat16).tolist()
  EXPECT_EQ(arange(250, 270, 1, kBFloat16).to_vector<double>(),
            (std::vector<double>{250, 251, 252, 253, 254, 255, 256, 256, 258, 260, 260, 260, 262,
                                 264, 264, 264, 266, 268, 268, 268}));
}

TEST(HalfTensor, ToVectorAndItem) {
  Tensor b = tensor({1.5, 1.0 / 3.0}, kBFloat16);
  std::vector<bfloat16> v = b.to_vector<bfloat16>();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].bits, 0x3fc0);
  EXPECT_EQ(v[1].bits, 0x3eab);  // 1/3 -> 0.333984375
  EXPECT_EQ(b.select(0, 1).item(), 0.333984375);
  EXPECT_EQ(tensor({1.0 / 3.0}, kFloat16).to_vector<float16>()[0].bits, 0x3555);
  EXPECT_EQ(tensor({1.0 / 3.0}, kFloat64).to_vector<float16>()[0].bits, 0x3555);
}

TEST(HalfTensor, RandomFillsDrawInFloat32AndRoundOnce) {
  for (DType half : {kBFloat16, kFloat16}) {
    for (bool normal : {false, true}) {
      manual_seed(77);
      Tensor h = normal ? randn({257}, half) : rand({257}, half);
      Tensor after_h = rand({5});
      manual_seed(77);
      Tensor f = normal ? randn({257}) : rand({257});
      Tensor after_f = rand({5});
      EXPECT_EQ(h.dtype(), half);
      EXPECT_EQ(bits(h), bits(f.to(half)));  // the same draws, rounded once
      EXPECT_EQ(after_h.to_vector<float>(), after_f.to_vector<float>());  // the same counters used
    }
    // Dropout: the mask is {0, round(1 / (1 - p))}.
    manual_seed(5);
    Tensor x = ones({1000}, half);
    std::vector<double> y = dropout(x, 0.3).to_vector<double>();
    double keep = half == kBFloat16 ? static_cast<float>(bfloat16(static_cast<float>(1 / 0.7)))
                                    : static_cast<float>(float16(static_cast<float>(1 / 0.7)));
    int kept = 0;
    for (double v : y) {
      EXPECT_TRUE(v == 0 || v == keep) << v;
      kept += v != 0;
    }
    EXPECT_GT(kept, 640);
    EXPECT_LT(kept, 760);
  }
}

TEST(HalfTensor, PrintsAsPyTorch) {
  // Each expected string is PyTorch 1.13's str() of the same tensor.
  EXPECT_EQ(tensor({1.5, 2, 3}, kBFloat16).str(), "tensor([1.5000, 2.0000, 3.0000], dtype=torch.bfloat16)");
  EXPECT_EQ(tensor({1.5, 2, 3}, kFloat16).str(), "tensor([1.5000, 2.0000, 3.0000], dtype=torch.float16)");
  EXPECT_EQ(tensor({0.1, -2.5, 1000.0, 3.14159, 0, -0.001}, {2, 3}, kBFloat16).str(),
            "tensor([[ 1.0010e-01, -2.5000e+00,  1.0000e+03],\n"
            "        [ 3.1406e+00,  0.0000e+00, -9.9945e-04]], dtype=torch.bfloat16)");
  EXPECT_EQ(tensor({0.1, 1e-5, 60000.0}, kFloat16).str(),
            "tensor([9.9976e-02, 1.0014e-05, 6.0000e+04], dtype=torch.float16)");
  EXPECT_EQ(tensor({1., INFINITY, NAN, -7.}, kFloat16).str(),
            "tensor([ 1., inf, nan, -7.], dtype=torch.float16)");
  EXPECT_EQ(empty({0}, kBFloat16).str(), "tensor([], dtype=torch.bfloat16)");
  EXPECT_EQ(tensor(std::vector<double>{2.71828}, {}, kBFloat16).str(), "tensor(2.7188, dtype=torch.bfloat16)");
  EXPECT_EQ(tensor({0.1, 0.2}, TensorOptions(kBFloat16).requires_grad()).str(),
            "tensor([0.1001, 0.2002], dtype=torch.bfloat16, requires_grad=True)");
  EXPECT_EQ(arange(0, 1000, 1, kBFloat16).reshape({10, 100}).slice(1, 0, 5).str(),
            "tensor([[  0.,   1.,   2.,   3.,   4.],\n        [100., 101., 102., 103., 104.],\n"
            "        [200., 201., 202., 203., 204.],\n        [300., 300., 302., 304., 304.],\n"
            "        [400., 400., 402., 404., 404.],\n        [500., 500., 502., 504., 504.],\n"
            "        [600., 600., 600., 604., 604.],\n        [700., 700., 704., 704., 704.],\n"
            "        [800., 800., 800., 804., 804.],\n        [900., 900., 904., 904., 904.]], "
            "dtype=torch.bfloat16)");
  EXPECT_EQ(arange(0, 1200, 1, kFloat16).str(),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.1970e+03, 1.1980e+03,\n"
            "        1.1990e+03], dtype=torch.float16)");
}

TEST(HalfTensor, MixedDTypesNameBoth) {
  Tensor b = ones({2}, kBFloat16), f = ones({2}, kFloat32), h = ones({2}, kFloat16);
  // Arithmetic promotes as torch 1.13: bfloat16 + float32 -> float32, float16 * bfloat16 -> float32.
  EXPECT_EQ((b + f).dtype(), kFloat32);
  EXPECT_EQ((h * b).dtype(), kFloat32);
  EXPECT_LOOM_ERROR(matmul(b.view({1, 2}), f.view({2, 1})), "expected scalar type BFloat16 but found Float");
  // torch.where(c, bfloat16, float16).dtype -> float32: where promotes its values
  EXPECT_EQ(where(gt(b, b), b, h).dtype(), kFloat32);
}

// The recurrent layers run in 16 bits (tests/nn/rnn_half_test.cc); a 16-bit
// input to a float32 layer is a dtype mismatch naming both.
TEST(HalfTensor, RecurrentLayersNameMismatchedDTypes) {
  nn::LSTM lstm(nn::LSTMOptions(3, 4));
  EXPECT_LOOM_ERROR(lstm->forward(ones({2, 1, 3}, kBFloat16)),
                    "expected weight_ih to have dtype bfloat16 like the input, got float32");
  nn::GRU gru(nn::GRUOptions(3, 4));
  gru->to(kFloat16);
  Tensor y = std::get<0>(gru->forward(ones({2, 1, 3}, kFloat16)));
  EXPECT_EQ(y.dtype(), kFloat16);
}

}  // namespace
}  // namespace loom
