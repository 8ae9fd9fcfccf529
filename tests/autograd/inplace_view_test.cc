// In-place ops on differentiable views (PyTorch's CopySlices): the base's
// history takes the change, views follow their base. Expected values are
// PyTorch 1.13's, printed by tests/fixtures/print_inplace_view_reference.py
// (programs A-F, quoted next to each literal), or finite differences
// (gradcheck); error texts are PyTorch 1.13's.
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/indexing.h"
#include "autograd/node.h"
#include "core/native.h"
#include "op_testing.h"

namespace loom {
namespace {

using indexing::Slice;
using testing::expect_tensor;

TensorOptions f64() { return TensorOptions(kFloat64); }

Tensor x_2x3() {
  return tensor({0.5, -1.25, 2.0, 1.5, 0.25, -0.75}, {2, 3}, f64().requires_grad());
}

constexpr double kTol = 1e-12;

// Program A: y = x * 2; y[0].mul_(3); (y * y).sum().backward()
TEST(InplaceViews, MatchesPyTorchScalingOneRow) {
  Tensor x = x_2x3();
  Tensor y = x * 2;
  y[0].mul_(3);
  EXPECT_STREQ(y.grad_fn()->name(), "CopySlices");
  EXPECT_FALSE(y.is_leaf());
  (y * y).sum().backward();
  expect_tensor(y, {2, 3}, {3.0, -7.5, 12.0, 3.0, 0.5, -1.5}, 0, 0);
  expect_tensor(x.grad(), {2, 3}, {36.0, -90.0, 144.0, 12.0, 2.0, -6.0}, kTol, kTol);
}

// Program B: a recurrent loop filling a buffer that does not require grad:
//   out = zeros(3, 2, 3); h = zeros(2, 3)
//   for t: h = tanh(inp[t] + h @ W); out[t].copy_(h)
//   (out * coeff).sum().backward()
struct RecurrentBuffer {
  Tensor w, inp, out;
};
RecurrentBuffer recurrent_buffer(Device device) {
  RecurrentBuffer r;
  r.w = tensor({0.5, -0.25, 0.125, 0.75, 0.5, -0.5, -0.25, 1.0, 0.25}, {3, 3}, f64().device(device))
            .requires_grad_(true);
  r.inp = tensor({0.1, 0.2, -0.3, 0.4, -0.5, 0.6, -0.7, 0.8, 0.9, 1.0, -1.1, 0.2, 0.3, 0.3, -0.6,
                  0.05, 0.15, -0.25},
                 {3, 2, 3}, f64().device(device))
              .requires_grad_(true);
  std::vector<double> c;
  for (int i = 0; i < 18; ++i) c.push_back(i % 5 - 2.0);
  Tensor coeff = tensor(c, {3, 2, 3}, f64().device(device));
  r.out = zeros({3, 2, 3}, f64().device(device));
  Tensor h = zeros({2, 3}, f64().device(device));
  for (std::int64_t t = 0; t < 3; ++t) {
    h = tanh(r.inp[t] + matmul(h, r.w));
    r.out[t].copy_(h);
  }
  EXPECT_TRUE(r.out.requires_grad());
  (r.out * coeff).sum().backward();
  return r;
}

TEST(InplaceViews, MatchesPyTorchRecurrentBufferFill) {
  RecurrentBuffer r = recurrent_buffer(kCPU);
  expect_tensor(r.out, {3, 2, 3},
                {0.09966799462495582, 0.197375320224904, -0.2913126124515909, 0.3799489622552249,
                 -0.46211715726000974, 0.5370495669980353, -0.40474146016252766, 0.5244496950436269,
                 0.6297143723179053, 0.6101273612911966, -0.7108976076533219, 0.5461053266860236,
                 0.32169618912831255, 0.8599426784526829, -0.6383529182232076, -0.3046486142261018,
                 0.18593635569373151, 0.3079156094484373},
                kTol, kTol);
  expect_tensor(r.w.grad(), {3, 3},
                {-0.8652117647775965, -1.4501851305743434, -0.7891010479430004, 0.7514631502939508,
                 1.635321023863091, 1.297187046535882, -0.31768125438943495, -1.286541337115016,
                 -0.09723807286698516},
                kTol, kTol);
  expect_tensor(r.inp.grad(), {3, 2, 3},
                {-2.1605045688202167, -2.1261731067972294, 0.08368038180049309, 1.5071313214499946,
                 1.7365331891931244, -3.113655789645509, -0.7667795939570848, -0.3351138371149365,
                 0.9394368822510829, 0.8375165707023019, -1.901088463999601, -1.0609575330971384, 0.0,
                 0.2604985897756256, 1.1850111035918296, -1.8143784437002317, -0.9654276716313341, 0.0},
                kTol, kTol);
}

// Program C: a view of a view, a view taken before the base changes, two
// writes to overlapping views and an in-place op on the base itself:
//   y = x * x; v = y.narrow(0, 1, 2); w = y[3]
//   v.t()[1].add_(x[0, :2]); y.narrow(0, 0, 3)[2].mul_(2); y.mul_(y.detach() + 1)
//   ((v * v).sum() + (w * y[0]).sum()).backward()
struct Chains {
  Tensor x, y;
};
Chains chains(Device device) {
  Chains c;
  c.x = tensor({0.5, -1.0, 0.25, 1.5, 0.75, -0.5, -0.25, 1.25, 0.5, 0.125, -0.75, 1.0}, {4, 3},
               f64().device(device))
            .requires_grad_(true);
  c.y = c.x * c.x;
  Tensor v = c.y.narrow(0, 1, 2);
  Tensor w = c.y[3];
  v.t()[1].add_(c.x[0].slice(0, 0, 2));
  c.y.narrow(0, 0, 3)[2].mul_(2);
  c.y.mul_(c.y.detach() + 1);
  ((v * v).sum() + (w * c.y[0]).sum()).backward();
  return c;
}

TEST(InplaceViews, MatchesPyTorchChainsAndOverlappingWrites) {
  Chains c = chains(kCPU);
  expect_tensor(c.y, {4, 3},
                {0.3125, 2.0, 0.06640625, 7.3125, 2.19140625, 0.3125, 0.140625, 2.390625, 0.75,
                 0.015869140625, 0.87890625, 2.0},
                kTol, kTol);
  expect_tensor(c.x.grad(), {4, 3},
                {9.05938720703125, 16.8046875, 1.0625, 142.59375, 13.559326171875, -0.78125,
                 -0.31640625, 50.80078125, 4.5, 0.079345703125, -4.6875, 0.265625},
                kTol, kTol);
}

// Program D: a write under no_grad changes values, not history:
//   y = x * 2; with no_grad: y[1].fill_(0.5); (y * y).sum().backward()
TEST(InplaceViews, NoGradWriteIntoAViewRecordsNothing) {
  Tensor x = x_2x3();
  Tensor y = x * 2;
  std::string before = y.grad_fn()->name();
  {
    NoGradGuard no_grad;
    y[1].fill_(0.5);
  }
  EXPECT_EQ(std::string(y.grad_fn()->name()), before);
  (y * y).sum().backward();
  expect_tensor(y, {2, 3}, {1.0, -2.5, 4.0, 0.5, 0.5, 0.5}, 0, 0);
  expect_tensor(x.grad(), {2, 3}, {4.0, -10.0, 16.0, 2.0, 2.0, 2.0}, kTol, kTol);
}

// Program E: transpose, unsqueeze, view, permute and basic indexing:
//   y = x * x + 0.5; y.t().unsqueeze(0)[0][2].mul_(s); y.view(6)[1:4].add_(s.sum())
//   y.permute(1, 0)[0].sub_(x[:, 1]); y[:, 1:].exp_()
//   (y * [[1, 2, 3], [-1, 0.5, 0.25]]).sum().backward()
TEST(InplaceViews, MatchesPyTorchTransposeViewPermuteIndex) {
  Tensor x = x_2x3();
  Tensor s = tensor({2.0, -1.0}, f64().requires_grad());
  Tensor y = x * x + 0.5;
  y.t().unsqueeze(0)[0][2].mul_(s);
  y.view({6}).slice(0, 1, 4).add_(s.sum());
  y.permute({1, 0})[0].sub_(x.select(1, 1));
  y.index({Slice(), Slice(1, std::nullopt)}).exp_();
  (y * tensor({1.0, 2.0, 3.0, -1.0, 0.5, 0.25}, {2, 3}, f64())).sum().backward();
  expect_tensor(y, {2, 3},
                {2.0, 21.380942759123343, 22026.465794806718, 3.5, 1.7550546569602985,
                 0.3455907525769745},
                kTol, 0);
  expect_tensor(x.grad(), {2, 3},
                {1.0, -107.90471379561671, 528635.1790753612, -3.0, 1.4387636642400747,
                 0.12959653221636544},
                kTol, kTol);
  expect_tensor(s.grad(), {2}, {363478.4474998291, 66121.25106748207}, kTol, 0);
}

// Program F: copy_ into a float32 buffer from float64 sources:
//   buf = zeros(2, 3, float32); buf[1].copy_(src * src); buf[0].copy_(src)
//   (buf.double() * [[1, 2, 3], [4, 5, 6]]).sum().backward()
TEST(InplaceViews, CopyIntoAFloat32BufferSendsGradientsInTheSourceDtype) {
  Tensor src = tensor({0.5, -1.5, 2.25}, f64().requires_grad());
  Tensor buf = zeros({2, 3}, TensorOptions(kFloat32));
  buf[1].copy_(src * src);
  buf[0].copy_(src);
  (buf.to(kFloat64) * tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}, f64())).sum().backward();
  ASSERT_EQ(src.grad().dtype(), kFloat64);
  expect_tensor(src.grad(), {3}, {5.0, -13.0, 30.0}, 0, 0);
}

// Finite differences in float64 for functions that build a buffer by in-place
// writes into views of it.
TEST(InplaceViews, GradcheckBufferBuiltByViewWrites) {
  Tensor a = testing::leaf({3, 4}, 11);
  Tensor b = testing::leaf({4}, 12);
  auto f = [](const std::vector<Tensor>& in) {
    const Tensor& a = in[0];
    const Tensor& b = in[1];
    Tensor buf = zeros({5, 4}, f64());
    buf[0].copy_(b);                                 // select
    buf.narrow(0, 1, 3).add_(a * b);                 // narrow, broadcasting operand
    buf.t()[2].mul_(buf.t()[1] + 2);                 // transpose: column 2 times column 1
    buf.slice(0, 0, 5, 2).mul_(b.tanh());            // rows 0, 2, 4: overlaps the writes above
    buf.view({20}).slice(0, 17, 20).sub_(a[1].slice(0, 0, 3));  // reshape view
    buf.narrow(0, 2, 2)[1].narrow(0, 1, 2).pow_(2);  // a view of a view of a view
    return buf * buf.sum();                          // both the base and its history
  };
  GradcheckResult r = gradcheck(f, {a, b});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(InplaceViews, GradcheckViewsUsedAfterTheirBaseChanged) {
  Tensor a = testing::leaf({2, 3}, 21);
  Tensor b = testing::leaf({3}, 22);
  auto f = [](const std::vector<Tensor>& in) -> std::vector<Tensor> {
    Tensor y = in[0].exp();
    Tensor y2 = y * 1.0;            // the base of the views below (exp saved y itself)
    Tensor row = y2[1];             // taken before any write
    Tensor col = y2.select(1, 2);   // overlaps row at [1, 2]
    y2[0].copy_(in[1] * in[1]);     // a write through another view
    y2.mul_(in[1]);                 // the base itself, broadcast
    row.add_(sigmoid(in[1]));          // a write through the earlier view
    return {row * col.sum(), col.unsqueeze(1) * y2, y2};
  };
  GradcheckResult r = gradcheck(f, {a, b});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(InplaceViews, ViewsFollowTheirBaseLazily) {
  Tensor x = x_2x3();
  Tensor y = x * 1.0;
  Tensor v = y[1];
  const Node* before = v.grad_fn().get();
  y[0].fill_(1);  // another view: v's elements are untouched, its history is regenerated
  EXPECT_NE(v.grad_fn().get(), before);
  v.sum().backward();
  expect_tensor(x.grad(), {2, 3}, {0, 0, 0, 1, 1, 1}, 0, 0);
}

TEST(InplaceViews, OverwritingFillsOnViewsCutTheGradientThere) {
  // PyTorch: y = x * 3; y[0].zero_(); y[1, 1:].uniform_(); (y * y).sum().backward()
  // -> x.grad = [[0, 0, 0], [18 * x[1, 0], 0, 0]]
  Tensor x = x_2x3();
  Tensor y = x * 3;
  y[0].zero_();
  y[1].slice(0, 1, 3).uniform_();
  EXPECT_STREQ(y.grad_fn()->name(), "CopySlices");
  (y * y).sum().backward();
  expect_tensor(x.grad(), {2, 3}, {0, 0, 0, 18 * 1.5, 0, 0}, 1e-15, 0);
}

TEST(InplaceViews, BaseDoesNotRequireGradUntilAViewTakesOneThatDoes) {
  Tensor h = zeros({2, 3}, f64());
  Tensor earlier = h.narrow(1, 1, 2);  // taken before h needs grad
  EXPECT_FALSE(earlier.requires_grad());
  Tensor x = tensor({1.0, 2.0, 3.0}, f64().requires_grad());
  h[1].copy_(x * 3);
  EXPECT_TRUE(h.requires_grad());
  EXPECT_FALSE(h.is_leaf());
  EXPECT_TRUE(earlier.requires_grad());
  (earlier * earlier).sum().backward();  // earlier[1] = [6, 9]: d/dx = 2 * 3 * earlier[1]
  expect_tensor(x.grad(), {3}, {0, 36, 54}, 0, 0);
}

TEST(InplaceViews, VersionCounterIsSharedByBaseAndViews) {
  Tensor y = x_2x3() * 2;
  Tensor v = y.narrow(1, 0, 2);
  Tensor w = v.t();
  const auto start = y._version();
  w[1].mul_(2);
  EXPECT_EQ(y._version(), start + 1);
  EXPECT_EQ(v._version(), start + 1);
  y.add_(1);
  EXPECT_EQ(w._version(), start + 2);
}

TEST(InplaceViews, DetachedAliasRecordsOnItsOwnHistory) {
  // detach() shares storage but is no differentiable view (PyTorch: d.grad_fn
  // is AddBackward0, d._is_view() False).
  Tensor x = x_2x3();
  Tensor d = x.detach();
  Tensor w = tensor({1.0, 2.0, 3.0}, f64().requires_grad());
  d.add_(w);
  EXPECT_TRUE(d.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  d.sum().backward();
  expect_tensor(w.grad(), {3}, {2, 2, 2}, 0, 0);
  EXPECT_FALSE(x.grad().defined());
}

// ---- PyTorch's refusals ------------------------------------------------------

TEST(InplaceViews, ViewOfALeafThatRequiresGradIsRefused) {
  Tensor x = x_2x3();
  EXPECT_ERROR_TEXT(x[0].mul_(2),
                    "a view of a leaf Variable that requires grad is being used in an in-place "
                    "operation.");
  EXPECT_ERROR_TEXT(x.t().narrow(0, 1, 1).zero_(),
                    "a view of a leaf Variable that requires grad is being used in an in-place "
                    "operation.");
  EXPECT_ERROR_TEXT(x.mul_(2),
                    "a leaf Variable that requires grad is being used in an in-place operation.");
  expect_tensor(x, {2, 3}, {0.5, -1.25, 2.0, 1.5, 0.25, -0.75}, 0, 0);  // untouched
  NoGradGuard no_grad;  // allowed without recording
  x[0].mul_(2);
  expect_tensor(x, {2, 3}, {1.0, -2.5, 4.0, 1.5, 0.25, -0.75}, 0, 0);
}

const char* const kMultiOutput =
    " This view is the output of a function that returns multiple views. Such functions do not "
    "allow the output views to be modified inplace. You should replace the inplace operation by "
    "an out-of-place one.";
const char* const kNoGrad =
    " Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
    "code by moving both the view and the inplace either both inside the no_grad block (if you "
    "don't want the inplace to be tracked) or both outside (if you want the inplace to be "
    "tracked).";

TEST(InplaceViews, MultipleOutputViewsAreRefused) {
  Tensor x = tensor({1, 2, 3, 4}, f64().requires_grad());
  Tensor y = x * 2;
  std::vector<Tensor> halves = split(y, 2);
  EXPECT_ERROR_TEXT(halves[1].mul_(2), std::string("Output 1 of SplitBackward is a view and is "
                                                   "being modified inplace.") + kMultiOutput);
  std::vector<Tensor> pieces = split_with_sizes(y, {1, 3});
  EXPECT_ERROR_TEXT(pieces[0].mul_(2), std::string("Output 0 of SplitWithSizesBackward is a view "
                                                   "and is being modified inplace.") + kMultiOutput);
  std::vector<Tensor> chunks = chunk(y, 2);
  EXPECT_ERROR_TEXT(chunks[0].add_(1), std::string("Output 0 of SplitBackward is a view and is "
                                                   "being modified inplace.") + kMultiOutput);
  // A view of an output inherits the refusal, named by its own node.
  EXPECT_ERROR_TEXT(halves[0][0].mul_(2), std::string("Output 0 of SelectBackward is a view and "
                                                      "is being modified inplace.") + kMultiOutput);
  // Outputs made when nothing required grad have no node.
  Tensor h = zeros({4}, f64());
  std::vector<Tensor> parts = split(h, 2);
  EXPECT_ERROR_TEXT(parts[0].copy_(x.slice(0, 0, 2)),
                    std::string("A view was created in no_grad mode and is being modified inplace "
                                "with grad mode enabled.") + kMultiOutput);
  expect_tensor(y, {4}, {2, 4, 6, 8}, 0, 0);  // nothing was written
  // The base changed in place: the outputs may not follow it.
  y.mul_(3);
  EXPECT_ERROR_TEXT(halves[0].grad_fn(),
                    std::string("Output 0 of SplitBackward is a view and its base or another view "
                                "of its base has been modified inplace.") + kMultiOutput);
  EXPECT_ERROR_TEXT(halves[1] * 2,
                    std::string("Output 1 of SplitBackward is a view and its base or another view "
                                "of its base has been modified inplace.") + kMultiOutput);
  // Without recording, writing into them is fine.
  parts[1].fill_(5);
  {
    NoGradGuard no_grad;
    halves[0].mul_(2);
  }
  expect_tensor(h, {4}, {0, 0, 5, 5}, 0, 0);
  expect_tensor(y, {4}, {12, 24, 18, 24}, 0, 0);
}

TEST(InplaceViews, ViewsMadeInNoGradModeAreRefused) {
  Tensor x = tensor({1, 2, 3}, f64().requires_grad());
  Tensor y = x * 2;
  Tensor v;
  {
    NoGradGuard no_grad;
    v = y[0];
  }
  EXPECT_ERROR_TEXT(v.mul_(2), std::string("A view was created in no_grad mode and is being "
                                           "modified inplace with grad mode enabled.") + kNoGrad);
  Tensor h = zeros({2, 3}, f64());
  Tensor row;
  {
    NoGradGuard no_grad;
    row = h[0];
  }
  EXPECT_ERROR_TEXT(row.copy_(x), std::string("A view was created in no_grad mode and is being "
                                              "modified inplace with grad mode enabled.") + kNoGrad);
  h.copy_(y.unsqueeze(0).expand({2, 3}));  // the base itself takes history
  EXPECT_ERROR_TEXT(row * 2, std::string("A view was created in no_grad mode and its base or "
                                         "another view of its base has been modified inplace with "
                                         "grad mode enabled.") + kNoGrad);
}

TEST(InplaceViews, WritesIntoOverlappingMemoryAreRefused) {
  const std::string overlap =
      "unsupported operation: more than one element of the written-to tensor refers to a single "
      "memory location. Please clone() the tensor before performing the operation.";
  Tensor base = zeros({3}, f64());
  Tensor e = base.expand({2, 3});
  EXPECT_ERROR_TEXT(e.add_(1), overlap);
  EXPECT_ERROR_TEXT(e.mul_(2), overlap);
  EXPECT_ERROR_TEXT(e.exp_(), overlap);
  EXPECT_ERROR_TEXT(e.clamp_(0, 1), overlap);
  EXPECT_ERROR_TEXT(e.copy_(ones({2, 3}, f64())), overlap);
  EXPECT_ERROR_TEXT(e.uniform_(), overlap);
  EXPECT_ERROR_TEXT(e.normal_(), overlap);
  EXPECT_ERROR_TEXT(e.bernoulli_(), overlap);
  Tensor y = tensor({1, 2, 3}, f64().requires_grad()) * 2;
  EXPECT_ERROR_TEXT(y.expand({2, 3}).mul_(2), overlap);
  expect_tensor(base, {3}, {0, 0, 0}, 0, 0);
  e.fill_(4);  // PyTorch allows fill_ and zero_
  expect_tensor(base, {3}, {4, 4, 4}, 0, 0);
  e.zero_();
  expect_tensor(base, {3}, {0, 0, 0}, 0, 0);
  EXPECT_NO_THROW(base.expand({1, 3}).add_(1));  // size-1 dimensions do not overlap
  expect_tensor(base, {3}, {1, 1, 1}, 0, 0);
}

TEST(InplaceViews, SavedViewModifiedThroughItsBaseIsRefusedAtBackward) {
  // PyTorch: y = x * 2; v = y[0]; z = v * v; y.mul_(3); z.backward() -> the error.
  Tensor x = tensor({1, 2, 3}, f64().requires_grad());
  Tensor y = x * 2;
  Tensor z = y[0] * y[0];
  y.mul_(3);
  EXPECT_LOOM_ERROR(z.backward(), "one of the variables needed for gradient computation has been "
                                  "modified by an inplace operation: [torch.DoubleTensor []]");
}

TEST(InplaceViews, SavedBaseModifiedThroughAViewIsRefusedAtBackward) {
  // PyTorch: y = x * 2; z = y * y; y[0].mul_(3); z.sum().backward() -> the error.
  Tensor x = tensor({1, 2, 3}, f64().requires_grad());
  Tensor y = x * 2;
  Tensor z = y * y;
  y[0].mul_(3);
  EXPECT_LOOM_ERROR(z.sum().backward(),
                    "one of the variables needed for gradient computation has been modified by an "
                    "inplace operation: [torch.DoubleTensor [3]]");
}

TEST(InplaceViews, OperandSavedFromAnotherViewOfTheSameBaseIsRefusedAtBackward) {
  // PyTorch 1.13: y = x * 3; y[0].add_(y[1] * y[1]); y.sum().backward() -> the
  // error (mul saved y[1], whose storage the add_ then changed); same for
  // y[0].mul_(y[1]).
  const std::string error =
      "one of the variables needed for gradient computation has been modified by an inplace "
      "operation: [torch.DoubleTensor [3]]";
  Tensor x = x_2x3();
  Tensor y = x * 3;
  y[0].add_(y[1] * y[1]);
  EXPECT_LOOM_ERROR(y.sum().backward(), error);
  Tensor z = x * 3;
  z[0].mul_(z[1]);
  EXPECT_LOOM_ERROR(z.sum().backward(), error);
}

// ---- CUDA against CPU ------------------------------------------------------------

TEST(InplaceViews, CudaMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  RecurrentBuffer cpu = recurrent_buffer(kCPU);
  RecurrentBuffer gpu = recurrent_buffer(kCUDA);
  EXPECT_TRUE(gpu.out.is_cuda());
  expect_tensor(gpu.out.cpu(), {3, 2, 3}, cpu.out.to_vector<double>(), 1e-12, 1e-12, "out");
  expect_tensor(gpu.w.grad().cpu(), {3, 3}, cpu.w.grad().to_vector<double>(), 1e-12, 1e-12, "W");
  expect_tensor(gpu.inp.grad().cpu(), {3, 2, 3}, cpu.inp.grad().to_vector<double>(), 1e-12, 1e-12,
                "inp");
  Chains c_cpu = chains(kCPU);
  Chains c_gpu = chains(kCUDA);
  expect_tensor(c_gpu.y.cpu(), {4, 3}, c_cpu.y.to_vector<double>(), 1e-12, 1e-12, "y");
  expect_tensor(c_gpu.x.grad().cpu(), {4, 3}, c_cpu.x.grad().to_vector<double>(), 1e-12, 1e-12,
                "x.grad");
}

}  // namespace
}  // namespace loom
