// Shapes beyond 2^31 elements: every place a 32-bit index could overflow
// either computes correctly (64-bit indices) or refuses with a clear
// loom::Error, before anything is materialised.
// - views of > 2^31 elements (expand) keep exact sizes and element access;
// - the shared elementwise index math (kernels/elementwise.h) at 2^41;
// - copies, elementwise ops, reductions and matmul at element offsets beyond
//   2^31 in one big, mostly untouched allocation (CPU here; CUDA on a GPU);
// - GEMM sizes beyond int (BLAS and cuBLAS take int) are refused: matmul of
//   expanded operands, the kernels themselves, the recurrent layers;
// - on CUDA: elementwise, reductions and log-softmax over > 2^31 elements
//   compute the right numbers (grid-stride loops, chunked launches).
#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/functions.h"
#include "core/allocator.h"
#include "core/native.h"
#include "core/native_nn.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/rnn.h"
#include "nn/rnn.h"
#include "testing.h"

namespace loom {
namespace {

using testing::expect_error_containing;
using testing::expect_error_containing_all;

constexpr std::int64_t k2to31 = std::int64_t{1} << 31;

TEST(BigShapes, ExpandBeyondInt32KeepsSizesAndElements) {
  Tensor x = tensor({1.5, -2.25}, kFloat32).view({2, 1});
  Tensor v = x.expand({2, k2to31 + 5});  // a view: nothing is allocated
  EXPECT_EQ(v.numel(), 2 * (k2to31 + 5));
  EXPECT_EQ(v.size(1), k2to31 + 5);
  EXPECT_EQ(v.select(0, 1).select(0, k2to31 + 4).item(), -2.25);
  EXPECT_EQ(v.narrow(1, k2to31 + 1, 3).select(0, 0).to_vector<float>(),
            (std::vector<float>{1.5f, 1.5f, 1.5f}));
  // Three levels of 2^31: 2^93 elements cannot be counted.
  expect_error_containing([&] { x.view({2, 1, 1, 1}).expand({2, k2to31, k2to31, k2to31}).numel(); },
                          "the number of elements of shape [2, 2147483648, 2147483648, "
                          "2147483648] overflows int64");
}

// The index math every elementwise kernel (CPU and CUDA) shares, at a flat
// index of about 2^41: no 32-bit intermediate.
TEST(BigShapes, ElementwiseOffsetsAreExactBeyondInt32) {
  const std::int64_t A = std::int64_t{1} << 20, B = std::int64_t{1} << 20, C = 3;
  kernels::OffsetCalc<2> calc;
  calc.ndim = 3;
  const std::int64_t sizes[3] = {A, B, C};
  const std::int64_t contiguous[3] = {B * C, C, 1};
  const std::int64_t permuted[3] = {1, A * C, A};  // a transposed layout: (a, b, c) at b*A*C + c*A + a
  for (int d = 0; d < 3; ++d) {
    calc.sizes[d] = sizes[d];
    calc.strides[0][d] = contiguous[d];
    calc.strides[1][d] = permuted[d];
  }
  const std::int64_t a = A - 1, b = 12345, c = 2;
  const std::int64_t linear = (a * B + b) * C + c;
  ASSERT_GT(linear, std::int64_t{1} << 41);
  std::int64_t off[2];
  calc.offsets(linear, off);
  EXPECT_EQ(off[0], linear);
  EXPECT_EQ(off[1], b * A * C + c * A + a);
}

// One float tensor of 2^31 + 64 elements (8 GiB of address space, of which
// the test touches a few pages: uninitialised storage is never written), and
// views into it at element offsets beyond 2^31.
void check_ops_at_offsets_beyond_int32(Device device) {
  const std::int64_t n = k2to31 + 64;
  Tensor base = empty({n}, TensorOptions(kFloat32).device(device));
  const std::int64_t stride = (std::int64_t{1} << 30) + 1;  // elements 0, 2^30 + 1, 2^31 + 2
  for (int k = 0; k < 3; ++k) native::fill_(base.narrow(0, k * stride, 1), k + 1.0);
  native::fill_(base.narrow(0, k2to31 + 10, 3), 10.0);
  Tensor s = make_view(base, {3}, {stride}, 0);  // [1, 2, 3], the last beyond 2^31
  Tensor tail = base.narrow(0, k2to31 + 10, 3);  // offset beyond 2^31
  EXPECT_EQ(native::contiguous(s).to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(native::binary(native::BinaryOp::Add, s, tail).to_vector<float>(),
            (std::vector<float>{11, 12, 13}));
  EXPECT_EQ(native::sum(native::binary(native::BinaryOp::Mul, s, s), {}).item(), 14.0);
  auto [value, index] = native::max(s, 0);
  EXPECT_EQ(value.item(), 3.0);
  EXPECT_EQ(index.item(), 2.0);
  // matmul with a row stride beyond int: handled by copying the small operand.
  Tensor m = make_view(base, {2, 2}, {k2to31 + 8, 1}, 0);  // [[1, 2], [3, 10]]
  native::fill_(base.narrow(0, 1, 1), 2.0);
  native::fill_(base.narrow(0, k2to31 + 8, 1), 3.0);
  native::fill_(base.narrow(0, k2to31 + 9, 1), 10.0);
  Tensor id = tensor({1, 0, 0, 1}, TensorOptions(kFloat32).device(device)).view({2, 2});
  EXPECT_EQ(matmul(m, id).to_vector<float>(), (std::vector<float>{1, 2, 3, 10}));
  EXPECT_EQ(matmul(id, m.t()).to_vector<float>(), (std::vector<float>{1, 3, 2, 10}));
}

TEST(BigShapes, OpsAtElementOffsetsBeyondInt32) {
  if (host_memory_limit() < (std::int64_t{16} << 30))
    GTEST_SKIP() << "needs 8 GiB of address space (untouched) within physical memory + swap of "
                    "at least 16 GiB; this machine has "
                 << format_memory_size(host_memory_limit());
  check_ops_at_offsets_beyond_int32(kCPU);
}

// A product with K = 2^31 from expanded 1 x 1 operands: refused before either
// operand is materialised (each would be 8 GiB).
TEST(BigShapes, MatmulBeyondIntSizesIsRefusedBeforeCopying) {
  Tensor one = ones({1, 1}, TensorOptions(kFloat32).requires_grad());
  Tensor a = one.expand({1, k2to31}), b = one.expand({k2to31, 1});
  const HostMemoryStats before = host_memory_stats();
  host_reset_peak_memory_stats();
  expect_error_containing_all([&] { matmul(a, b); },
                              {"matmul: K = 2147483648 exceeds 2147483647, the largest size BLAS and "
                               "cuBLAS accept", "M = 1, N = 1, K = 2147483648"});
  expect_error_containing([&] { matmul(a.view({1, 1, k2to31}), b.view({1, k2to31, 1})); },
                          "matmul: K = 2147483648 exceeds 2147483647");
  EXPECT_LT(host_memory_stats().max_allocated - before.allocated, 1 << 20)
      << "an operand was materialised before the refusal";
  // Just inside the limit on a cheap shape still works.
  Tensor c = ones({3, 2}, kFloat32), d = ones({2, 4}, kFloat32);
  EXPECT_EQ(matmul(c, d).to_vector<float>(), std::vector<float>(12, 2.0f));
}

// The kernels refuse what BLAS would truncate, before touching a pointer.
TEST(BigShapes, GemmKernelsRefuseSizesBeyondInt) {
  const float* none = nullptr;
  float* out = nullptr;
  expect_error_containing(
      [&] { kernels::gemm_cpu<float>(false, false, k2to31, 1, 1, 1.0f, none, 1, none, 1, 0.0f, out, 1); },
      "gemm: M = 2147483648 exceeds 2147483647");
  expect_error_containing(
      [&] { kernels::gemm_cpu<float>(false, false, 1, 1, 1, 1.0f, none, k2to31, none, 1, 0.0f, out, 1); },
      "gemm: lda = 2147483648 exceeds 2147483647");
  expect_error_containing(
      [&] {
        kernels::gemm_batched_cpu<double>(true, false, 2, 1, k2to31 + 7, 1, 1.0, nullptr, 1, 0, nullptr,
                                          1, 0, 0.0, nullptr, k2to31 + 7, 0);
      },
      "gemm_batched: N = 2147483655 exceeds 2147483647");
  kernels::gemm_check_sizes("gemm", kernels::kMaxGemmSize, 1, 1, 1, 1, 1);  // the limit itself passes
}

// L * N > 2^31 (step, row) pairs: refused by the module before the input is
// copied, and by the kernels' shape check.
TEST(BigShapes, RecurrentLayersRefuseMoreThanIntRows) {
  nn::LSTM lstm(nn::LSTMOptions(1, 2));
  Tensor x = zeros({1, 1, 1}, kFloat32).expand({std::int64_t{1} << 16, (std::int64_t{1} << 15) + 1, 1});
  const HostMemoryStats before = host_memory_stats();
  host_reset_peak_memory_stats();
  expect_error_containing([&] { lstm->forward(x); },
                          "LSTM: the input has L * N = 2147549184 (step, row) pairs (L = 65536, N = "
                          "32769), more than 2147483647");
  EXPECT_LT(host_memory_stats().max_allocated - before.allocated, 1 << 20)
      << "the input was materialised before the refusal";

  const std::int64_t N = (std::int64_t{1} << 20) + 1;
  std::vector<kernels::index_t> batch_sizes(2048, N);
  kernels::RnnLayerShape s;
  s.mode = kernels::RnnMode::Gru;
  s.T = 2048;
  s.N = N;
  s.C = 4;
  s.H = s.P = 8;
  s.batch_sizes = batch_sizes.data();
  expect_error_containing([&] { kernels::rnn_check_shape(s); },
                          "GRU: the sequence has 2147485696 (step, row) pairs (T = 2048, N = 1048577)");
  batch_sizes.resize(2047);  // 2146437119 rows: fits
  s.T = 2047;
  kernels::rnn_check_shape(s);
}

// ---- CUDA: the grid-stride loops and chunked launches past 2^31 ---------------------

TEST(BigShapesCuda, OpsOverMoreThanInt32Elements) {
  LOOM_SKIP_WITHOUT_CUDA();
  const TensorOptions cuda = TensorOptions(kFloat32).device(kCUDA);
  const std::int64_t n = k2to31 + 7;
  {
    Tensor x = ones({1}, cuda).expand({n});                    // not materialised
    Tensor y = native::unary(native::UnaryOp::MulScalar, x, 2.0);  // 8 GiB, every element written
    EXPECT_EQ(y.narrow(0, n - 3, 3).to_vector<float>(), (std::vector<float>{2, 2, 2}));
    // One row of n elements (accumulated in double: 2n is exact), then n rows of one.
    EXPECT_EQ(native::sum(y, {}).item<double>(), static_cast<double>(static_cast<float>(2.0 * n)));
    Tensor rows = native::sum(y.view({n, 1}), {1});
    EXPECT_EQ(rows.size(0), n);
    EXPECT_EQ(rows.narrow(0, n - 2, 2).to_vector<float>(), (std::vector<float>{2, 2}));
    EXPECT_EQ(native::sum(rows, {}).item<double>(), static_cast<double>(static_cast<float>(2.0 * n)));
  }
  {
    // log-softmax over rows of 16 equal values: -log(16) everywhere.
    const std::int64_t rows = (std::int64_t{1} << 27) + 1;  // 16 x rows > 2^31 elements
    Tensor z = native::softmax(ones({1, 1}, cuda).expand({rows, 16}), 1, true);
    const float expected = static_cast<float>(-std::log(16.0));
    std::vector<float> last = z.narrow(0, rows - 1, 1).to_vector<float>();
    for (float v : last) EXPECT_NEAR(v, expected, 1e-6);
    auto [lo, lo_index] = native::max(native::unary(native::UnaryOp::Neg, z.view({-1})), 0);
    EXPECT_NEAR(lo.item(), -expected, 1e-6) << "the smallest element, at " << lo_index.item();
  }
  check_ops_at_offsets_beyond_int32(kCUDA);
  Tensor one = ones({1, 1}, cuda);
  expect_error_containing([&] { matmul(one.expand({1, k2to31}), one.expand({k2to31, 1})); },
                          "matmul: K = 2147483648 exceeds 2147483647");
}

}  // namespace
}  // namespace loom
