// Tensor::str() against what PyTorch 1.13 prints (repr) for the same tensors;
// every expected string below was printed by /usr/bin/python3 (torch 1.13)
// for the construction on the line above it.
#include <limits>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/tensor.h"
#include "../autograd/op_testing.h"

namespace loom {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct PrintCase {
  const char* name;
  Tensor t;
  const char* expected;
};

std::vector<PrintCase> cases() {
  return {
  // Float32Matrix: repr from torch 1.13
  {"Float32Matrix", tensor({0.5, -1.25, 2.0, 3.0, -0.75, 1.5}, {2, 3}),
   R"(tensor([[ 0.5000, -1.2500,  2.0000],
        [ 3.0000, -0.7500,  1.5000]]))"},
  // Float32MixedWidths: repr from torch 1.13
  {"Float32MixedWidths", tensor({0.1234567, -12.3456, 100.5, 0.0}, {2, 2}),
   R"(tensor([[  0.1235, -12.3456],
        [100.5000,   0.0000]]))"},
  // Float64: repr from torch 1.13
  {"Float64", tensor({1.5, -2.25, 3.0}, kFloat64),
   R"(tensor([ 1.5000, -2.2500,  3.0000], dtype=torch.float64))"},
  // Float64Integral: repr from torch 1.13
  {"Float64Integral", tensor({1, 2, 3}, kFloat64),
   R"(tensor([1., 2., 3.], dtype=torch.float64))"},
  // Float32Integral: repr from torch 1.13
  {"Float32Integral", tensor({1, -2, 30, 4}, {2, 2}),
   R"(tensor([[ 1., -2.],
        [30.,  4.]]))"},
  // Int64: repr from torch 1.13
  {"Int64", tensor_int64({1, -20, 300, 4, 5, 6}, {2, 3}),
   R"(tensor([[  1, -20, 300],
        [  4,   5,   6]]))"},
  // Int64Negative: repr from torch 1.13
  {"Int64Negative", tensor_int64({-1, 2}, {2}),
   R"(tensor([-1,  2]))"},
  // Bool: repr from torch 1.13
  {"Bool", tensor({1, 0, 1}).to(kBool),
   R"(tensor([ True, False,  True]))"},
  // Bool2d: repr from torch 1.13
  {"Bool2d", tensor({1, 0}, {2, 1}).to(kBool),
   R"(tensor([[ True],
        [False]]))"},
  // RequiresGrad: repr from torch 1.13
  {"RequiresGrad", tensor({1.5, 2.5}).requires_grad_(),
   R"(tensor([1.5000, 2.5000], requires_grad=True))"},
  // GradFn: repr from torch 1.13
  {"GradFn", tensor({1.5, 2.5}).requires_grad_() * 2.0,
   R"(tensor([3., 5.], grad_fn=<MulBackward0>))"},
  // Float64RequiresGrad: repr from torch 1.13
  {"Float64RequiresGrad", tensor({0.25}, {1, 1}, kFloat64).requires_grad_(),
   R"(tensor([[0.2500]], dtype=torch.float64, requires_grad=True))"},
  // Scalar: repr from torch 1.13
  {"Scalar", full({}, 3.25),
   R"(tensor(3.2500))"},
  // ScalarFloat64: repr from torch 1.13
  {"ScalarFloat64", tensor({-0.5}, {}, kFloat64),
   R"(tensor(-0.5000, dtype=torch.float64))"},
  // ScalarZero: repr from torch 1.13
  {"ScalarZero", full({}, 0.0),
   R"(tensor(0.))"},
  // ScalarInt64: repr from torch 1.13
  {"ScalarInt64", tensor_int64({7}, {}),
   R"(tensor(7))"},
  // SciLarge: repr from torch 1.13
  {"SciLarge", tensor({1e10, 1.0}),
   R"(tensor([1.0000e+10, 1.0000e+00]))"},
  // SciSmall: repr from torch 1.13
  {"SciSmall", tensor({1e-5, 1.0}),
   R"(tensor([1.0000e-05, 1.0000e+00]))"},
  // SciRatio: repr from torch 1.13
  {"SciRatio", tensor({12345.678, 0.5}),
   R"(tensor([1.2346e+04, 5.0000e-01]))"},
  // SciIntegralRatio: repr from torch 1.13
  {"SciIntegralRatio", tensor({2000, 1}),
   R"(tensor([2.0000e+03, 1.0000e+00]))"},
  // NanInf: repr from torch 1.13
  {"NanInf", tensor({kNaN, kInf, -kInf, 1.5}),
   R"(tensor([   nan,    inf,   -inf, 1.5000]))"},
  // NanIntegral: repr from torch 1.13
  {"NanIntegral", tensor({kNaN, 2.0}),
   R"(tensor([nan, 2.]))"},
  // NegativeZero: repr from torch 1.13
  {"NegativeZero", tensor({-0.0, 0.0, 1.0}),
   R"(tensor([-0., 0., 1.]))"},
  // Zeros: repr from torch 1.13
  {"Zeros", zeros({2}),
   R"(tensor([0., 0.]))"},
  // Empty: repr from torch 1.13
  {"Empty", zeros({0}),
   R"(tensor([]))"},
  // Empty2d: repr from torch 1.13
  {"Empty2d", zeros({2, 0}),
   R"(tensor([], size=(2, 0)))"},
  // EmptyInt64: repr from torch 1.13
  {"EmptyInt64", tensor_int64({}, {0}),
   R"(tensor([], dtype=torch.int64))"},
  // EmptyFloat64: repr from torch 1.13
  {"EmptyFloat64", zeros({0, 3}, kFloat64),
   R"(tensor([], size=(0, 3), dtype=torch.float64))"},
  // ThreeDims: repr from torch 1.13
  {"ThreeDims", arange(12.0).reshape({2, 3, 2}) - 5.5,
   R"(tensor([[[-5.5000, -4.5000],
         [-3.5000, -2.5000],
         [-1.5000, -0.5000]],

        [[ 0.5000,  1.5000],
         [ 2.5000,  3.5000],
         [ 4.5000,  5.5000]]]))"},
  // LongRowWraps: repr from torch 1.13
  {"LongRowWraps", arange(30.0) * 0.37,
   R"(tensor([ 0.0000,  0.3700,  0.7400,  1.1100,  1.4800,  1.8500,  2.2200,  2.5900,
         2.9600,  3.3300,  3.7000,  4.0700,  4.4400,  4.8100,  5.1800,  5.5500,
         5.9200,  6.2900,  6.6600,  7.0300,  7.4000,  7.7700,  8.1400,  8.5100,
         8.8800,  9.2500,  9.6200,  9.9900, 10.3600, 10.7300]))"},
  // SuffixWraps: repr from torch 1.13
  {"SuffixWraps", (arange(12.0, kFloat64).reshape({2, 6}) * 1.1).requires_grad_(),
   R"(tensor([[ 0.0000,  1.1000,  2.2000,  3.3000,  4.4000,  5.5000],
        [ 6.6000,  7.7000,  8.8000,  9.9000, 11.0000, 12.1000]],
       dtype=torch.float64, requires_grad=True))"},
  // Summarized1d: repr from torch 1.13
  {"Summarized1d", arange(2000.0),
   R"(tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,
        1.9990e+03]))"},
  // Summarized2d: repr from torch 1.13
  {"Summarized2d", arange(3000.0).reshape({1000, 3}),
   R"(tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00],
        [3.0000e+00, 4.0000e+00, 5.0000e+00],
        [6.0000e+00, 7.0000e+00, 8.0000e+00],
        ...,
        [2.9910e+03, 2.9920e+03, 2.9930e+03],
        [2.9940e+03, 2.9950e+03, 2.9960e+03],
        [2.9970e+03, 2.9980e+03, 2.9990e+03]]))"},
  // Summarized3d: repr from torch 1.13
  {"Summarized3d", arange(1400.0, kInt64).reshape({7, 2, 100}),
   R"(tensor([[[   0,    1,    2,  ...,   97,   98,   99],
         [ 100,  101,  102,  ...,  197,  198,  199]],

        [[ 200,  201,  202,  ...,  297,  298,  299],
         [ 300,  301,  302,  ...,  397,  398,  399]],

        [[ 400,  401,  402,  ...,  497,  498,  499],
         [ 500,  501,  502,  ...,  597,  598,  599]],

        ...,

        [[ 800,  801,  802,  ...,  897,  898,  899],
         [ 900,  901,  902,  ...,  997,  998,  999]],

        [[1000, 1001, 1002,  ..., 1097, 1098, 1099],
         [1100, 1101, 1102,  ..., 1197, 1198, 1199]],

        [[1200, 1201, 1202,  ..., 1297, 1298, 1299],
         [1300, 1301, 1302,  ..., 1397, 1398, 1399]]]))"},
  // NonContiguous: repr from torch 1.13
  {"NonContiguous", tensor({1.5, 2, 3, 4, 5, 6}, {2, 3}).t(),
   R"(tensor([[1.5000, 4.0000],
        [2.0000, 5.0000],
        [3.0000, 6.0000]]))"},
  };
}

TEST(Print, MatchesPyTorch) {
  for (const PrintCase& c : cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(c.t.str(), std::string(c.expected));
  }
}

TEST(Print, FmtFormatterUsesStr) {
  Tensor t = tensor({1.5, 2.5});
  EXPECT_EQ(fmt::format("{}", t), "tensor([1.5000, 2.5000])");
  EXPECT_EQ(Tensor().str(), "[ Tensor (undefined) ]");
}

TEST(Print, CudaTensorsNameTheirDevice) {
  LOOM_SKIP_WITHOUT_CUDA();
  // torch 1.13: torch.tensor([1.5, 2.5], device='cuda') prints
  // "tensor([1.5000, 2.5000], device='cuda:0')".
  EXPECT_EQ(tensor({1.5, 2.5}).to(kCUDA).str(), "tensor([1.5000, 2.5000], device='cuda:0')");
  EXPECT_EQ(tensor({1.5, 2.5}, kFloat64).to(kCUDA).str(),
            "tensor([1.5000, 2.5000], device='cuda:0', dtype=torch.float64)");
}

}  // namespace
}  // namespace loom
