// set_float32_matmul_precision("high") on CUDA (core/matmul_precision.h):
// (a) TF32 is engaged and its error is within TF32's derived bound, while
//     "highest" is within float32's: a 512 x 512 x 512 matmul and an LSTM
//     layer's forward and backward, against float64 references;
// (b) deterministic mode holds under "high": two runs give the same bits;
// (c) switching back to "highest" restores its bits exactly, also through the
//     recurrent layers' CUDA graphs (the graph cache is keyed on the setting).
// Every CUDA test is skipped without a GPU; MatmulPrecisionBounds checks the
// float32 bounds on the CPU, everywhere.
//
// The error bounds (u = 2^-24, float32's unit roundoff; v = TF32's input
// rounding: 2^-11 for round-to-nearest, 2^-10 if the hardware truncates; we
// take v = 2^-10 so the bound holds either way, and v = 0 under "highest"):
// each factor a, b of a product reaches the multiplier as a(1+da), b(1+db),
// |da|, |db| <= v, and k products are summed in float32 in some order. So for
// C = A B with inner size k (Higham, Accuracy and Stability, 3.5):
//     |C_computed - C| <= ((1+v)^2 (1+g_k) - 1) (|A| |B|),  g_k = k u / (1 - k u)
// elementwise. For k = 512: 1.99e-3 (TF32) and 3.05e-5 (float32) times |A||B|.
// The LSTM bounds carry this through the cell to first order (see
// lstm_bounds below).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/determinism.h"
#include "core/generator.h"
#include "core/matmul_precision.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "testing.h"

#ifdef LOOM_WITH_CUDA
#include "kernels/rnn.h"
#endif

namespace loom {
namespace {

constexpr double kU32 = 0x1p-24;      // float32 unit roundoff
constexpr double kTf32Input = 0x1p-10;  // TF32 input rounding, truncation-safe

// Input rounding of a float32 GEMM factor under `precision`.
double input_rounding(const std::string& precision) {
  return precision == "highest" ? 0.0 : kTf32Input;
}

// Relative bound on one dot product of length k (times sum |a_i b_i|).
double dot_bound(double v, std::int64_t k) {
  const double g = static_cast<double>(k) * kU32 / (1 - static_cast<double>(k) * kU32);
  return (1 + v) * (1 + v) * (1 + g) - 1;
}

// Restores the precision, deterministic mode and CUDA graphs however a test ends.
struct SettingsGuard {
  std::string precision = get_float32_matmul_precision();
  bool det = deterministic();
  ~SettingsGuard() {
    set_float32_matmul_precision(precision);
    set_deterministic(det);
#ifdef LOOM_WITH_CUDA
    kernels::set_rnn_cuda_graphs(false);
#endif
  }
};

std::vector<double> host(const Tensor& t) { return t.detach().cpu().to(kFloat64).to_vector<double>(); }

bool same_bits(const Tensor& a, const Tensor& b) {
  Tensor x = a.detach().contiguous().cpu(), y = b.detach().contiguous().cpu();
  return x.dtype() == y.dtype() && x.shape() == y.shape() &&
         std::memcmp(x.data_ptr(), y.data_ptr(), x.numel() * element_size(x.dtype())) == 0;
}

// Checks |actual - expected| <= bound elementwise; returns the largest
// |actual - expected| / bound (so <= 1 passes), reporting the worst element.
double expect_within(const std::vector<double>& actual, const std::vector<double>& expected,
                     const std::vector<double>& bound, const std::string& what) {
  EXPECT_EQ(actual.size(), expected.size()) << what;
  EXPECT_EQ(bound.size(), expected.size()) << what;
  double worst = 0;
  std::size_t at = 0, bad = 0;
  for (std::size_t i = 0; i < expected.size() && i < actual.size() && i < bound.size(); ++i) {
    const double err = std::abs(actual[i] - expected[i]);
    const double ratio = bound[i] > 0 ? err / bound[i] : (err > 0 ? INFINITY : 0);
    if (ratio > 1) ++bad;
    if (ratio > worst) worst = ratio, at = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " elements beyond the bound; worst at " << at
                     << ": got " << actual[at] << ", float64 " << expected[at] << ", bound "
                     << bound[at];
  return worst;
}

// TF32 rounding of float32 values (round to nearest, ties to even, at bit 13),
// to emulate on the CPU what a TF32 GEMM does to its factors. Finite values only.
float tf32_round(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  b = (b + 0xFFFu + ((b >> 13) & 1u)) & ~0x1FFFu;
  std::memcpy(&x, &b, sizeof b);
  return x;
}

// Rounds a contiguous float32 CPU tensor's elements to TF32 in place.
void round_to_tf32(const Tensor& t) {
  ASSERT_TRUE(t.is_contiguous() && !t.is_cuda() && t.dtype() == kFloat32);
  float* p = static_cast<float*>(t.data_ptr());
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = tf32_round(p[i]);
}

// ---- (a) a 512 x 512 x 512 float32 matmul -----------------------------------------

struct MatmulCase {
  Tensor a, b;                      // float32 on CUDA
  std::vector<double> exact, size;  // A B and |A| |B| in float64 (CPU)
};

MatmulCase matmul_case(Device device = kCUDA) {
  const std::int64_t n = 512;
  Tensor a = testing::random_tensor({n, n}, 11, kFloat32), b = testing::random_tensor({n, n}, 12, kFloat32);
  Tensor a64 = a.to(kFloat64), b64 = b.to(kFloat64);  // exactly the float32 values
  return {a.to(device), b.to(device), matmul(a64, b64).to_vector<double>(),
          matmul(abs(a64), abs(b64)).to_vector<double>()};
}

TEST(MatmulPrecisionCuda, Matmul512HighUsesTf32WithinItsBoundHighestWithinFloat32s) {
  LOOM_SKIP_WITHOUT_CUDA();
  SettingsGuard guard;
  MatmulCase c = matmul_case();
  const std::int64_t k = 512;
  std::vector<Tensor> results;
  for (const char* precision : {"highest", "high"}) {
    set_float32_matmul_precision(precision);
    Tensor y = matmul(c.a, c.b);
    results.push_back(y);
    std::vector<double> bound(c.size.size());
    const double rel = dot_bound(input_rounding(precision), k);
    for (std::size_t i = 0; i < bound.size(); ++i) bound[i] = rel * c.size[i];
    const double worst = expect_within(host(y), c.exact, bound, std::string("matmul under ") + precision);
    // The error in units of float32's own bound: above 1 is an error no full
    // float32 product can make, so TF32 (or something coarser) was used.
    std::vector<double> err = host(y);
    double worst_in_float32_bound = 0, sq = 0, ref = 0;
    for (std::size_t i = 0; i < err.size(); ++i) {
      const double e = std::abs(err[i] - c.exact[i]);
      worst_in_float32_bound = std::max(worst_in_float32_bound, e / (dot_bound(0, k) * c.size[i]));
      sq += e * e;
      ref += c.exact[i] * c.exact[i];
    }
    std::printf("[ measured ] 512^3 matmul, %s: worst error / own bound %.3g; worst error / "
                "float32 bound %.3g; relative Frobenius error %.3g\n",
                precision, worst, worst_in_float32_bound, std::sqrt(sq / ref));
    if (std::string(precision) == "high")
      EXPECT_GT(worst_in_float32_bound, 1.0)
          << "under \"high\" the product is as accurate as float32 allows: TF32 is not engaged";
  }
  EXPECT_FALSE(same_bits(results[0], results[1])) << "\"high\" gave the same bits as \"highest\"";
}

// ---- (a) an LSTM layer, one step, forward and backward ----------------------------

constexpr std::int64_t kN = 64, kC = 512, kH = 512;

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// The backward cell of one (n, j) for loss = sum(h1) with one step from
// (h0, c0): gate pre-activations z = (i, f, g, o) and c0 in, (dz_i, dz_f,
// dz_g, dz_o, dc0) out. PyTorch's LSTM equations, written out here
// independently of kernels/rnn_cells.h; used only to propagate error bounds.
std::array<double, 5> cell_backward(const std::array<double, 4>& z, double c0) {
  const double i = sigmoid(z[0]), f = sigmoid(z[1]), g = std::tanh(z[2]), o = sigmoid(z[3]);
  const double c1 = f * c0 + i * g, tc = std::tanh(c1);
  const double dc1 = o * (1 - tc * tc);
  return {dc1 * g * i * (1 - i), dc1 * c0 * f * (1 - f), dc1 * i * (1 - g * g), tc * o * (1 - o),
          dc1 * f};
}

struct LstmResult {
  Tensor out, h_n, c_n;
  std::vector<Tensor> grads;  // weight_ih, weight_hh, bias_ih, bias_hh, x, h0, c0
};

const char* const kGradNames[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "x", "h0", "c0"};

// One LSTM layer (C = H = 512) on x [1, N, C] from (h0, c0), weights drawn from
// seed 5 in float32 (so the float64 reference holds exactly the same values),
// forward, then loss = sum(out) backward.
// With emulate_tf32 (CPU float32 only), the GEMM factors of the forward
// (W_ih, W_hh, x, h0) are first rounded to TF32: the forward then computes
// what a TF32 GEMM would (its backward does not: dz is not rounded).
LstmResult run_lstm(Device device, DType dtype, bool emulate_tf32 = false) {
  manual_seed(5);
  nn::LSTM lstm(kC, kH);
  lstm->to(dtype);
  lstm->to(device);
  if (emulate_tf32)
    for (int q = 0; q < 2; ++q) {
      round_to_tf32(lstm->layer_parameters(0, 0)[q]);
      std::size_t not_rounded = 0;  // read back from the layer: it holds the rounded values
      for (float w : lstm->layer_parameters(0, 0)[q].to_vector<float>()) not_rounded += w != tf32_round(w);
      EXPECT_EQ(not_rounded, 0u);
    }
  auto input = [&](const Shape& shape, unsigned seed, bool gemm_factor) {
    Tensor t = testing::random_tensor(shape, seed, kFloat32);
    if (emulate_tf32 && gemm_factor) round_to_tf32(t);
    return t.to(dtype).to(device).requires_grad_();
  };
  Tensor x = input({1, kN, kC}, 21, true), h0 = input({1, kN, kH}, 22, true),
         c0 = input({1, kN, kH}, 23, false);
  auto [out, state] = lstm->forward(x, nn::LSTMImpl::State{h0, c0});
  sum(out).backward();
  LstmResult r{out, std::get<0>(state), std::get<1>(state), {}};
  for (const Tensor& p : lstm->layer_parameters(0, 0)) r.grads.push_back(p.grad());
  for (const Tensor& t : {x, h0, c0}) r.grads.push_back(t.grad());
  return r;
}

struct LstmBounds {
  std::vector<double> h1, c1;
  std::vector<std::vector<double>> grads;  // in kGradNames' order
};

// First-order error bounds (in u and v) of a float32 LSTM step whose GEMMs
// round their inputs by v, computed from the float64 reference's values:
// - gate pre-activations z = x W_ih^T + b_ih + h0 W_hh^T + b_hh (two GEMMs of
//   inner sizes C and H, then additions):
//     dz <= (dot_bound(v, C + H) + 3u) S,  S = |x||W_ih|^T + |h0||W_hh|^T + |b_ih| + |b_hh|;
// - the cell's float32 math (exp/tanh/divisions, a few ulp each) adds at most
//   r = 16u times the magnitude of each term; the z errors go through the
//   derivatives of the cell (sigmoid' <= 1/4, tanh' <= 1): |dc1| <= f(1-f)|c0| dz_f
//   + i(1-i)|g| dz_i + i(1-g^2) dz_g + r(|f c0| + |i g|), |dh1| <= o(1-o)|tanh c1| dz_o
//   + o(1-tanh^2 c1)|dc1| + r|h1|;
// - backward: the cell gradients dz (and dc0) are smooth functions of (z, c0):
//   |d dz_k| <= sum_m |d dz_k / d z_m| dz_m + 32u |dz_k| (derivatives by central
//   differences in float64); then each gradient GEMM of inner size k adds
//   dot_bound(v, k) times its |.||.| product, and carries |d dz| through:
//     dW_ih <= |d dz|^T |x| + dot_bound(v, N)|dz|^T|x|   (likewise W_hh with h0)
//     dx    <= |d dz| |W_ih| + dot_bound(v, 4H)|dz||W_ih| (likewise h0 with W_hh)
//     db    <= sum_n |d dz| + N u sum_n |dz|.
// Second-order terms (products of two errors) are left out: here dz <= 0.03,
// so they are a few percent of the bound at most.
LstmBounds lstm_bounds(const std::string& precision) {
  const double v = input_rounding(precision), u = kU32, r = 16 * u;
  manual_seed(5);
  nn::LSTM ref(kC, kH);
  ref->to(kFloat64);
  std::vector<Tensor> w = ref->layer_parameters(0, 0);  // W_ih [4H, C], W_hh [4H, H], b_ih, b_hh
  Tensor x = testing::random_tensor({kN, kC}, 21, kFloat32).to(kFloat64);
  Tensor h0 = testing::random_tensor({kN, kH}, 22, kFloat32).to(kFloat64);
  Tensor c0t = testing::random_tensor({kN, kH}, 23, kFloat32).to(kFloat64);
  const std::int64_t G = 4 * kH;
  NoGradGuard no_grad;
  const std::vector<double> z =
      add(add(matmul(x, transpose(w[0], 0, 1)), w[2]), add(matmul(h0, transpose(w[1], 0, 1)), w[3]))
          .to_vector<double>();  // [N, G]
  const std::vector<double> S = add(add(matmul(abs(x), transpose(abs(w[0]), 0, 1)), abs(w[2])),
                                    add(matmul(abs(h0), transpose(abs(w[1]), 0, 1)), abs(w[3])))
                                    .to_vector<double>();
  const std::vector<double> c0 = c0t.to_vector<double>();
  const double ez = dot_bound(v, kC + kH) + 3 * u;

  LstmBounds b;
  b.h1.assign(kN * kH, 0);
  b.c1.assign(kN * kH, 0);
  std::vector<double> ddz(kN * G), dz(kN * G), dc0_bound(kN * kH);
  for (std::int64_t n = 0; n < kN; ++n)
    for (std::int64_t j = 0; j < kH; ++j) {
      std::array<double, 4> zz, e;
      for (int q = 0; q < 4; ++q) {
        zz[q] = z[n * G + q * kH + j];
        e[q] = ez * S[n * G + q * kH + j];
      }
      const double cp = c0[n * kH + j];
      const double i = sigmoid(zz[0]), f = sigmoid(zz[1]), g = std::tanh(zz[2]), o = sigmoid(zz[3]);
      const double c1 = f * cp + i * g, tc = std::tanh(c1);
      const double dc1 = f * (1 - f) * std::abs(cp) * e[1] + i * (1 - i) * std::abs(g) * e[0] +
                         i * (1 - g * g) * e[2] + r * (std::abs(f * cp) + std::abs(i * g));
      b.c1[n * kH + j] = dc1;
      b.h1[n * kH + j] = o * (1 - o) * std::abs(tc) * e[3] + o * (1 - tc * tc) * dc1 + r * std::abs(o * tc);
      // Backward cell: derivatives of (dz_i, dz_f, dz_g, dz_o, dc0) in z.
      const std::array<double, 5> F = cell_backward(zz, cp);
      std::array<double, 5> dF{};
      for (int m = 0; m < 4; ++m) {
        const double step = 1e-5;
        std::array<double, 4> up = zz, down = zz;
        up[m] += step;
        down[m] -= step;
        const std::array<double, 5> Fu = cell_backward(up, cp), Fd = cell_backward(down, cp);
        for (int q = 0; q < 5; ++q) dF[q] += std::abs((Fu[q] - Fd[q]) / (2 * step)) * e[m];
      }
      for (int q = 0; q < 4; ++q) {
        dz[n * G + q * kH + j] = F[q];
        ddz[n * G + q * kH + j] = dF[q] + 32 * u * std::abs(F[q]);
      }
      dc0_bound[n * kH + j] = dF[4] + 32 * u * std::abs(F[4]);
    }
  // The gradient GEMMs, in float64 on |.| operands.
  auto t = [](const std::vector<double>& v, std::int64_t rows, std::int64_t cols) {
    return tensor(v, {rows, cols}, TensorOptions(kFloat64));
  };
  Tensor DDZ = t(ddz, kN, G), ADZ = abs(t(dz, kN, G));
  auto plus = [](const Tensor& a, const Tensor& b, double s) { return add(a, mul(b, s)).to_vector<double>(); };
  const double eN = dot_bound(v, kN) + u, eG = dot_bound(v, G) + u;
  b.grads.push_back(plus(matmul(transpose(DDZ, 0, 1), abs(x)), matmul(transpose(ADZ, 0, 1), abs(x)), eN));
  b.grads.push_back(plus(matmul(transpose(DDZ, 0, 1), abs(h0)), matmul(transpose(ADZ, 0, 1), abs(h0)), eN));
  const std::vector<double> db = plus(sum(DDZ, {0}), sum(ADZ, {0}), static_cast<double>(kN) * u);
  b.grads.push_back(db);
  b.grads.push_back(db);
  b.grads.push_back(plus(matmul(DDZ, abs(w[0])), matmul(ADZ, abs(w[0])), eG));
  b.grads.push_back(plus(matmul(DDZ, abs(w[1])), matmul(ADZ, abs(w[1])), eG));
  b.grads.push_back(dc0_bound);
  return b;
}

// Checks a float32 run on `device` under `precision` against the float64
// CPU reference and lstm_bounds(precision); returns the run.
LstmResult check_lstm(Device device, const std::string& precision, const LstmResult& ref) {
  LstmResult r = run_lstm(device, kFloat32);
  const LstmBounds b = lstm_bounds(precision);
  const std::string p = fmt::format(" on {} under {}", device.is_cuda() ? "cuda" : "cpu", precision);
  double worst = expect_within(host(r.out), host(ref.out), b.h1, "output" + p);
  worst = std::max(worst, expect_within(host(r.h_n), host(ref.h_n), b.h1, "h_n" + p));
  worst = std::max(worst, expect_within(host(r.c_n), host(ref.c_n), b.c1, "c_n" + p));
  for (std::size_t q = 0; q < r.grads.size(); ++q)
    worst = std::max(worst, expect_within(host(r.grads[q]), host(ref.grads[q]), b.grads[q],
                                          std::string("grad ") + kGradNames[q] + p));
  std::printf("[ measured ] LSTM C=H=512 N=64 one step%s: worst error / its bound %.3g\n",
              p.c_str(), worst);
  return r;
}

TEST(MatmulPrecisionCuda, LstmHighUsesTf32WithinItsBoundHighestWithinFloat32s) {
  LOOM_SKIP_WITHOUT_CUDA();
  SettingsGuard guard;
  const LstmResult ref = run_lstm(kCPU, kFloat64);  // loom's float64 CPU reference
  std::vector<LstmResult> runs;
  for (const char* precision : {"highest", "high"}) {
    set_float32_matmul_precision(precision);
    runs.push_back(check_lstm(kCUDA, precision, ref));
  }
  bool differs = !same_bits(runs[0].out, runs[1].out);
  for (std::size_t q = 0; q < runs[0].grads.size(); ++q)
    differs = differs || !same_bits(runs[0].grads[q], runs[1].grads[q]);
  EXPECT_TRUE(differs) << "the LSTM gave the same bits under \"high\" as under \"highest\"";
}

// The float32 bounds above checked where they can be on every machine: the
// CPU (OpenBLAS, full float32 whatever the setting) must satisfy them too.
TEST(MatmulPrecisionBounds, CpuFloat32WithinTheDerivedFloat32Bounds) {
  SettingsGuard guard;
  set_float32_matmul_precision("high");  // ignored by the CPU
  check_lstm(kCPU, "highest", run_lstm(kCPU, kFloat64));
  MatmulCase c = matmul_case(kCPU);
  std::vector<double> bound(c.size.size());
  for (std::size_t i = 0; i < bound.size(); ++i) bound[i] = dot_bound(0, 512) * c.size[i];
  const double worst = expect_within(host(matmul(c.a, c.b)), c.exact, bound, "cpu matmul");
  std::printf("[ measured ] 512^3 matmul on cpu: worst error / float32 bound %.3g\n", worst);
}

// The TF32 bounds and the "TF32 engaged" criterion checked against TF32
// emulated on the CPU (factors rounded to TF32, then a float32 product): the
// emulated product must stay within TF32's bound and must break float32's
// (so the CUDA test's criterion is met by real TF32 rounding, and the bound
// is not violated by it); the emulated LSTM forward must stay within the
// forward's TF32 bound.
TEST(MatmulPrecisionBounds, CpuEmulatedTf32WithinTheTf32BoundsAndBeyondFloat32s) {
  MatmulCase c = matmul_case(kCPU);
  round_to_tf32(c.a);
  round_to_tf32(c.b);
  const std::vector<double> y = host(matmul(c.a, c.b));
  std::vector<double> bound(c.size.size());
  for (std::size_t i = 0; i < bound.size(); ++i) bound[i] = dot_bound(kTf32Input, 512) * c.size[i];
  const double worst = expect_within(y, c.exact, bound, "emulated TF32 matmul");
  double worst_in_float32_bound = 0;
  for (std::size_t i = 0; i < y.size(); ++i)
    worst_in_float32_bound =
        std::max(worst_in_float32_bound, std::abs(y[i] - c.exact[i]) / (dot_bound(0, 512) * c.size[i]));
  std::printf("[ measured ] 512^3 matmul, TF32 emulated on cpu: worst error / TF32 bound %.3g; "
              "worst error / float32 bound %.3g\n", worst, worst_in_float32_bound);
  EXPECT_GT(worst_in_float32_bound, 1.0);

  const LstmResult ref = run_lstm(kCPU, kFloat64), r = run_lstm(kCPU, kFloat32, true);
  const LstmBounds tf32 = lstm_bounds("high"), full = lstm_bounds("highest");
  double w = expect_within(host(r.out), host(ref.out), tf32.h1, "emulated TF32 LSTM output");
  w = std::max(w, expect_within(host(r.c_n), host(ref.c_n), tf32.c1, "emulated TF32 LSTM c_n"));
  double beyond = 0;  // the same error in units of the float32 bound
  const std::vector<double> out = host(r.out), expected = host(ref.out);
  for (std::size_t i = 0; i < out.size(); ++i)
    beyond = std::max(beyond, std::abs(out[i] - expected[i]) / full.h1[i]);
  std::printf("[ measured ] LSTM forward, TF32 emulated on cpu: worst error / TF32 bound %.3g; "
              "output's worst error / float32 bound %.3g\n", w, beyond);
}

// ---- (b) and (c): determinism under "high", and switching back ----------------------

// A 2-layer bidirectional LSTM (C = H = 256, N = 32, T = 20) + Linear, forward
// and backward of a fixed loss, plus a 512^3 matmul: every output and gradient.
std::vector<Tensor> workload() {
  manual_seed(9);
  nn::LSTM lstm(nn::LSTMOptions(256, 256).num_layers(2).bidirectional(true));
  nn::Linear head(512, 7);
  lstm->to(kCUDA);
  head->to(kCUDA);
  Tensor x = testing::random_tensor({20, 32, 256}, 31, kFloat32).to(kCUDA).requires_grad_();
  auto [out, state] = lstm->forward(x);
  Tensor y = head->forward(out);
  sum(mul(y, y)).backward();
  std::vector<Tensor> all = {out, y, x.grad()};
  for (const Tensor& p : lstm->parameters()) all.push_back(p.grad());
  for (const Tensor& p : head->parameters()) all.push_back(p.grad());
  MatmulCase c = matmul_case();
  all.push_back(matmul(c.a, c.b));
  return all;
}

bool all_same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same_bits(a[i], b[i])) return false;
  return true;
}

TEST(MatmulPrecisionCuda, DeterministicUnderHighAndHighestRestoredExactly) {
  LOOM_SKIP_WITHOUT_CUDA();
  SettingsGuard guard;
  set_deterministic(true);
  set_float32_matmul_precision("highest");
  const std::vector<Tensor> full = workload();
  set_float32_matmul_precision("high");
  const std::vector<Tensor> tf32_a = workload(), tf32_b = workload();
  EXPECT_TRUE(all_same_bits(tf32_a, tf32_b)) << "two runs under \"high\" differ";
  EXPECT_FALSE(all_same_bits(full, tf32_a)) << "\"high\" gave \"highest\"'s bits";
  for (std::size_t i = 0; i < full.size(); ++i)  // every TF32 result stays close to float32's
    testing::expect_all_close(host(tf32_a[i]), host(full[i]), 2e-2, 2e-2, "result " + std::to_string(i));
  set_float32_matmul_precision("highest");
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
  EXPECT_TRUE(all_same_bits(full, workload())) << "back to \"highest\", the bits changed";
}

#ifdef LOOM_WITH_CUDA
// With CUDA graphs on, a graph captured under one precision must not be
// replayed under the other: highest, highest (replayed), high, highest.
TEST(MatmulPrecisionCuda, CudaGraphsFollowThePrecision) {
  LOOM_SKIP_WITHOUT_CUDA();
  SettingsGuard guard;
  set_deterministic(true);
  set_float32_matmul_precision("high");
  const std::vector<Tensor> tf32_direct = workload();
  kernels::set_rnn_cuda_graphs(true);
  set_float32_matmul_precision("highest");
  const std::vector<Tensor> full = workload();
  EXPECT_TRUE(all_same_bits(full, workload())) << "highest, second (graphed) run";
  set_float32_matmul_precision("high");
  EXPECT_TRUE(all_same_bits(tf32_direct, workload())) << "high with graphs != high without";
  set_float32_matmul_precision("highest");
  EXPECT_TRUE(all_same_bits(full, workload())) << "highest after high, with graphs";
}
#endif

}  // namespace
}  // namespace loom
