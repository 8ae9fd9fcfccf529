// softmax, log_softmax, nll_loss, cross_entropy, mse_loss: forward values and
// gradients against PyTorch 1.13, gradients against finite differences
// (gradcheck in float64, random upstream gradient), numerics at extreme inputs,
// and error messages in PyTorch's words.
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "autograd/functions.h"
#include "op_testing.h"

namespace loom {
namespace {

using testing::expect_tensor;
using testing::leaf;
using testing::uniform;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// x = [[0.5, -1.25, 2, 0], [3, -0.75, 1.5, 2.5], [-2, 4, 0.25, 1]] (float64), the
// input of the PyTorch script that printed every literal below (torch 1.13).
Tensor lit_x() {
  return tensor({0.5, -1.25, 2.0, 0.0, 3.0, -0.75, 1.5, 2.5, -2.0, 4.0, 0.25, 1.0}, {3, 4}, kFloat64);
}
Tensor lit_y() {  // mse_loss target
  return tensor({0.25, 1.0, -2.0, 0.5, 1.0, 1.0, 1.0, 1.0, 0.0, 3.0, 0.5, -1.0}, {3, 4}, kFloat64);
}

// ---- softmax / log_softmax ------------------------------------------------------------
TEST(Softmax, ForwardMatchesPyTorchOverSeveralDims) {
  Tensor x = lit_x();
  expect_tensor(softmax(x, 1), {3, 4},
                {0.15969355003210822, 0.027750577932680404, 0.7156968377823844, 0.09685903425282705,
                 0.5396134072018355, 0.012690490971067921, 0.12040402596718543, 0.32729207585991116,
                 0.002304136495559239, 0.9295550064460426, 0.021861038400778937, 0.046279818657619334},
                1e-13, 0, "softmax(x, 1)");
  expect_tensor(softmax(x, 0), {3, 4},
                {0.07538874796299669, 0.005175581881099775, 0.5617016314080712, 0.0628900132458675,
                 0.9184229667642034, 0.00853309193561938, 0.3406892610595999, 0.7661572065563422,
                 0.006188285272800036, 0.9862913261832809, 0.09760910753232893, 0.17095278019779026},
                1e-13, 0, "softmax(x, 0)");
  expect_tensor(log_softmax(x, 1), {3, 4},
                {-1.8344986126036624, -3.5844986126036624, -0.33449861260366254, -2.3344986126036624,
                 -0.6169023084008031, -4.366902308400803, -2.116902308400803, -1.1169023084008032,
                 -6.073049295039028, -0.07304929503902842, -3.8230492950390285, -3.0730492950390285},
                1e-13, 0, "log_softmax(x, 1)");
  expect_tensor(log_softmax(x, -2), {3, 4},
                {-2.58509724636431, -5.263803505359469, -0.5767844750362334, -2.7663678998071335,
                 -0.08509724636430994, -4.763803505359469, -1.0767844750362334, -0.26636789980713366,
                 -5.08509724636431, -0.013803505359469332, -2.3267844750362334, -1.7663678998071337},
                1e-13, 0, "log_softmax(x, -2)");
  // The middle dim of x.reshape(2, 3, 2): outer 2, D 3, inner 2.
  expect_tensor(softmax(x.reshape({2, 3, 2}), 1), {2, 3, 2},
                {0.05661173224047129, 0.1628912750924906, 0.25371618163502524, 0.5685464148510541,
                 0.6896720861245036, 0.26856231005645526, 0.7594731860969822, 0.1752903921400367,
                 0.022934102999540424, 0.7855970345892759, 0.21759271090347723, 0.039112573270687456},
                1e-13, 0, "softmax middle dim");
  expect_tensor(log_softmax(x.reshape({2, 3, 2}), 1), {2, 3, 2},
                {-2.871539031852683, -1.8146723247072887, -1.3715390318526828, -0.5646723247072887,
                 -0.37153903185268283, -1.3146723247072887, -0.2751302622476354, -1.7413112966571571,
                 -3.7751302622476355, -0.24131129665715703, -1.5251302622476355, -3.241311296657157},
                1e-13, 0, "log_softmax middle dim");
}

TEST(Softmax, NonContiguousInputGivesTheSameValues) {
  Tensor x = lit_x();
  Tensor viaT = softmax(x.t().contiguous().t(), 1);  // strided [3, 4] view
  ASSERT_FALSE(x.t().contiguous().t().is_contiguous());
  expect_tensor(viaT, {3, 4}, testing::values(softmax(x, 1)), 0, 0);
  expect_tensor(softmax(x.t(), 0), {4, 3}, testing::values(softmax(x, 1).t()), 0, 0);
}

TEST(Softmax, StableForLargeAndInfiniteInputsAsPyTorch) {
  // float32; torch 1.13: softmax([1000, 1001, 1002]) and with -inf.
  expect_tensor(softmax(tensor({1000, 1001, 1002}, kFloat32), 0), {3},
                {0.09003057330846786, 0.2447284758090973, 0.6652409434318542}, 1e-6, 0, "softmax big");
  expect_tensor(log_softmax(tensor({1000, 1001, 1002}, kFloat32), 0), {3},
                {-2.4076058864593506, -1.4076058864593506, -0.40760594606399536}, 1e-6, 0,
                "log_softmax big");
  expect_tensor(softmax(tensor({-kInf, 0, 1}, kFloat32), 0), {3},
                {0.0, 0.2689414322376251, 0.7310585975646973}, 1e-6, 0, "softmax -inf");
  expect_tensor(log_softmax(tensor({-kInf, 0, 1}, kFloat32), 0), {3},
                {-kInf, -1.31326162815094, -0.31326165795326233}, 1e-6, 0, "log_softmax -inf");
  // A NaN poisons its row only.
  Tensor r = softmax(tensor({1, kNaN, 2, 0, 1, 2}, {2, 3}, kFloat64), 1);
  std::vector<double> v = testing::values(r);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(v[i]));
  EXPECT_NEAR(v[3] + v[4] + v[5], 1.0, 1e-15);
}

TEST(Softmax, ZeroDimAndEmptyInputs) {
  // torch 1.13: softmax(tensor(3.), 0) = 1, log_softmax(tensor(3.), -1) = 0.
  expect_tensor(softmax(tensor({3.0}, {}, kFloat64), 0), {}, {1.0}, 0, 0);
  expect_tensor(log_softmax(tensor({3.0}, {}, kFloat64), -1), {}, {0.0}, 0, 0);
  EXPECT_EQ(softmax(zeros({0, 3}, kFloat64), 1).numel(), 0);
  EXPECT_EQ(shape_str(log_softmax(zeros({2, 0}, kFloat64), 1).shape()), "[2, 0]");
}

TEST(Softmax, RowsSumToOneOverLongRows) {
  // Rows longer than a CUDA block's thread count exercise the strided partials.
  Tensor x = uniform({3, 1000}, 5, -20, 20);
  Tensor s = sum(softmax(x, 1), {1});
  expect_tensor(s, {3}, {1, 1, 1}, 0, 1e-14);
  Tensor l = log_softmax(x, 1);
  expect_tensor(sum(exp(l), {1}), {3}, {1, 1, 1}, 0, 1e-13);
}

TEST(Softmax, GradcheckOverEveryDim) {
  Tensor x = leaf({2, 3, 4}, 1, -2, 2);
  for (std::int64_t dim : {0, 1, 2, -1}) {
    SCOPED_TRACE(dim);
    EXPECT_GRADCHECK(Fn([dim](const std::vector<Tensor>& v) { return softmax(v[0], dim); }), {x});
    EXPECT_GRADCHECK(Fn([dim](const std::vector<Tensor>& v) { return log_softmax(v[0], dim); }), {x});
    // Non-contiguous input.
    EXPECT_GRADCHECK(Fn([dim](const std::vector<Tensor>& v) { return softmax(v[0].transpose(0, 2), dim); }),
                     {x});
    EXPECT_GRADCHECK(Fn([dim](const std::vector<Tensor>& v) { return log_softmax(v[0].permute({1, 2, 0}), dim); }),
                     {x});
  }
  Tensor s = leaf({}, 2);
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return softmax(v[0], 0) * v[0]; }), {s});
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return log_softmax(v[0], 0) + v[0]; }), {s});
}

TEST(Softmax, NodeNames) {
  Tensor x = leaf({2, 3}, 3);
  EXPECT_STREQ(grad_fn_name(*softmax(x, 1).grad_fn()), "SoftmaxBackward");
  EXPECT_STREQ(grad_fn_name(*log_softmax(x, 1).grad_fn()), "LogSoftmaxBackward");
  EXPECT_FALSE(softmax(lit_x(), 1).requires_grad());
}

TEST(Softmax, Errors) {
  // torch 1.13: "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
  EXPECT_LOOM_ERROR(softmax(lit_x(), 2), "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  EXPECT_LOOM_ERROR(log_softmax(tensor_int64({1, 2}, {2}), 0),
                    "log_softmax: expected a floating dtype (float32, float64, bfloat16 or float16), got int64");
}

// ---- nll_loss ----------------------------------------------------------------------------
TEST(NllLoss, ForwardAndGradientMatchPyTorchForEachReduction) {
  // nll_loss(x, [2, -100, 1], ignore_index=-100); backward with upstream
  // [0.5, 2, -1] for 'none' and 1 otherwise (torch 1.13).
  Tensor target = tensor_int64({2, -100, 1}, {3});
  struct Case {
    Reduction reduction;
    Shape shape;
    std::vector<double> loss, grad;
  };
  const Case cases[] = {
      {Reduction::None, {3}, {-2.0, 0.0, -4.0}, {0, 0, -0.5, 0, 0, 0, 0, 0, 0, 1.0, 0, 0}},
      {Reduction::Mean, {}, {-3.0}, {0, 0, -0.5, 0, 0, 0, 0, 0, 0, -0.5, 0, 0}},
      {Reduction::Sum, {}, {-6.0}, {0, 0, -1.0, 0, 0, 0, 0, 0, 0, -1.0, 0, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.reduction));
    Tensor x = lit_x().requires_grad_();
    Tensor loss = nll_loss(x, target, -100, c.reduction);
    expect_tensor(loss, c.shape, c.loss, 1e-15, 0, "loss");
    EXPECT_STREQ(grad_fn_name(*loss.grad_fn()), "NllLossBackward");
    if (c.reduction == Reduction::None) loss.backward(tensor({0.5, 2.0, -1.0}, kFloat64));
    else loss.backward();
    expect_tensor(x.grad(), {3, 4}, c.grad, 1e-15, 0, "grad");
  }
}

TEST(NllLoss, AllIgnoredMeanIsNaNWithZeroGradientAsPyTorch) {
  // torch 1.13: nll_loss(x[:2], [-100, -100]) = nan; x.grad = zeros.
  Tensor x = lit_x().narrow(0, 0, 2).contiguous().requires_grad_();
  Tensor loss = nll_loss(x, tensor_int64({-100, -100}, {2}));
  EXPECT_TRUE(std::isnan(loss.item()));
  loss.backward();
  expect_tensor(x.grad(), {2, 4}, std::vector<double>(8, 0.0), 0, 0);
  expect_tensor(nll_loss(x, tensor_int64({-100, -100}, {2}), -100, Reduction::Sum), {}, {0}, 0, 0);
}

TEST(NllLoss, IgnoreIndexMayLieOutsideTheClasses) {
  // torch 1.13: ignore_index=5 ignores target 5; -100 is then out of bounds.
  Tensor x = lit_x();
  expect_tensor(nll_loss(x, tensor_int64({5, 1, 5}, {3}), 5, Reduction::Sum), {}, {0.75}, 0, 0);
  EXPECT_LOOM_ERROR(nll_loss(x, tensor_int64({-100, 1, 0}, {3}), 5), "Target -100 is out of bounds.");
}

TEST(NllLoss, UnbatchedInput) {
  Tensor x = lit_x().select(0, 1);
  expect_tensor(nll_loss(x, tensor_int64({3}, {}), -100, Reduction::None), {}, {-2.5}, 0, 0);
  expect_tensor(nll_loss(x, tensor_int64({0}, {})), {}, {-3.0}, 0, 0);
  expect_tensor(nll_loss(x, tensor_int64({-100}, {}), -100, Reduction::None), {}, {0}, 0, 0);
}

TEST(NllLoss, Gradcheck) {
  Tensor x = leaf({5, 4}, 11);
  Tensor target = tensor_int64({3, -100, 0, 2, 3}, {5});
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    SCOPED_TRACE(static_cast<int>(r));
    EXPECT_GRADCHECK(Fn([&](const std::vector<Tensor>& v) { return nll_loss(v[0], target, -100, r); }), {x});
    Tensor target3 = tensor_int64({3, 1, 0, 2, 3}, {5});  // ignore_index 3, a valid class
    EXPECT_GRADCHECK(Fn([&](const std::vector<Tensor>& v) { return nll_loss(v[0], target3, 3, r); }), {x});
    EXPECT_GRADCHECK(Fn([&](const std::vector<Tensor>& v) {
                       return nll_loss(v[0].t().contiguous().t(), target, -100, r);
                     }),
                     {x});
    Tensor x1 = leaf({4}, 12);
    EXPECT_GRADCHECK(Fn([&](const std::vector<Tensor>& v) { return nll_loss(v[0], tensor_int64({1}, {}), -100, r); }),
                     {x1});
  }
}

TEST(NllLoss, ErrorsInPyTorchWords) {
  Tensor x = lit_x();
  // torch 1.13 messages for the same calls.
  EXPECT_LOOM_ERROR(nll_loss(x, tensor_int64({1, 2, 4}, {3})), "Target 4 is out of bounds.");
  EXPECT_LOOM_ERROR(nll_loss(x, tensor_int64({1, -3, 2}, {3})), "Target -3 is out of bounds.");
  EXPECT_LOOM_ERROR(nll_loss(x, tensor({1, 2, 3}, kFloat32)), "expected scalar type Long but found Float");
  EXPECT_LOOM_ERROR(nll_loss(x, tensor_int64({1, 2}, {2})),
                    "Expected input batch_size (3) to match target batch_size (2).");
  EXPECT_LOOM_ERROR(nll_loss(x, tensor_int64({1, 2}, {1, 2})),
                    "0D or 1D target tensor expected, multi-target not supported");
  EXPECT_LOOM_ERROR(nll_loss(x.select(0, 0), tensor_int64({1}, {1})),
                    "size mismatch (got input: [4], target: [1])");
  EXPECT_LOOM_ERROR(nll_loss(x.reshape({1, 3, 4}), tensor_int64({1}, {1})), "input tensor should be 1D or 2D");
  EXPECT_LOOM_ERROR(nll_loss(tensor_int64({1, 2}, {1, 2}), tensor_int64({1}, {1})),
                    "nll_loss: expected a floating dtype");
}

// ---- cross_entropy ---------------------------------------------------------------------------
TEST(CrossEntropy, ForwardAndGradientMatchPyTorchForEachReduction) {
  // cross_entropy(x, [3, 1, 0], ignore_index=1); backward with upstream [0.5, 2, -1]
  // for 'none' and 1 otherwise (torch 1.13).
  Tensor target = tensor_int64({3, 1, 0}, {3});
  struct Case {
    Reduction reduction;
    Shape shape;
    std::vector<double> loss, grad;
  };
  const Case cases[] = {
      {Reduction::None, {3}, {2.3344986126036624, 0.0, 6.073049295039028},
       {0.07984677501605413, 0.013875288966340205, 0.3578484188911922, -0.4515704828735865, 0, 0, 0, 0,
        0.9976958635044407, -0.9295550064460426, -0.021861038400778937, -0.04627981865761933}},
      {Reduction::Mean, {}, {4.203773953821345},
       {0.07984677501605413, 0.013875288966340205, 0.3578484188911922, -0.4515704828735865, 0, 0, 0, 0,
        -0.49884793175222036, 0.4647775032230213, 0.010930519200389469, 0.023139909328809664}},
      {Reduction::Sum, {}, {8.40754790764269},
       {0.15969355003210825, 0.02775057793268041, 0.7156968377823844, -0.903140965747173, 0, 0, 0, 0,
        -0.9976958635044407, 0.9295550064460426, 0.021861038400778937, 0.04627981865761933}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.reduction));
    Tensor x = lit_x().requires_grad_();
    Tensor loss = cross_entropy(x, target, 1, c.reduction);
    expect_tensor(loss, c.shape, c.loss, 1e-14, 0, "loss");
    if (c.reduction == Reduction::None) loss.backward(tensor({0.5, 2.0, -1.0}, kFloat64));
    else loss.backward();
    expect_tensor(x.grad(), {3, 4}, c.grad, 1e-13, 1e-16, "grad");
  }
}

TEST(CrossEntropy, UnbatchedAndFloat32MatchPyTorch) {
  // cross_entropy(x[0], 2) = 0.33449861260366254 and its gradient; float32
  // cross_entropy(x, [0, 1, 3]) = 3.0914833545684814 (torch 1.13).
  Tensor x0 = lit_x().select(0, 0).contiguous().requires_grad_();
  Tensor l = cross_entropy(x0, tensor_int64({2}, {}));
  expect_tensor(l, {}, {0.33449861260366254}, 1e-14, 0);
  l.backward();
  expect_tensor(x0.grad(), {4},
                {0.15969355003210825, 0.02775057793268041, -0.28430316221761565, 0.09685903425282705},
                1e-13, 0);
  Tensor l32 = cross_entropy(lit_x().to(kFloat32), tensor_int64({0, 1, 3}, {3}));
  EXPECT_EQ(l32.dtype(), kFloat32);
  expect_tensor(l32, {}, {3.0914833545684814}, 1e-6, 0);
}

TEST(CrossEntropy, Gradcheck) {
  Tensor x = leaf({6, 5}, 21, -3, 3);
  Tensor target = tensor_int64({4, 0, -100, 2, 2, 1}, {6});
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    SCOPED_TRACE(static_cast<int>(r));
    EXPECT_GRADCHECK(Fn([&](const std::vector<Tensor>& v) { return cross_entropy(v[0], target, -100, r); }),
                     {x});
    Tensor target2 = tensor_int64({4, 0, 2, 2, 3, 1}, {6});  // ignore_index 2, a valid class
    EXPECT_GRADCHECK(Fn([&](const std::vector<Tensor>& v) { return cross_entropy(v[0], target2, 2, r); }),
                     {x});
  }
  Tensor x1 = leaf({5}, 22);
  EXPECT_GRADCHECK(Fn([](const std::vector<Tensor>& v) { return cross_entropy(v[0], tensor_int64({3}, {})); }),
                   {x1});
}

TEST(CrossEntropy, Errors) {
  EXPECT_LOOM_ERROR(cross_entropy(lit_x(), tensor_int64({0, 7, 1}, {3})), "Target 7 is out of bounds.");
  EXPECT_LOOM_ERROR(cross_entropy(lit_x().reshape({3, 2, 2}), tensor_int64({0, 1, 1}, {3})),
                    "input tensor should be 1D or 2D");
}

// ---- mse_loss --------------------------------------------------------------------------------
TEST(MseLoss, ForwardAndGradientsMatchPyTorchForEachReduction) {
  // mse_loss(x, y) and gradients for both arguments; upstream 0.5 everywhere for
  // 'none', 1 otherwise (torch 1.13).
  struct Case {
    Reduction reduction;
    Shape shape;
    std::vector<double> loss, gx;
  };
  const Case cases[] = {
      {Reduction::None, {3, 4}, {0.0625, 5.0625, 16.0, 0.25, 4.0, 3.0625, 0.25, 2.25, 4.0, 1.0, 0.0625, 4.0},
       {0.25, -2.25, 4.0, -0.5, 2.0, -1.75, 0.5, 1.5, -2.0, 1.0, -0.25, 2.0}},
      {Reduction::Mean, {}, {3.3333333333333335},
       {0.041666666666666664, -0.375, 0.6666666666666666, -0.08333333333333333, 0.3333333333333333,
        -0.29166666666666663, 0.08333333333333333, 0.25, -0.3333333333333333, 0.16666666666666666,
        -0.041666666666666664, 0.3333333333333333}},
      {Reduction::Sum, {}, {40.0}, {0.5, -4.5, 8.0, -1.0, 4.0, -3.5, 1.0, 3.0, -4.0, 2.0, -0.5, 4.0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.reduction));
    Tensor x = lit_x().requires_grad_(), y = lit_y().requires_grad_();
    Tensor loss = mse_loss(x, y, c.reduction);
    expect_tensor(loss, c.shape, c.loss, 1e-15, 0, "loss");
    EXPECT_STREQ(grad_fn_name(*loss.grad_fn()), "MseLossBackward");
    if (c.reduction == Reduction::None) loss.backward(full({3, 4}, 0.5, kFloat64));
    else loss.backward();
    expect_tensor(x.grad(), {3, 4}, c.gx, 1e-15, 0, "d input");
    std::vector<double> gy;
    for (double g : c.gx) gy.push_back(-g);
    expect_tensor(y.grad(), {3, 4}, gy, 1e-15, 0, "d target");
  }
}

TEST(MseLoss, Gradcheck) {
  Tensor x = leaf({3, 4}, 31), y = leaf({3, 4}, 32), row = leaf({4}, 33);
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    SCOPED_TRACE(static_cast<int>(r));
    EXPECT_GRADCHECK(Fn([r](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1], r); }), {x, y});
    // Broadcast target (PyTorch warns and broadcasts).
    EXPECT_GRADCHECK(Fn([r](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1], r); }), {x, row});
    EXPECT_GRADCHECK(Fn([r](const std::vector<Tensor>& v) { return mse_loss(v[0].t(), v[1].t(), r); }), {x, y});
  }
  Tensor fixed = uniform({3, 4}, 34);
  EXPECT_GRADCHECK(Fn([fixed](const std::vector<Tensor>& v) { return mse_loss(v[0], fixed); }), {x});
}

TEST(MseLoss, Errors) {
  // torch 1.13: "The size of tensor a (4) must match the size of tensor b (5) at non-singleton dimension 1"
  EXPECT_LOOM_ERROR(mse_loss(lit_x(), zeros({3, 5}, kFloat64)),
                    "The size of tensor a (4) must match the size of tensor b (5) at non-singleton dimension 1");
  EXPECT_LOOM_ERROR(mse_loss(lit_x(), zeros({3, 4}, kFloat32)), "same dtype");
}

}  // namespace
}  // namespace loom
