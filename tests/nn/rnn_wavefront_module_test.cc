// nn::RNN / LSTM / GRU and the stacked-layer wavefront (nn/fused_rnn_stack.h):
// which module options and modes may hand a stack to it (on any machine), and,
// with a GPU, that an inference forward under RnnAlgorithm::Persistent gives
// the outputs of the layer-by-layer standard path and of the CPU, with the
// route the kernels report; that a call recording a graph stays layer by
// layer. The kernel is tested in tests/kernels/rnn_wavefront*_test.cc.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/generator.h"
#include "core/native.h"
#include "kernels/rnn_persistent.h"
#include "kernels/rnn_wavefront.h"
#include "nn/fused_rnn_stack.h"
#include "nn/rnn.h"
#include "testing.h"

namespace loom::nn {
namespace {

TEST(RnnWavefrontModule, WhichOptionsMayUseTheWavefront) {
  const RNNOptions two = RNNOptions(4, 6).num_layers(2);
  EXPECT_EQ(rnn_stack_wavefront_blocker(two, false), "");
  EXPECT_EQ(rnn_stack_wavefront_blocker(two, true), "");  // no dropout: training mode changes nothing
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(4, 6), false), "one layer");
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(two).bidirectional(true), false), "bidirectional");
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(two).proj_size(3), false),
            "a projection (proj_size > 0)");
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(two).layer_norm(true), false), "layer norm");
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(two).zoneout_h(0.1), false), "zoneout");
  // Dropout and weight drop only act in training: in eval the wavefront is exact.
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(two).dropout(0.3), false), "");
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(two).dropout(0.3), true),
            "dropout between layers in training");
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(two).weight_drop(0.2), false), "");
  EXPECT_EQ(rnn_stack_wavefront_blocker(RNNOptions(two).weight_drop(0.2), true),
            "weight drop in training");
}

// On the CPU the stack always goes layer by layer: fused_rnn_stack_wavefront declines.
TEST(RnnWavefrontModule, TheCpuDeclines) {
  kernels::RnnAlgorithmGuard forced(kernels::RnnAlgorithm::Persistent);
  FusedRnnStackInputs in;
  in.x = zeros({6, 3});
  in.h0 = zeros({2, 2, 4});
  for (int l = 0; l < 2; ++l) {
    in.w_ih.push_back(zeros({4, l == 0 ? 3 : 4}));
    in.w_hh.push_back(zeros({4, 4}));
  }
  EXPECT_FALSE(fused_rnn_stack_wavefront(kernels::RnnMode::RnnTanh, {2, 2, 2}, in).has_value());
}

#if defined(LOOM_WITH_CUDA)
// y, h_n (, c_n) of one forward.
std::vector<Tensor> outputs(const Tensor& y, const Tensor& h_n) { return {y, h_n}; }
std::vector<Tensor> outputs(const Tensor& y, const LSTMImpl::State& s) {
  return {y, std::get<0>(s), std::get<1>(s)};
}

// The module's forward of x (moved to the module's device) under
// `algorithm`, without grad.
template <typename M>
std::vector<Tensor> forward_on(M& m, const Tensor& x, const Device& device,
                               kernels::RnnAlgorithm algorithm) {
  kernels::RnnAlgorithmGuard guard(algorithm);
  NoGradGuard no_grad;
  auto [y, state] = m->forward(native::to(x, device));
  return outputs(y, state);
}

void expect_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    std::vector<double> a = native::to(got[i], kCPU).to_vector<double>();
    std::vector<double> b = native::to(want[i], kCPU).to_vector<double>();
    loom::testing::expect_all_close(std::span<const double>(a), std::span<const double>(b), tol, tol,
                                    what + " output " + std::to_string(i));
  }
}

// LSTM, GRU and RNN of 2 and 3 layers in float64 and float32: the wavefront
// (the route checked) against the standard path on CUDA and against the CPU.
template <typename M>
void check_module(kernels::RnnMode mode, const RNNOptions& options, const std::string& what) {
  for (DType dt : {kFloat64, kFloat32}) {
    SCOPED_TRACE(what + (dt == kFloat64 ? " float64" : " float32"));
    manual_seed(3);
    M cpu(options);
    cpu->eval();
    cpu->to(dt);
    M gpu(options);
    gpu->eval();
    gpu->load_state_dict(cpu->state_dict());
    gpu->to(dt);
    gpu->to(kCUDA);
    const std::int64_t T = 5, N = 3;
    const Tensor x = native::to(loom::testing::random_tensor({T, N, options.input_size_}, 11), dt);
    std::vector<kernels::index_t> steps(T, N);
    kernels::RnnStackShape s;
    s.mode = mode, s.L = options.num_layers_, s.T = T, s.N = N;
    s.C = options.input_size_, s.H = options.hidden_size_, s.has_bias = options.bias_;
    s.batch_sizes = steps.data();
    {
      kernels::RnnAlgorithmGuard forced(kernels::RnnAlgorithm::Persistent);
      EXPECT_EQ(dt == kFloat64 ? kernels::rnn_stack_cuda_path<double>(s)
                               : kernels::rnn_stack_cuda_path<float>(s),
                kernels::RnnStackPath::Wavefront);
    }
    const std::vector<Tensor> wave = forward_on(gpu, x, kCUDA, kernels::RnnAlgorithm::Persistent);
    const std::vector<Tensor> standard = forward_on(gpu, x, kCUDA, kernels::RnnAlgorithm::Standard);
    const std::vector<Tensor> on_cpu = forward_on(cpu, x, kCPU, kernels::RnnAlgorithm::Standard);
    const double tol = dt == kFloat64 ? 1e-12 : 2e-5;
    expect_close(wave, standard, tol, "wavefront vs standard (CUDA)");
    expect_close(wave, on_cpu, tol, "wavefront vs CPU");
  }
}

#endif

class RnnWavefrontModuleCuda : public ::testing::Test {
 protected:
  void SetUp() override { LOOM_SKIP_WITHOUT_CUDA(); }
};

TEST_F(RnnWavefrontModuleCuda, InferenceMatchesTheStandardPathAndTheCpu) {
#if defined(LOOM_WITH_CUDA)
  using kernels::RnnMode;
  check_module<LSTM>(RnnMode::Lstm, LSTMOptions(5, 7).num_layers(2), "LSTM L=2");
  check_module<LSTM>(RnnMode::Lstm, LSTMOptions(3, 17).num_layers(3).bias(false), "LSTM L=3 no bias");
  check_module<GRU>(RnnMode::Gru, GRUOptions(4, 9).num_layers(3).dropout(0.5), "GRU L=3 eval dropout");
  check_module<RNN>(RnnMode::RnnRelu, RNNOptions(6, 5).num_layers(2).nonlinearity("relu"),
                    "RNN relu L=2");
#endif
}

// A call that records a graph (parameters requiring grad, grad mode on) is not
// taken by the wavefront: it runs layer by layer and has a grad_fn.
TEST_F(RnnWavefrontModuleCuda, ACallRecordingAGraphGoesLayerByLayer) {
#if defined(LOOM_WITH_CUDA)
  kernels::RnnAlgorithmGuard forced(kernels::RnnAlgorithm::Persistent);
  LSTM lstm(LSTMOptions(4, 6).num_layers(2));
  lstm->eval();
  lstm->to(kCUDA);
  const Tensor x = native::to(loom::testing::random_tensor({3, 2, 4}, 5, kFloat32), kCUDA);
  auto [y, state] = lstm->forward(x);
  EXPECT_TRUE(y.requires_grad());
  FusedRnnStackInputs in;
  in.x = native::to(loom::testing::random_tensor({6, 4}, 6, kFloat32), kCUDA);
  in.h0 = native::to(zeros({2, 2, 6}), kCUDA);
  in.c0 = in.h0;
  for (int l = 0; l < 2; ++l) {
    std::vector<Tensor> p = lstm->layer_parameters(l, 0);
    in.w_ih.push_back(p[0]), in.w_hh.push_back(p[1]), in.b_ih.push_back(p[2]), in.b_hh.push_back(p[3]);
  }
  EXPECT_FALSE(fused_rnn_stack_wavefront(kernels::RnnMode::Lstm, {2, 2, 2}, in).has_value());
  NoGradGuard no_grad;
  EXPECT_TRUE(fused_rnn_stack_wavefront(kernels::RnnMode::Lstm, {2, 2, 2}, in).has_value());
#endif
}

}  // namespace
}  // namespace loom::nn
