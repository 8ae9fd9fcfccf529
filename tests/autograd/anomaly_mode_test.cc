// Anomaly mode (autograd/anomaly_mode.h): backward names the node whose
// gradient became NaN/inf, with where it was created; off, nothing is checked
// and NaN flows as in PyTorch; guards nest; the switch is process-wide and the
// context scopes per thread.
//
// PyTorch's words and values (PyTorch 1.13, `/usr/bin/python3`, the graphs
// below; loom's names drop PyTorch's "0" suffix):
//   w * log(x), x = [1, -1, 2]   -> "Function 'MulBackward0' returned nan values in its 0th output."
//   sqrt(x) * 0, x = [0, 4]      -> "Function 'SqrtBackward0' returned nan values in its 0th output."
//   a * b * 0, b = [0, inf]      -> "Function 'MulBackward0' returned nan values in its 0th output."
//   without the guard: w * log(x) gives x.grad = [0.5, -0.25, 1], w.grad = [0, nan, log 2];
//                      sqrt(x) * 0 gives x.grad = [nan, 0].
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "autograd/anomaly_mode.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "nn/rnn.h"
#include "testing.h"

// Outside the anonymous namespace and never inlined, so that loom_tests
// (linked with ENABLE_EXPORTS) exports its symbol and the backtrace names it.
namespace loom::anomaly_test {
[[gnu::noinline]] Tensor nan_making_product(const Tensor& w, const Tensor& x) {
  Tensor y = mul(w, log(x));
  asm volatile("" ::: "memory");  // keep this frame (no tail call)
  return y;
}
}  // namespace loom::anomaly_test

namespace loom {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The message of the loom::Error `fn` throws ("" and a test failure when none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no loom::Error was thrown";
  return "";
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// Leaves anomaly mode off whatever a test did.
class AnomalyMode : public ::testing::Test {
 protected:
  void SetUp() override { autograd::set_detect_anomaly(false); }
  void TearDown() override { autograd::set_detect_anomaly(false); }
};

void expect_values(const Tensor& t, const std::vector<double>& expected, const std::string& what) {
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i]))
      EXPECT_TRUE(std::isnan(got[i])) << what << "[" << i << "] = " << got[i] << ", expected nan";
    else
      EXPECT_NEAR(got[i], expected[i], 1e-6) << what << "[" << i << "]";
  }
}

void log_of_negative_is_caught(Device device) {
  Tensor x = to(tensor({1.0, -1.0, 2.0}), device).requires_grad_();
  Tensor w = to(tensor({0.5, 0.25, 2.0}), device).requires_grad_();
  autograd::detect_anomaly guard;
  Tensor y;
  {
    autograd::AnomalyContext outer("model");
    autograd::AnomalyContext inner("loss");
    y = anomaly_test::nan_making_product(w, x);
  }
  const std::uint64_t seq = y.grad_fn()->sequence_nr;
  const std::string message = error_of([&] { y.sum().backward(); });
  if (std::getenv("LOOM_PRINT_ANOMALY")) std::printf("%s\n", message.c_str());
  EXPECT_EQ(first_line(message), "Function 'MulBackward' returned nan values in its 0th output.");
  const std::string dev = fmt::format("{}", device);
  for (const std::string& part :
       {std::string("gradient: 1 of 3 elements are nan, the first at flat index 1 (shape [3])"),
        fmt::format("Error detected in MulBackward (sequence number {}), created by the forward call:", seq),
        fmt::format("inputs: [0] [3] float32 {}, [1] [3] float32 {}", dev, dev),
        std::string("context: model > loss"), std::string("backtrace (most recent call first):"),
        std::string("loom::anomaly_test::nan_making_product(loom::Tensor const&, loom::Tensor const&)")})
    EXPECT_NE(message.find(part), std::string::npos) << "missing \"" << part << "\" in:\n" << message;
}

TEST_F(AnomalyMode, LogOfNegativeTimesWeightNamesMulBackwardWithItsForwardContext) {
  log_of_negative_is_caught(kCPU);
}

TEST_F(AnomalyMode, LogOfNegativeTimesWeightCuda) {
  LOOM_SKIP_WITHOUT_CUDA();
  log_of_negative_is_caught(kCUDA);
}

TEST_F(AnomalyMode, SqrtAtZeroBackwardNamesSqrtBackward) {
  Tensor x = tensor({0.0, 4.0}, kFloat64).requires_grad_();
  autograd::detect_anomaly guard;
  Tensor loss = (sqrt(x) * 0.0).sum();
  const std::string message = error_of([&] { loss.backward(); });
  EXPECT_EQ(first_line(message), "Function 'SqrtBackward' returned nan values in its 0th output.");
  EXPECT_NE(message.find("inputs: [0] [2] float64 cpu"), std::string::npos) << message;
}

TEST_F(AnomalyMode, ZeroTimesInfinityNamesTheProduct) {
  Tensor a = tensor({1.0, 2.0}).requires_grad_();
  Tensor b = tensor({0.0, kInf}).requires_grad_();
  autograd::detect_anomaly guard;
  Tensor loss = (a * b * 0.0).sum();
  EXPECT_EQ(first_line(error_of([&] { loss.backward(); })),
            "Function 'MulBackward' returned nan values in its 0th output.");
}

// PyTorch 1.13 lets an infinite gradient pass (it checks NaN only); loom
// reports it too, as "inf values" (see anomaly_mode.h).
TEST_F(AnomalyMode, InfiniteGradientIsReportedAsInf) {
  Tensor a = tensor({1.0, 2.0}).requires_grad_();
  Tensor b = tensor({0.0, kInf}).requires_grad_();
  autograd::detect_anomaly guard;
  Tensor loss = (a * b).sum();
  const std::string message = error_of([&] { loss.backward(); });
  EXPECT_EQ(first_line(message), "Function 'MulBackward' returned inf values in its 0th output.");
  EXPECT_NE(message.find("gradient: 1 of 2 elements are +-inf, the first at flat index 1"),
            std::string::npos) << message;
}

// A gradient computed for an input that needs none is not checked (it goes
// nowhere): d(a*b)/db = a = inf, but b needs no gradient.
TEST_F(AnomalyMode, GradientForAnInputWithoutGradIsNotChecked) {
  Tensor a = tensor({kInf, 1.0}).requires_grad_();
  Tensor b = tensor({2.0, 3.0});
  autograd::detect_anomaly guard;
  (a * b).sum().backward();  // no error
  expect_values(a.grad(), {2.0, 3.0}, "a.grad");
}

TEST_F(AnomalyMode, OffNothingIsCheckedAndNanFlowsAsInPyTorch) {
  ASSERT_FALSE(autograd::is_anomaly_enabled());
  Tensor x = tensor({1.0, -1.0, 2.0}).requires_grad_();
  Tensor w = tensor({0.5, 0.25, 2.0}).requires_grad_();
  Tensor y = mul(w, log(x));
  EXPECT_EQ(y.grad_fn()->anomaly, nullptr);  // nothing recorded while off
  y.sum().backward();
  expect_values(x.grad(), {0.5, -0.25, 1.0}, "x.grad");
  expect_values(w.grad(), {0.0, std::nan(""), std::log(2.0)}, "w.grad");

  Tensor s = tensor({0.0, 4.0}).requires_grad_();
  (sqrt(s) * 0.0).sum().backward();
  expect_values(s.grad(), {std::nan(""), 0.0}, "sqrt at 0");
}

TEST_F(AnomalyMode, GuardsNestAndRestoreThePreviousState) {
  EXPECT_FALSE(autograd::is_anomaly_enabled());
  {
    autograd::DetectAnomalyGuard outer;
    EXPECT_TRUE(autograd::is_anomaly_enabled());
    {
      autograd::detect_anomaly inner;
      EXPECT_TRUE(autograd::is_anomaly_enabled());
    }
    EXPECT_TRUE(autograd::is_anomaly_enabled());  // the inner guard put back "on"
    autograd::set_detect_anomaly(false);
    {
      autograd::detect_anomaly inner;
      EXPECT_TRUE(autograd::is_anomaly_enabled());
    }
    EXPECT_FALSE(autograd::is_anomaly_enabled());  // put back "off", as set inside
  }
  EXPECT_FALSE(autograd::is_anomaly_enabled());
  autograd::set_detect_anomaly(true);
  {
    autograd::detect_anomaly guard;
  }
  EXPECT_TRUE(autograd::is_anomaly_enabled());  // was on before the guard
}

// As in PyTorch: the check depends on the mode during backward; the record on
// the mode during forward.
TEST_F(AnomalyMode, NodeMadeBeforeTheGuardIsCheckedButHasNoRecord) {
  Tensor x = tensor({1.0, -1.0}).requires_grad_();
  Tensor w = tensor({0.5, 0.25}).requires_grad_();
  Tensor loss = (w * log(x)).sum();
  autograd::detect_anomaly guard;
  const std::string message = error_of([&] { loss.backward(); });
  EXPECT_EQ(first_line(message), "Function 'MulBackward' returned nan values in its 0th output.");
  EXPECT_NE(message.find("No forward pass information available. Enable detect anomaly during "
                         "forward pass for more information."),
            std::string::npos) << message;
}

TEST_F(AnomalyMode, NodeMadeUnderTheGuardIsNotCheckedAfterIt) {
  Tensor x = tensor({1.0, -1.0}).requires_grad_();
  Tensor w = tensor({0.5, 0.25}).requires_grad_();
  Tensor loss;
  {
    autograd::detect_anomaly guard;
    loss = (w * log(x)).sum();
    EXPECT_NE(loss.grad_fn()->anomaly, nullptr);
  }
  loss.backward();  // no error: the mode is off now
  expect_values(w.grad(), {0.0, std::nan("")}, "w.grad");
}

// The switch is process-wide (like set_deterministic); context scopes are per thread.
TEST_F(AnomalyMode, SwitchIsProcessWideAndContextIsPerThread) {
  autograd::detect_anomaly guard;
  autograd::AnomalyContext scope("main thread");
  bool seen_on = false;
  std::string other_context = "unset";
  std::shared_ptr<Node> other_node;
  std::thread worker([&] {
    seen_on = autograd::is_anomaly_enabled();
    autograd::AnomalyContext own("worker");
    Tensor a = tensor({1.0}).requires_grad_();
    other_node = (a * 2.0).grad_fn();
    other_context = autograd::current_anomaly_context();
  });
  worker.join();
  EXPECT_TRUE(seen_on);
  EXPECT_EQ(other_context, "worker");
  ASSERT_NE(other_node->anomaly, nullptr);
  EXPECT_EQ(other_node->anomaly->context, "worker");
  EXPECT_EQ(autograd::current_anomaly_context(), "main thread");
}

// A context opened while the mode is off records nothing, and closing it
// after the mode was turned on must not pop another scope.
TEST_F(AnomalyMode, ContextOpenedWhileOffIsIgnored) {
  {
    autograd::AnomalyContext silent("silent");
    autograd::set_detect_anomaly(true);
    autograd::AnomalyContext loud("loud");
    EXPECT_EQ(autograd::current_anomaly_context(), "loud");
  }
  EXPECT_EQ(autograd::current_anomaly_context(), "");
}

// A fused LSTM layer fed +inf: its forward stays finite (the gates saturate),
// but the weight gradient multiplies inf by the exactly-zero gate derivative.
// PyTorch gives NaN in weight_ih_l0's gradient for this input too
// (tests/nn/nonfinite_reference_test.cc checks the values); here the fused
// node is named, with output 3 = w_ih in its input order (x, h0, c0, w_ih, ...).
void fused_lstm_fed_inf_is_caught(Device device) {
  manual_seed(3);
  nn::LSTM lstm(nn::LSTMOptions(3, 4));
  lstm->to(device);
  Tensor x = to(testing::random_tensor({5, 2, 3}, 7, kFloat32), device);
  std::vector<double> v = x.to_vector<double>();
  v[2 * 6 + 0 * 3 + 1] = kInf;  // step 2, batch 0, feature 1
  x = to(tensor(v, {5, 2, 3}), device);
  autograd::detect_anomaly guard;
  auto [out, state] = lstm->forward(x);
  for (double value : out.to_vector<double>()) ASSERT_TRUE(std::isfinite(value));
  const std::string message = error_of([&] { (out * out).sum().backward(); });
  EXPECT_EQ(first_line(message),
            "Function 'FusedRnnLayerBackward' returned nan values in its 3th output.");
  EXPECT_NE(message.find("Error detected in FusedRnnLayerBackward (sequence number"),
            std::string::npos) << message;
}

TEST_F(AnomalyMode, FusedLstmLayerFedInfinityNamesTheLayerNode) { fused_lstm_fed_inf_is_caught(kCPU); }

TEST_F(AnomalyMode, FusedLstmLayerFedInfinityCuda) {
  LOOM_SKIP_WITHOUT_CUDA();
  fused_lstm_fed_inf_is_caught(kCUDA);
}

}  // namespace
}  // namespace loom
