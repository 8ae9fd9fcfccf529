// The CPU recurrent-layer kernels (kernels/rnn.h) against two independent
// oracles: a naive forward written here from PyTorch's documented equations
// (per sequence, plain loops; it does not use kernels/rnn_cells.h), and
// central finite differences of the forward for every gradient of backward.
#include <cmath>
#include <cstdio>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/rnn.h"
#include "testing.h"

namespace {

using loom::kernels::index_t;
using loom::kernels::RnnBackwardArgs;
using loom::kernels::RnnForwardArgs;
using loom::kernels::RnnLayerShape;
using loom::kernels::RnnMode;
using Vec = std::vector<double>;

enum class Kind { Tanh, Relu, Lstm, LstmProj, Gru };

struct Case {
  Kind kind;
  bool reverse;
  bool bias;
  bool varying;  // batch_sizes {3, 3, 2, 1} instead of {3, 3, 3, 3}
};

std::string case_name(const Case& c) {
  const char* k[] = {"Tanh", "Relu", "Lstm", "LstmProj", "Gru"};
  return std::string(k[static_cast<int>(c.kind)]) + (c.reverse ? "Reverse" : "Forward") +
         (c.bias ? "Bias" : "NoBias") + (c.varying ? "Packed" : "Uniform");
}

void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }

// One layer's problem in double: inputs, weights and upstream gradients.
struct Problem {
  RnnLayerShape shape;
  std::vector<index_t> batch_sizes;
  Vec x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0;  // empty when absent
  Vec dy, dh_n, dc_n;                           // random upstream gradients
};

Vec random_vec(std::mt19937& rng, index_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(static_cast<size_t>(n));
  for (double& e : v) e = u(rng);
  return v;
}

Problem make_problem(Kind kind, bool reverse, bool bias, std::vector<index_t> batch_sizes,
                     index_t C, index_t H, index_t P, unsigned seed) {
  Problem p;
  p.batch_sizes = std::move(batch_sizes);
  RnnLayerShape& s = p.shape;
  s.mode = kind == Kind::Tanh   ? RnnMode::RnnTanh
           : kind == Kind::Relu ? RnnMode::RnnRelu
           : kind == Kind::Gru  ? RnnMode::Gru
                                : RnnMode::Lstm;
  s.has_proj = kind == Kind::LstmProj;
  s.T = static_cast<index_t>(p.batch_sizes.size());
  s.N = p.batch_sizes[0];
  s.C = C;
  s.H = H;
  s.P = s.has_proj ? P : H;
  s.has_bias = bias;
  s.reverse = reverse;
  s.batch_sizes = p.batch_sizes.data();
  const index_t R = s.rows(), G = s.G();
  std::mt19937 rng(seed);
  p.x = random_vec(rng, R * C, -1, 1);
  p.w_ih = random_vec(rng, G * C, -0.6, 0.6);
  p.w_hh = random_vec(rng, G * s.P, -0.6, 0.6);
  if (bias) p.b_ih = random_vec(rng, G, -0.5, 0.5), p.b_hh = random_vec(rng, G, -0.5, 0.5);
  if (s.has_proj) p.w_hr = random_vec(rng, s.P * H, -0.6, 0.6);
  p.h0 = random_vec(rng, s.N * s.P, -0.8, 0.8);
  if (s.mode == RnnMode::Lstm) p.c0 = random_vec(rng, s.N * H, -0.8, 0.8);
  p.dy = random_vec(rng, R * s.P, -1, 1);
  p.dh_n = random_vec(rng, s.N * s.P, -1, 1);
  if (s.mode == RnnMode::Lstm) p.dc_n = random_vec(rng, s.N * H, -1, 1);
  return p;
}

Problem make_problem(const Case& c) {
  return make_problem(
      c.kind, c.reverse, c.bias,
      c.varying ? std::vector<index_t>{3, 3, 2, 1} : std::vector<index_t>{3, 3, 3, 3},
      /*C=*/3, /*H=*/4, /*P=*/2,
      1234u + static_cast<unsigned>(c.kind) * 7u + (c.reverse ? 100u : 0u) + (c.bias ? 10u : 0u));
}

template <typename T>
std::vector<T> cast(const Vec& v) {
  return std::vector<T>(v.begin(), v.end());
}
template <typename T>
T* ptr(std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}
template <typename T>
const T* ptr(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

// Everything one forward + backward produces, in precision T.
template <typename T>
struct Outputs {
  std::vector<T> y, h_n, c_n;
  std::vector<T> dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr;
};

// Inputs and upstream gradients of a Problem, converted to T once.
template <typename T>
struct Data {
  std::vector<T> x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, dy, dh_n, dc_n;
  explicit Data(const Problem& p)
      : x(cast<T>(p.x)),
        w_ih(cast<T>(p.w_ih)),
        w_hh(cast<T>(p.w_hh)),
        b_ih(cast<T>(p.b_ih)),
        b_hh(cast<T>(p.b_hh)),
        w_hr(cast<T>(p.w_hr)),
        h0(cast<T>(p.h0)),
        c0(cast<T>(p.c0)),
        dy(cast<T>(p.dy)),
        dh_n(cast<T>(p.dh_n)),
        dc_n(cast<T>(p.dc_n)) {}
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Outputs start as NaN so that a kernel that leaves one unwritten fails.
template <typename T>
Outputs<T> run(const RnnLayerShape& s, const Data<T>& d, bool backward) {
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H, P = s.P;
  const bool lstm = s.mode == RnnMode::Lstm;
  auto out = [](index_t n) { return std::vector<T>(static_cast<size_t>(n), T(kNaN)); };
  Outputs<T> r;
  r.y = out(R * P), r.h_n = out(N * P);
  if (lstm) r.c_n = out(N * H);
  std::vector<T> reserve = out(loom::kernels::rnn_reserve_size(s));
  std::vector<T> workspace = out(loom::kernels::rnn_workspace_size(s));
  RnnForwardArgs<T> f;
  f.x = d.x.data();
  f.w = {ptr(d.w_ih), ptr(d.w_hh), ptr(d.b_ih), ptr(d.b_hh), ptr(d.w_hr)};
  f.h0 = ptr(d.h0), f.c0 = ptr(d.c0);
  f.y = r.y.data(), f.h_n = r.h_n.data(), f.c_n = ptr(r.c_n);
  f.reserve = reserve.data(), f.workspace = workspace.data();
  loom::kernels::rnn_layer_forward_cpu(s, f);
  if (!backward) return r;

  r.dx = out(R * C), r.dh0 = out(N * P), r.dw_ih = out(G * C), r.dw_hh = out(G * P);
  if (lstm) r.dc0 = out(N * H);
  if (s.has_bias) r.db_ih = out(G), r.db_hh = out(G);
  if (s.has_proj) r.dw_hr = out(P * H);
  std::fill(workspace.begin(), workspace.end(), T(kNaN));
  RnnBackwardArgs<T> b;
  b.x = d.x.data();
  b.w = f.w;
  b.reserve = reserve.data();
  b.dy = ptr(d.dy), b.dh_n = ptr(d.dh_n), b.dc_n = ptr(d.dc_n);
  b.workspace = workspace.data();
  b.dx = r.dx.data(), b.dh0 = r.dh0.data(), b.dc0 = ptr(r.dc0);
  b.dw_ih = r.dw_ih.data(), b.dw_hh = r.dw_hh.data();
  b.db_ih = ptr(r.db_ih), b.db_hh = ptr(r.db_hh), b.dw_hr = ptr(r.dw_hr);
  loom::kernels::rnn_layer_backward_cpu(s, b);
  return r;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// loss = sum(y * dy) + sum(h_n * dh_n) + sum(c_n * dc_n), whose gradient backward computes.
double loss(const Problem& p) {
  Outputs<double> r = run(p.shape, Data<double>(p), false);
  return dot(r.y, p.dy) + dot(r.h_n, p.dh_n) + dot(r.c_n, p.dc_n);
}

// ---- the naive oracle, straight from PyTorch's equations --------------------
double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

Outputs<double> oracle(const Problem& p) {
  const RnnLayerShape& s = p.shape;
  const index_t T = s.T, N = s.N, C = s.C, H = s.H, P = s.P, G = s.G();
  Outputs<double> r;
  r.y.assign(static_cast<size_t>(s.rows() * P), kNaN);
  r.h_n.assign(static_cast<size_t>(N * P), kNaN);
  if (s.mode == RnnMode::Lstm) r.c_n.assign(static_cast<size_t>(N * H), kNaN);
  std::vector<index_t> offset(static_cast<size_t>(T), 0);
  for (index_t t = 1; t < T; ++t) offset[t] = offset[t - 1] + p.batch_sizes[t - 1];
  for (index_t n = 0; n < N; ++n) {
    index_t len = 0;
    while (len < T && p.batch_sizes[len] > n) ++len;
    Vec h(p.h0.begin() + n * P, p.h0.begin() + (n + 1) * P);
    Vec c = s.mode == RnnMode::Lstm ? Vec(p.c0.begin() + n * H, p.c0.begin() + (n + 1) * H) : Vec();
    for (index_t k = 0; k < len; ++k) {
      const index_t t = s.reverse ? len - 1 - k : k;
      const double* x = &p.x[(offset[t] + n) * C];
      Vec ax(G), ah(G);  // W_ih x + b_ih and W_hh h + b_hh
      for (index_t g = 0; g < G; ++g) {
        ax[g] = s.has_bias ? p.b_ih[g] : 0.0;
        ah[g] = s.has_bias ? p.b_hh[g] : 0.0;
        for (index_t i = 0; i < C; ++i) ax[g] += p.w_ih[g * C + i] * x[i];
        for (index_t i = 0; i < P; ++i) ah[g] += p.w_hh[g * P + i] * h[i];
      }
      Vec hn(P);
      switch (s.mode) {
        case RnnMode::RnnTanh:
          for (index_t j = 0; j < H; ++j) hn[j] = std::tanh(ax[j] + ah[j]);
          break;
        case RnnMode::RnnRelu:
          for (index_t j = 0; j < H; ++j) hn[j] = std::max(0.0, ax[j] + ah[j]);
          break;
        case RnnMode::Lstm: {
          Vec hh(H);
          for (index_t j = 0; j < H; ++j) {
            double i = sig(ax[j] + ah[j]), f = sig(ax[H + j] + ah[H + j]);
            double g = std::tanh(ax[2 * H + j] + ah[2 * H + j]),
                   o = sig(ax[3 * H + j] + ah[3 * H + j]);
            c[j] = f * c[j] + i * g;
            hh[j] = o * std::tanh(c[j]);
          }
          if (s.has_proj) {
            for (index_t q = 0; q < P; ++q) {
              hn[q] = 0;
              for (index_t j = 0; j < H; ++j) hn[q] += p.w_hr[q * H + j] * hh[j];
            }
          } else {
            hn = hh;
          }
          break;
        }
        case RnnMode::Gru:
          for (index_t j = 0; j < H; ++j) {
            double rg = sig(ax[j] + ah[j]), z = sig(ax[H + j] + ah[H + j]);
            double nn = std::tanh(ax[2 * H + j] + rg * ah[2 * H + j]);
            hn[j] = (1 - z) * nn + z * h[j];
          }
          break;
      }
      h = hn;
      for (index_t q = 0; q < P; ++q) r.y[(offset[t] + n) * P + q] = h[q];
    }
    for (index_t q = 0; q < P; ++q) r.h_n[n * P + q] = h[q];
    if (s.mode == RnnMode::Lstm)
      for (index_t j = 0; j < H; ++j) r.c_n[n * H + j] = c[j];
  }
  return r;
}

template <typename T>
void expect_close(const std::vector<T>& a, const std::vector<T>& e, double rtol, double atol,
                  const std::string& what) {
  loom::testing::expect_all_close(std::span<const T>(a), std::span<const T>(e), rtol, atol, what);
}

class RnnCpu : public ::testing::TestWithParam<Case> {};

TEST_P(RnnCpu, ForwardMatchesNaiveOracle) {
  Problem p = make_problem(GetParam());
  Outputs<double> got = run(p.shape, Data<double>(p), false);
  Outputs<double> want = oracle(p);
  expect_close(got.y, want.y, 1e-12, 1e-12, "y");
  expect_close(got.h_n, want.h_n, 1e-12, 1e-12, "h_n");
  expect_close(got.c_n, want.c_n, 1e-12, 1e-12, "c_n");
}

TEST_P(RnnCpu, BackwardMatchesFiniteDifferences) {
  Problem p = make_problem(GetParam());
  Outputs<double> g = run(p.shape, Data<double>(p), true);
  struct Param {
    const char* name;
    Vec* value;
    const Vec* grad;
  };
  std::vector<Param> params = {{"x", &p.x, &g.dx},          {"h0", &p.h0, &g.dh0},
                               {"c0", &p.c0, &g.dc0},       {"w_ih", &p.w_ih, &g.dw_ih},
                               {"w_hh", &p.w_hh, &g.dw_hh}, {"b_ih", &p.b_ih, &g.db_ih},
                               {"b_hh", &p.b_hh, &g.db_hh}, {"w_hr", &p.w_hr, &g.dw_hr}};
  const double eps = 1e-6;
  double worst = 0;
  int checked = 0;
  for (const Param& prm : params) {
    ASSERT_EQ(prm.value->size(), prm.grad->size()) << prm.name;
    if (prm.value->empty()) continue;
    Vec numeric(prm.value->size());
    for (size_t i = 0; i < prm.value->size(); ++i) {
      const double v = (*prm.value)[i];
      (*prm.value)[i] = v + eps;
      const double up = loss(p);
      (*prm.value)[i] = v - eps;
      const double down = loss(p);
      (*prm.value)[i] = v;
      numeric[i] = (up - down) / (2 * eps);
    }
    worst = std::max(worst, loom::testing::expect_all_close(std::span<const double>(*prm.grad),
                                                            std::span<const double>(numeric), 1e-6,
                                                            1e-7, std::string("d") + prm.name));
    ++checked;
  }
  // x, h0, w_ih, w_hh always; c0 (LSTM), both biases, w_hr (projection) when present.
  const bool lstm = p.shape.mode == RnnMode::Lstm;
  EXPECT_EQ(checked, 4 + (lstm ? 1 : 0) + (p.shape.has_bias ? 2 : 0) + (p.shape.has_proj ? 1 : 0));
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", worst);
  RecordProperty("worst_fd_abs_error", text);
}

TEST_P(RnnCpu, FloatMatchesDouble) {
  Problem p = make_problem(GetParam());
  Outputs<double> d = run(p.shape, Data<double>(p), true);
  Outputs<float> f = run(p.shape, Data<float>(p), true);
  auto check = [](const std::vector<float>& a, const Vec& e, const char* what) {
    expect_close(Vec(a.begin(), a.end()), e, 1e-5, 1e-5, what);
  };
  check(f.y, d.y, "y"), check(f.h_n, d.h_n, "h_n"), check(f.c_n, d.c_n, "c_n");
  check(f.dx, d.dx, "dx"), check(f.dh0, d.dh0, "dh0"), check(f.dc0, d.dc0, "dc0");
  check(f.dw_ih, d.dw_ih, "dw_ih"), check(f.dw_hh, d.dw_hh, "dw_hh");
  check(f.db_ih, d.db_ih, "db_ih"), check(f.db_hh, d.db_hh, "db_hh"),
      check(f.dw_hr, d.dw_hr, "dw_hr");
}

// Inference (no reserve) gives the same outputs, bit for bit.
TEST_P(RnnCpu, InferenceMatchesTraining) {
  Problem p = make_problem(GetParam());
  const RnnLayerShape& s = p.shape;
  Data<double> d(p);
  Outputs<double> train = run(s, d, false);
  Vec y(train.y.size(), kNaN), h_n(train.h_n.size(), kNaN), c_n(train.c_n.size(), kNaN);
  Vec workspace(static_cast<size_t>(loom::kernels::rnn_workspace_size(s)), kNaN);
  RnnForwardArgs<double> f;
  f.x = d.x.data();
  f.w = {ptr(d.w_ih), ptr(d.w_hh), ptr(d.b_ih), ptr(d.b_hh), ptr(d.w_hr)};
  f.h0 = ptr(d.h0), f.c0 = ptr(d.c0);
  f.y = y.data(), f.h_n = h_n.data(), f.c_n = ptr(c_n), f.workspace = workspace.data();
  loom::kernels::rnn_layer_forward_cpu(s, f);
  expect_close(y, train.y, 0, 0, "y");
  expect_close(h_n, train.h_n, 0, 0, "h_n");
  expect_close(c_n, train.c_n, 0, 0, "c_n");
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (Kind kind : {Kind::Tanh, Kind::Relu, Kind::Lstm, Kind::LstmProj, Kind::Gru})
    for (bool reverse : {false, true})
      for (bool bias : {false, true})
        for (bool varying : {false, true}) cases.push_back({kind, reverse, bias, varying});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllModes, RnnCpu, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return case_name(info.param);
                         });

// Null h0/c0 mean zeros; null dy/dh_n/dc_n mean zeros; null gradient outputs
// are skipped without changing the others; h_n may alias h0 and dh0 dh_n.
TEST(RnnCpuOptions, NullMeansZeroAndAliasing) {
  for (Kind kind : {Kind::Tanh, Kind::LstmProj, Kind::Gru}) {
    SCOPED_TRACE(static_cast<int>(kind));
    Problem p = make_problem(kind, true, true, {3, 2, 2, 1}, 2, 5, 3, 77);
    const RnnLayerShape& s = p.shape;
    const bool lstm = s.mode == RnnMode::Lstm;
    // Explicit zeros as the reference.
    Problem z = p;
    std::fill(z.h0.begin(), z.h0.end(), 0.0), std::fill(z.c0.begin(), z.c0.end(), 0.0);
    std::fill(z.dy.begin(), z.dy.end(), 0.0), std::fill(z.dh_n.begin(), z.dh_n.end(), 0.0);
    std::fill(z.dc_n.begin(), z.dc_n.end(), 0.0);
    Outputs<double> want = run(s, Data<double>(z), true);

    Data<double> d(p);
    const index_t R = s.rows(), G = s.G();
    Vec y(static_cast<size_t>(R * s.P)), h(static_cast<size_t>(s.N * s.P), 1.0),
        c(lstm ? static_cast<size_t>(s.N * s.H) : 0, 1.0);
    Vec reserve(static_cast<size_t>(loom::kernels::rnn_reserve_size(s)));
    Vec workspace(static_cast<size_t>(loom::kernels::rnn_workspace_size(s)));
    RnnForwardArgs<double> f;
    f.x = d.x.data();
    f.w = {ptr(d.w_ih), ptr(d.w_hh), ptr(d.b_ih), ptr(d.b_hh), ptr(d.w_hr)};
    f.y = y.data(), f.h_n = h.data(), f.c_n = ptr(c);
    f.reserve = reserve.data(), f.workspace = workspace.data();
    loom::kernels::rnn_layer_forward_cpu(s, f);  // h0, c0 null
    expect_close(y, want.y, 0, 0, "y");
    expect_close(h, want.h_n, 0, 0, "h_n");
    expect_close(c, want.c_n, 0, 0, "c_n");

    Vec dh(static_cast<size_t>(s.N * s.P), kNaN), dc(c.size(), kNaN),
        dw_hh(static_cast<size_t>(G * s.P), kNaN);
    RnnBackwardArgs<double> b;
    b.x = d.x.data(), b.w = f.w, b.reserve = reserve.data(), b.workspace = workspace.data();
    b.dh0 = dh.data(), b.dc0 = ptr(dc), b.dw_hh = dw_hh.data();  // dy, dh_n, dc_n, dx, ... null
    loom::kernels::rnn_layer_backward_cpu(s, b);
    expect_close(dh, want.dh0, 0, 0, "dh0");
    expect_close(dc, want.dc0, 0, 0, "dc0");
    expect_close(dw_hh, want.dw_hh, 0, 0, "dw_hh");

    // Aliasing: h_n is h0's buffer and c_n c0's; dh0 is dh_n's and dc0 dc_n's.
    Outputs<double> ref = run(s, d, true);
    Vec h_state = d.h0, c_state = d.c0;
    f.h0 = h_state.data(), f.h_n = h_state.data(), f.c0 = ptr(c_state), f.c_n = ptr(c_state);
    loom::kernels::rnn_layer_forward_cpu(s, f);
    expect_close(h_state, ref.h_n, 0, 0, "aliased h_n");
    expect_close(c_state, ref.c_n, 0, 0, "aliased c_n");
    Vec dh_state = d.dh_n, dc_state = d.dc_n;
    b.dy = d.dy.data(), b.dh_n = dh_state.data(), b.dh0 = dh_state.data();
    b.dc_n = ptr(dc_state), b.dc0 = ptr(dc_state);
    loom::kernels::rnn_layer_backward_cpu(s, b);
    expect_close(dh_state, ref.dh0, 0, 0, "aliased dh0");
    expect_close(dc_state, ref.dc0, 0, 0, "aliased dc0");
    expect_close(dw_hh, ref.dw_hh, 0, 0, "dw_hh");
  }
}

TEST(RnnCpuOptions, BadArgumentsThrow) {
  Problem p = make_problem(Kind::Lstm, false, true, {3, 3, 2, 1}, 3, 4, 4, 5);
  Data<double> d(p);
  Vec y(100), h(100), c(100), reserve(1000), workspace(1000);
  RnnForwardArgs<double> f;
  f.x = d.x.data();
  f.w = {ptr(d.w_ih), ptr(d.w_hh), ptr(d.b_ih), ptr(d.b_hh), nullptr};
  f.y = y.data(), f.h_n = h.data(), f.c_n = c.data();
  f.reserve = reserve.data(), f.workspace = workspace.data();
  EXPECT_NO_THROW(loom::kernels::rnn_layer_forward_cpu(p.shape, f));

  auto throws = [&](RnnLayerShape s, std::vector<index_t> bs, const char* what) {
    s.batch_sizes = bs.data();
    s.T = static_cast<index_t>(bs.size());
    EXPECT_THROW(loom::kernels::rnn_layer_forward_cpu(s, f), loom::Error) << what;
  };
  const RnnLayerShape s = p.shape;
  throws(s, {3, 2, 3, 1}, "increasing batch_sizes");
  throws(s, {3, 3, 0, 0}, "zero batch size");
  throws(s, {2, 2, 2, 1}, "batch_sizes[0] != N");
  throws(s, {}, "no steps");
  RnnLayerShape bad = s;
  bad.has_proj = true, bad.P = 4;
  throws(bad, {3, 3, 2, 1}, "P == H with projection");
  bad = s, bad.P = 2;
  throws(bad, {3, 3, 2, 1}, "P != H without projection");
  bad = s, bad.mode = RnnMode::Gru, bad.has_proj = true, bad.P = 2;
  throws(bad, {3, 3, 2, 1}, "projection on GRU");
  bad = s, bad.C = 0;
  throws(bad, {3, 3, 2, 1}, "C == 0");
  bad = s, bad.has_bias = false;
  throws(bad, {3, 3, 2, 1}, "bias given with has_bias = false");
  try {  // the message says what was wrong
    RnnLayerShape m = s;
    std::vector<index_t> bs = {3, 2, 3, 1};
    m.batch_sizes = bs.data();
    loom::kernels::rnn_layer_forward_cpu(m, f);
    ADD_FAILURE() << "no throw";
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-increasing"), std::string::npos) << e.what();
  }

  RnnBackwardArgs<double> b;
  b.x = d.x.data(), b.w = f.w, b.workspace = workspace.data(), b.dh0 = h.data(), b.dc0 = c.data();
  EXPECT_THROW(loom::kernels::rnn_layer_backward_cpu(s, b), loom::Error) << "no reserve";
}

}  // namespace
