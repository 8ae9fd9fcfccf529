// CUDA against the CPU reference for matmul, bmm, linear, embedding, dropout,
// rand and randn, forward and gradients, over odd shapes (1, 3, 17, 129).
// Every test is skipped without a GPU.
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/generator.h"
#include "core/native.h"
#include "core/native_index.h"
#include "testing.h"

namespace loom {
namespace {

const std::vector<std::int64_t> kSizes = {1, 3, 17, 129};

using testing::random_tensor;

// |cuda - cpu| <= tol (1 + |cpu|), element for element.
void expect_close(const Tensor& cuda, const Tensor& cpu, double tol, const std::string& what) {
  ASSERT_TRUE(cuda.is_cuda()) << what;
  ASSERT_EQ(cuda.shape(), cpu.shape()) << what;
  testing::expect_all_close(cuda.to_vector<double>(), cpu.to_vector<double>(), tol, tol, what);
}

// Tolerance of a float product with inner size k.
double product_tol(DType dtype, std::int64_t k) {
  return dtype == kFloat64 ? 1e-12 : 2e-6 * static_cast<double>(std::max<std::int64_t>(k, 8));
}

// Runs f on CPU leaves and on their CUDA copies with the same upstream gradient,
// and compares outputs and every input gradient.
void compare_forward_backward(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                              const std::vector<Tensor>& cpu_inputs, double tol,
                              const std::string& what) {
  std::vector<Tensor> cpu, cuda;
  for (const Tensor& t : cpu_inputs) {
    cpu.push_back(t.detach().requires_grad_());
    cuda.push_back(t.detach().to(kCUDA).requires_grad_());
  }
  Tensor y_cpu = f(cpu), y_cuda = f(cuda);
  expect_close(y_cuda, y_cpu, tol, what + " forward");
  Tensor g = random_tensor(y_cpu.shape(), 77, y_cpu.dtype());
  y_cpu.backward(g);
  y_cuda.backward(g.to(kCUDA));
  for (std::size_t i = 0; i < cpu.size(); ++i)
    expect_close(cuda[i].grad(), cpu[i].grad(), tol, what + " grad " + std::to_string(i));
}

TEST(LinalgCuda, MatmulTwoDOverOddShapes) {
  LOOM_SKIP_WITHOUT_CUDA();
  unsigned seed = 1;
  for (DType dtype : {kFloat32, kFloat64})
    for (std::int64_t m : kSizes)
      for (std::int64_t k : kSizes)
        for (std::int64_t n : kSizes) {
          Tensor a = random_tensor({m, k}, seed++, dtype), b = random_tensor({k, n}, seed++, dtype);
          std::string what = fmt::format("{} [{}, {}] @ [{}, {}]", dtype, m, k, k, n);
          compare_forward_backward([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
                                   {a, b}, product_tol(dtype, std::max(k, std::max(m, n))), what);
        }
}

TEST(LinalgCuda, MatmulBatchedTransposedAndVectorCases) {
  LOOM_SKIP_WITHOUT_CUDA();
  struct Case {
    Shape a, b;
    bool transpose_a;
  };
  const std::vector<Case> cases = {
      {{17}, {17}, false},          {{3, 17}, {17}, false},          {{129}, {129, 3}, false},
      {{3, 17, 129}, {129}, false}, {{3, 17, 129}, {129, 3}, false}, {{17}, {3, 17, 129}, false},
      {{3, 1, 17, 3}, {1, 17, 3, 129}, false}, {{17, 3}, {3, 3, 129}, false},
      {{3, 129, 17}, {3, 129, 3}, true}, {{129, 17}, {129, 1}, true}};
  unsigned seed = 500;
  for (DType dtype : {kFloat32, kFloat64})
    for (const Case& c : cases) {
      Tensor a = random_tensor(c.a, seed++, dtype), b = random_tensor(c.b, seed++, dtype);
      bool t = c.transpose_a;
      compare_forward_backward(
          [t](const std::vector<Tensor>& x) { return matmul(t ? x[0].transpose(-1, -2) : x[0], x[1]); },
          {a, b}, product_tol(dtype, 129),
          fmt::format("{} {} @ {}{}", dtype, shape_str(c.a), shape_str(c.b), t ? " (a^T)" : ""));
    }
}

TEST(LinalgCuda, BmmAndLinear) {
  LOOM_SKIP_WITHOUT_CUDA();
  unsigned seed = 900;
  for (DType dtype : {kFloat32, kFloat64})
    for (std::int64_t s : kSizes) {
      Tensor a = random_tensor({s, 17, s}, seed++, dtype), b = random_tensor({s, s, 3}, seed++, dtype);
      compare_forward_backward([](const std::vector<Tensor>& x) { return bmm(x[0], x[1]); }, {a, b},
                               product_tol(dtype, s), fmt::format("{} bmm {}", dtype, s));
      Tensor x = random_tensor({3, s, 17}, seed++, dtype), w = random_tensor({s, 17}, seed++, dtype),
             bias = random_tensor({s}, seed++, dtype);
      compare_forward_backward(
          [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, bias},
          product_tol(dtype, 17 * 3 * s), fmt::format("{} linear out {}", dtype, s));
      compare_forward_backward([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
                               {x, w}, product_tol(dtype, 17 * 3 * s),
                               fmt::format("{} linear no bias out {}", dtype, s));
    }
}

TEST(LinalgCuda, GradcheckOnTheDevice) {
  LOOM_SKIP_WITHOUT_CUDA();
  auto leaf = [](const Shape& s, unsigned seed) {
    return random_tensor(s, seed, kFloat64).to(kCUDA).requires_grad_();
  };
  GradcheckResult r = gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
                                {leaf({2, 1, 3, 4}, 1), leaf({3, 4, 2}, 2)});
  EXPECT_TRUE(r.ok) << r.message;
  r = gradcheck([](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
                {leaf({5, 3}, 3), leaf({4, 3}, 4), leaf({4}, 5)});
  EXPECT_TRUE(r.ok) << r.message;
  Tensor idx = tensor_int64({1, 3, 1, 1, 0}, {5}, kCUDA);
  r = gradcheck([&](const std::vector<Tensor>& x) { return embedding(x[0], idx); },
                {leaf({4, 3}, 6)});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(EmbeddingCuda, ForwardAndBackwardBitIdenticalToCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(3);
  for (DType dtype : {kFloat32, kFloat64})
    for (std::int64_t V : kSizes)
      for (std::int64_t E : kSizes)
        for (std::int64_t n : {1, 17, 129 * 3}) {
          std::uniform_int_distribution<std::int64_t> pick(0, V - 1);
          std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
          for (auto& v : ids) v = pick(rng);
          Tensor idx = tensor_int64(ids, {n});
          Tensor w = random_tensor({V, E}, static_cast<unsigned>(V * 1000 + E), dtype);
          std::string what = fmt::format("{} V={} E={} n={}", dtype, V, E, n);
          Tensor out_cpu = native::embedding(w, idx);
          Tensor out_cuda = native::embedding(w.to(kCUDA), idx.to(kCUDA));
          EXPECT_EQ(out_cuda.to_vector<double>(), out_cpu.to_vector<double>()) << what;
          Tensor g = random_tensor({n, E}, 11, dtype);
          Tensor gw_cpu = native::embedding_backward(g, idx, V);
          Tensor gw_cuda = native::embedding_backward(g.to(kCUDA), idx.to(kCUDA), V);
          // Same additions in the same order: the same bits.
          EXPECT_EQ(gw_cuda.to_vector<double>(), gw_cpu.to_vector<double>()) << what;
          Tensor again = native::embedding_backward(g.to(kCUDA), idx.to(kCUDA), V);
          EXPECT_EQ(again.to_vector<double>(), gw_cuda.to_vector<double>()) << what << " repeat";
        }
}

TEST(EmbeddingCuda, OutOfRangeThrowsAndTheDeviceStaysUsable) {
  LOOM_SKIP_WITHOUT_CUDA();
  Tensor w = native::ones({4, 3}, TensorOptions(kFloat32).device(kCUDA));
  for (std::int64_t bad : {4, -1, 1000000}) {
    try {
      native::embedding(w, tensor_int64({0, bad, 2}, {3}, kCUDA));
      ADD_FAILURE() << "index " << bad << " did not throw";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "index out of range in self");
    }
  }
  Tensor ok = native::embedding(w, tensor_int64({3, 0}, {2}, kCUDA));
  EXPECT_EQ(ok.to_vector<float>(), std::vector<float>(6, 1.0f));
}

TEST(LinalgCuda, MixedDevicesAreRejected) {
  LOOM_SKIP_WITHOUT_CUDA();
  Tensor cpu = native::ones({2, 3}), cuda = native::ones({3, 2}, TensorOptions(kFloat32).device(kCUDA));
  auto expect_device_error = [](const std::function<void()>& f) {
    try {
      f();
      ADD_FAILURE() << "mixed devices did not throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("Expected all tensors to be on the same device, but "
                                           "found at least two devices, cpu and cuda:0!"),
                std::string::npos)
          << e.what();
    }
  };
  expect_device_error([&] { matmul(cpu, cuda); });
  expect_device_error([&] { linear(cpu, cuda.t()); });
  expect_device_error([&] { native::embedding(native::ones({4, 3}), tensor_int64({1}, {1}, kCUDA)); });
}

TEST(RandomOpsCuda, SameSeedSameNumbersAsCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  const GeneratorState saved = default_generator().state();
  for (DType dtype : {kFloat32, kFloat64})
    for (std::int64_t n : {1, 3, 17, 129, 100003}) {
      manual_seed(42);
      auto u_cpu = rand({n}, dtype).to_vector<double>();
      auto z_cpu = randn({n}, dtype).to_vector<double>();
      manual_seed(42);
      auto u_cuda = rand({n}, TensorOptions(dtype).device(kCUDA)).to_vector<double>();
      auto z_cuda = randn({n}, TensorOptions(dtype).device(kCUDA)).to_vector<double>();
      EXPECT_EQ(u_cuda, u_cpu) << dtype_name(dtype) << " rand n=" << n;
      EXPECT_EQ(z_cuda, z_cpu) << dtype_name(dtype) << " randn n=" << n;
    }
  default_generator().set_state(saved);
}

TEST(RandomOpsCuda, DropoutMaskAndGradientMatchCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  const GeneratorState saved = default_generator().state();
  for (DType dtype : {kFloat32, kFloat64})
    for (std::int64_t n : kSizes) {
      Tensor x = random_tensor({3, n}, static_cast<unsigned>(n), dtype);
      Tensor x_cpu = x.detach().requires_grad_(), x_cuda = x.to(kCUDA).requires_grad_();
      manual_seed(7);
      Tensor y_cpu = dropout(x_cpu, 0.3);
      manual_seed(7);
      Tensor y_cuda = dropout(x_cuda, 0.3);
      EXPECT_EQ(y_cuda.to_vector<double>(), y_cpu.to_vector<double>()) << dtype_name(dtype) << " n=" << n;
      Tensor g = random_tensor({3, n}, 5, dtype);
      y_cpu.backward(g);
      y_cuda.backward(g.to(kCUDA));
      EXPECT_EQ(x_cuda.grad().to_vector<double>(), x_cpu.grad().to_vector<double>());
    }
  default_generator().set_state(saved);
}

}  // namespace
}  // namespace loom
