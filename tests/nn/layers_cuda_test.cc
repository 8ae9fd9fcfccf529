// CUDA against the CPU for the new layers' operations: erf, gelu (both
// approximations), layer_norm, conv1d (grouped, strided, padded, dilated),
// channel-wise dropout (the same Philox mask on both devices for one seed),
// and the modules moved with to(kCUDA). Forward and backward with one random
// upstream gradient, float32 and float64, odd sizes (1, 3, 17, 129).
// Skipped without a GPU.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "core/generator.h"
#include "core/native.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/sequential.h"
#include "../autograd/op_testing.h"

namespace loom {
namespace {

using testing::uniform;
using Op = std::function<Tensor(const std::vector<Tensor>&)>;

class LayersCuda : public ::testing::Test {
 protected:
  void SetUp() override { LOOM_SKIP_WITHOUT_CUDA(); }
};

void expect_close(const Tensor& cuda, const Tensor& cpu, DType dt, const std::string& what) {
  ASSERT_TRUE(cuda.defined() && cpu.defined()) << what;
  ASSERT_EQ(shape_str(cuda.shape()), shape_str(cpu.shape())) << what;
  const double tol = dt == kFloat64 ? 1e-12 : 2e-5;
  std::vector<double> a = cuda.to_vector<double>(), b = cpu.to_vector<double>();
  testing::expect_all_close(std::span<const double>(a), std::span<const double>(b), tol, tol, what);
}

// op on CPU leaves and on CUDA copies; compares the output and every input's
// gradient for one random upstream gradient. `seed` re-seeds the generator
// before each device's call (for dropout).
void expect_cuda_matches_cpu(const Op& op, const std::vector<Tensor>& inputs, DType dt,
                             const std::string& what, std::uint64_t seed = 1) {
  SCOPED_TRACE(what + (dt == kFloat64 ? " float64" : " float32"));
  std::vector<Tensor> on_cpu, on_cuda;
  for (const Tensor& x : inputs) {
    Tensor c = native::to(native::clone(x), dt);
    Tensor g = native::to(native::clone(c), kCUDA);
    c.requires_grad_(true);
    g.requires_grad_(true);
    on_cpu.push_back(c);
    on_cuda.push_back(g);
  }
  manual_seed(seed);
  Tensor ya = op(on_cpu);
  manual_seed(seed);
  Tensor yb = op(on_cuda);
  ASSERT_TRUE(yb.is_cuda());
  expect_close(yb, ya, dt, "output");
  Tensor g = uniform(ya.shape(), seed + 7, -1, 1, TensorOptions(dt));
  ya.backward(g);
  yb.backward(native::to(g, kCUDA));
  for (std::size_t i = 0; i < inputs.size(); ++i)
    expect_close(on_cuda[i].grad(), on_cpu[i].grad(), dt, "gradient of input " + std::to_string(i));
}

const DType kFloatTypes[] = {kFloat32, kFloat64};

TEST_F(LayersCuda, ErfAndGelu) {
  for (DType dt : kFloatTypes)
    for (const Shape& s : std::vector<Shape>{{1}, {3, 17}, {129, 3}}) {
      expect_cuda_matches_cpu([](const auto& in) { return erf(in[0]); }, {uniform(s, 1, -3, 3)}, dt, "erf");
      expect_cuda_matches_cpu([](const auto& in) { return gelu(in[0]); }, {uniform(s, 2, -3, 3)}, dt, "gelu");
      expect_cuda_matches_cpu([](const auto& in) { return gelu(in[0], "tanh"); }, {uniform(s, 3, -3, 3)}, dt,
                              "gelu tanh");
    }
}

TEST_F(LayersCuda, LayerNorm) {
  for (DType dt : kFloatTypes) {
    expect_cuda_matches_cpu([](const auto& in) { return layer_norm(in[0], {129}, in[1], in[2]); },
                            {uniform({3, 129}, 4), uniform({129}, 5), uniform({129}, 6)}, dt, "layer_norm 129");
    expect_cuda_matches_cpu([](const auto& in) { return layer_norm(in[0], {17, 3}, Tensor(), Tensor()); },
                            {uniform({1, 17, 3}, 7)}, dt, "layer_norm (17, 3)");
  }
}

TEST_F(LayersCuda, Conv1d) {
  for (DType dt : kFloatTypes) {
    expect_cuda_matches_cpu([](const auto& in) { return conv1d(in[0], in[1], in[2], 2, 1, 2, 3); },
                            {uniform({3, 9, 129}, 8), uniform({6, 3, 3}, 9), uniform({6}, 10)}, dt,
                            "conv1d grouped");
    expect_cuda_matches_cpu([](const auto& in) { return conv1d(in[0], in[1]); },
                            {uniform({17, 1}, 11), uniform({3, 17, 1}, 12)}, dt, "conv1d unbatched k=1");
  }
}

TEST_F(LayersCuda, FeatureDropoutSameMaskForSameSeed) {
  for (DType dt : kFloatTypes) {
    expect_cuda_matches_cpu([](const auto& in) { return dropout1d(in[0], 0.3); }, {uniform({17, 129, 3}, 13)},
                            dt, "dropout1d", 21);
    expect_cuda_matches_cpu([](const auto& in) { return dropout2d(in[0], 0.5); }, {uniform({3, 17, 2, 5}, 14)},
                            dt, "dropout2d", 22);
  }
}

TEST_F(LayersCuda, SequentialMovedToCuda) {
  nn::Sequential seq(nn::Conv1d(nn::Conv1dOptions(3, 4, 3).padding(1)), nn::GELU(),
                     nn::LayerNorm(nn::LayerNormOptions({17})), nn::Tanh());
  Tensor x = uniform({2, 3, 17}, 15, -1, 1, TensorOptions(kFloat32));
  Tensor y_cpu = seq->forward(x);
  seq->to(kCUDA);
  Tensor y_cuda = seq->forward(native::to(x, kCUDA));
  ASSERT_TRUE(y_cuda.is_cuda());
  expect_close(y_cuda, y_cpu, kFloat32, "Sequential output");
}

}  // namespace
}  // namespace loom
