// bfloat16 / float16 on CUDA against the CPU: conversions of every bit pattern
// (and against CUDA's own __float2bfloat16_rn / __float2half_rn), random
// fills, and a few ops forward and backward. Skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/native.h"
#include "testing.h"

namespace loom {
namespace {

class HalfCuda : public ::testing::Test {
 protected:
  void SetUp() override { LOOM_SKIP_WITHOUT_CUDA(); }
};

std::vector<std::uint16_t> bits_of(const Tensor& t) {
  Tensor c = native::contiguous(native::to(t.detach(), kCPU));
  std::vector<std::uint16_t> out(static_cast<std::size_t>(c.numel()));
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size() * 2);
  return out;
}

// Every 16-bit pattern, then every float of a wide sample, converted on CUDA
// gives the CPU's bits.
TEST_F(HalfCuda, ConversionsMatchTheCpuForEveryPattern) {
  for (DType half : {kBFloat16, kFloat16}) {
    Tensor all = empty({65536}, half);
    for (std::uint32_t i = 0; i < 65536; ++i) static_cast<std::uint16_t*>(all.data_ptr())[i] = static_cast<std::uint16_t>(i);
    Tensor f_cpu = all.to(kFloat32), f_cuda = all.to(kCUDA).to(kFloat32).to(kCPU);
    std::vector<std::uint32_t> a(65536), b(65536);
    std::memcpy(a.data(), f_cpu.data_ptr(), 65536 * 4);
    std::memcpy(b.data(), f_cuda.data_ptr(), 65536 * 4);
    EXPECT_EQ(a, b) << dtype_name(half) << " -> float32";
    EXPECT_EQ(bits_of(f_cpu.to(kCUDA).to(half)), bits_of(f_cpu.to(half))) << "float32 -> " << dtype_name(half);
    Tensor d = all.to(kFloat64);
    EXPECT_EQ(bits_of(d.to(kCUDA).to(half)), bits_of(d.to(half))) << "float64 -> " << dtype_name(half);
  }
  std::mt19937 rng(7);
  std::vector<std::uint32_t> raw(1 << 20);
  for (auto& u : raw) u = rng();
  Tensor f = empty({1 << 20}, kFloat32);
  std::memcpy(f.data_ptr(), raw.data(), raw.size() * 4);
  for (DType half : {kBFloat16, kFloat16})
    EXPECT_EQ(bits_of(f.to(kCUDA).to(half)), bits_of(f.to(half))) << "random floats -> " << dtype_name(half);
}

// loom's rounding agrees with CUDA's intrinsics on every non-NaN float tried
// (CUDA's NaN patterns differ; loom keeps the sign and payload).
TEST_F(HalfCuda, RoundingAgreesWithCudaIntrinsics) {
#if !defined(LOOM_WITH_CUDA)
  GTEST_SKIP() << "loom was built without CUDA";
#else
  std::mt19937 rng(11);
  std::vector<float> xs;
  for (int i = 0; i < (1 << 20); ++i) {
    std::uint32_t u = rng();
    if (i % 2) u = (u & 0x807fffffu) | ((100u + u % 60u) << 23);
    float x;
    std::memcpy(&x, &u, 4);
    if (!std::isnan(x)) xs.push_back(x);
  }
  for (std::uint32_t h = 0; h < 65536; ++h) {  // ties and neighbours of every float16 value
    float v = static_cast<float>(float16::from_bits(static_cast<std::uint16_t>(h)));
    if (!std::isnan(v)) xs.insert(xs.end(), {v, std::nextafter(v, INFINITY), std::nextafter(v, -INFINITY)});
  }
  const auto n = static_cast<std::int64_t>(xs.size());
  Tensor x = empty({n}, kFloat32);
  std::memcpy(x.data_ptr(), xs.data(), xs.size() * 4);
  Tensor xd = x.to(kCUDA);
  // Room for n uint32 (each int64 holds two), zeroed: the copy back reads all
  // of it, and compute-sanitizer initcheck flags unwritten bytes.
  Tensor out = zeros({(n + 1) / 2}, TensorOptions(kInt64).device(kCUDA));
  kernels::compare_half_rounding_with_cuda(n, static_cast<const float*>(xd.data_ptr()),
                                           static_cast<std::uint32_t*>(out.data_ptr()));
  Tensor host = out.to(kCPU);
  const auto* r = static_cast<const std::uint32_t*>(host.data_ptr());
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < n; ++i) bad += r[i] != 0;
  EXPECT_EQ(bad, 0) << "of " << n;
#endif
}

TEST_F(HalfCuda, RandomFillsMatchTheCpu) {
  for (DType half : {kBFloat16, kFloat16}) {
    manual_seed(3);
    Tensor a = randn({1001}, half);
    manual_seed(3);
    Tensor b = randn({1001}, TensorOptions(half).device(kCUDA));
    EXPECT_EQ(bits_of(a), bits_of(b));
    manual_seed(4);
    Tensor c = dropout(ones({999}, half), 0.4);
    manual_seed(4);
    Tensor d = dropout(ones({999}, TensorOptions(half).device(kCUDA)), 0.4);
    EXPECT_EQ(bits_of(c), bits_of(d));
  }
}

// A few ops forward and backward: CUDA's float expf/tanhf may differ from
// glibc's in the last float bit, and cuBLAS (bfloat16/float16 operands, float32
// accumulation on tensor cores) sums in another order than the CPU's float32
// GEMM, so a value may land 1 ulp (of the 16-bit type) away and move what is
// computed from it: each result must be within 2 ulps of the CPU's, or within
// 4 * eps * max |CPU result| (eps = 2^-8 bfloat16, 2^-11 float16), as for the
// composites of tests/autograd/half_ops_test.cc. (Not yet run on a GPU.)
int ulps(std::uint16_t a, std::uint16_t b) {
  auto key = [](std::uint16_t x) { return (x & 0x8000) ? -static_cast<int>(x & 0x7fff) : static_cast<int>(x); };
  return std::abs(key(a) - key(b));
}

TEST_F(HalfCuda, OpsAndGradientsMatchTheCpu) {
  for (DType half : {kBFloat16, kFloat16}) {
    Tensor a = testing::random_tensor({17, 33}, 1, half), m = testing::random_tensor({33, 9}, 2, half);
    Tensor target = tensor_int64(std::vector<std::int64_t>(17, 3), {17});
    std::vector<Tensor> cpu, gpu;
    for (Device dev : {kCPU, kCUDA}) {
      Tensor x = a.to(dev).detach().requires_grad_(), w = m.to(dev).detach().requires_grad_();
      Tensor y = matmul(tanh(x), w);
      Tensor loss = add(cross_entropy(y, target.to(dev)), mean(exp(sum(softmax(x, 0), {1}))));
      loss.backward();
      auto& out = dev.is_cuda() ? gpu : cpu;
      out = {y, loss, x.grad(), w.grad()};
    }
    const double eps = half == kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
    for (std::size_t k = 0; k < cpu.size(); ++k) {
      std::vector<std::uint16_t> p = bits_of(cpu[k]), q = bits_of(gpu[k]);
      std::vector<double> pv = cpu[k].to_vector<double>(), qv = gpu[k].to_vector<double>();
      ASSERT_EQ(p.size(), q.size());
      double scale = 0;
      for (double v : pv) scale = std::max(scale, std::abs(v));
      int worst = 0, identical = 0;
      for (std::size_t i = 0; i < p.size(); ++i) {
        int d = ulps(p[i], q[i]);
        worst = std::max(worst, d);
        identical += d == 0;
        EXPECT_TRUE(d <= 2 || std::abs(pv[i] - qv[i]) <= 4 * eps * scale)
            << dtype_name(half) << " result " << k << "[" << i << "]: CPU " << pv[i] << " CUDA " << qv[i];
      }
      std::printf("[ %s result %zu ] %d of %zu elements bit-identical to the CPU, worst %d ulp\n",
                  std::string(dtype_name(half)).c_str(), k, identical, p.size(), worst);
    }
  }
}

}  // namespace
}  // namespace loom
