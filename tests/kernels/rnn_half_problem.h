// Test helpers for the 16-bit recurrent layers (kernels/rnn.h, "Precision"):
// one layer problem whose inputs are rounded to a storage type S once, run
// forward and backward in any storage type on the host, with every output and
// gradient returned in double. Shared by rnn_half_cpu_test.cc and
// rnn_half_cuda_test.cc.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/half.h"
#include "kernels/rnn.h"
#include "testing.h"

namespace loom::rnn_half_test {

using kernels::index_t;
using kernels::RnnLayerShape;
using kernels::RnnMode;
using Vec = std::vector<double>;

enum class Kind { Tanh, Relu, Lstm, LstmProj, Gru };

inline const char* kind_name(Kind k) {
  const char* names[] = {"Tanh", "Relu", "Lstm", "LstmProj", "Gru"};
  return names[static_cast<int>(k)];
}

// Sizes and options of one problem.
struct Spec {
  Kind kind = Kind::Lstm;
  bool reverse = false;
  bool bias = true;
  bool packed = false;  // random sequence lengths (sorted) instead of all T
  index_t T = 6, N = 4, C = 5, H = 7;
  unsigned seed = 1;
};

// Unit roundoff of a storage type: 2^-8 (bfloat16), 2^-11 (float16), 2^-24 (float).
template <typename S>
constexpr double unit_roundoff() {
  if constexpr (std::is_same_v<S, bfloat16>) return 0x1p-8;
  else if constexpr (std::is_same_v<S, float16>) return 0x1p-11;
  else if constexpr (std::is_same_v<S, float>) return 0x1p-24;
  else return 0x1p-53;
}

// `v` rounded to S (through float, as loom's conversions do) and back, exactly.
template <typename S>
double round_to(double v) {
  return static_cast<double>(static_cast<float>(convert<S>(v)));
}

// One layer's inputs and upstream gradients, every value representable in the
// storage type the problem was made for.
struct Problem {
  RnnLayerShape shape;
  std::vector<index_t> batch_sizes;
  Vec x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, dy, dh_n, dc_n;  // empty when absent
};

// Uniform values in [-bound, bound) from std::mt19937 (independent of loom's
// generator), rounded to S. Weights use PyTorch's init bound 1/sqrt(H).
template <typename S>
Problem make_problem(const Spec& sp) {
  Problem p;
  std::mt19937 rng(sp.seed);
  std::vector<index_t> lengths(static_cast<size_t>(sp.N), sp.T);
  if (sp.packed) {
    std::uniform_int_distribution<index_t> len(1, sp.T);
    for (index_t n = 1; n < sp.N; ++n) lengths[n] = len(rng);
    std::sort(lengths.begin(), lengths.end(), std::greater<>());
  }
  for (index_t t = 0; t < sp.T; ++t)
    p.batch_sizes.push_back(
        std::count_if(lengths.begin(), lengths.end(), [t](index_t l) { return l > t; }));
  RnnLayerShape& s = p.shape;
  s.mode = sp.kind == Kind::Tanh   ? RnnMode::RnnTanh
           : sp.kind == Kind::Relu ? RnnMode::RnnRelu
           : sp.kind == Kind::Gru  ? RnnMode::Gru
                                   : RnnMode::Lstm;
  s.T = sp.T, s.N = sp.N, s.C = sp.C, s.H = sp.H;
  s.has_proj = sp.kind == Kind::LstmProj;
  s.P = s.has_proj ? std::max<index_t>(1, sp.H / 2) : sp.H;
  s.has_bias = sp.bias, s.reverse = sp.reverse;
  s.batch_sizes = p.batch_sizes.data();
  const index_t R = s.rows(), G = s.G(), N = s.N, H = s.H, P = s.P;
  auto random = [&](index_t n, double bound) {
    std::uniform_real_distribution<double> u(-bound, bound);
    Vec v(static_cast<size_t>(n));
    for (double& e : v) e = round_to<S>(u(rng));
    return v;
  };
  const double k = 1.0 / std::sqrt(static_cast<double>(H));
  p.x = random(R * s.C, 1.0);
  p.w_ih = random(G * s.C, k);
  p.w_hh = random(G * P, k);
  if (sp.bias) p.b_ih = random(G, k), p.b_hh = random(G, k);
  if (s.has_proj) p.w_hr = random(P * H, k);
  p.h0 = random(N * P, 0.5);
  if (s.mode == RnnMode::Lstm) p.c0 = random(N * H, 0.5);
  p.dy = random(R * P, 1.0);
  p.dh_n = random(N * P, 1.0);
  if (s.mode == RnnMode::Lstm) p.dc_n = random(N * H, 1.0);
  return p;
}

// Normwise relative error (testing::relative_l2_error).
inline double relative_error(const Vec& actual, const Vec& reference) {
  return testing::relative_l2_error(actual, reference);
}

// Every output and gradient, in this order; absent ones are empty.
inline const char* const kResultNames[] = {"y",     "h_n",   "c_n",   "dx",    "dh0",  "dc0",
                                           "dw_ih", "dw_hh", "db_ih", "db_hh", "dw_hr"};
constexpr int kResults = 11;
using Results = std::vector<Vec>;  // [kResults]

template <typename T>
std::vector<T> to_type(const Vec& v) {
  std::vector<T> out;
  out.reserve(v.size());
  for (double e : v) out.push_back(convert<T>(e));
  return out;
}

template <typename T>
Vec to_double(const std::vector<T>& v) {
  Vec out;
  out.reserve(v.size());
  for (const T& e : v) out.push_back(static_cast<double>(static_cast<opmath_t<T>>(e)));
  return out;
}

// A problem's inputs and upstream gradients converted to storage type T.
template <typename T>
struct HostBuffers {
  std::vector<T> x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, dy, dh_n, dc_n;
  explicit HostBuffers(const Problem& p)
      : x(to_type<T>(p.x)),
        w_ih(to_type<T>(p.w_ih)),
        w_hh(to_type<T>(p.w_hh)),
        b_ih(to_type<T>(p.b_ih)),
        b_hh(to_type<T>(p.b_hh)),
        w_hr(to_type<T>(p.w_hr)),
        h0(to_type<T>(p.h0)),
        c0(to_type<T>(p.c0)),
        dy(to_type<T>(p.dy)),
        dh_n(to_type<T>(p.dh_n)),
        dc_n(to_type<T>(p.dc_n)) {}
};

template <typename T>
T* ptr_or_null(std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

// Forward (training) then backward on the host in storage type T; outputs
// start as NaN so that an unwritten one fails.
template <typename T>
Results run_cpu(const Problem& p) {
  const RnnLayerShape& s = p.shape;
  const index_t R = s.rows(), G = s.G(), N = s.N, C = s.C, H = s.H, P = s.P;
  const bool lstm = s.mode == RnnMode::Lstm;
  HostBuffers<T> in(p);
  const T nan = convert<T>(std::nan(""));
  auto out = [&](index_t n, bool present = true) {
    return std::vector<T>(present ? static_cast<size_t>(n) : 0, nan);
  };
  std::vector<T> y = out(R * P), h_n = out(N * P), c_n = out(N * H, lstm);
  std::vector<T> reserve = out(kernels::rnn_reserve_size(s));
  std::vector<T> workspace = out(kernels::rnn_workspace_elements<T>(s));
  kernels::RnnForwardArgs<T> f;
  f.x = in.x.data();
  f.w = {in.w_ih.data(), in.w_hh.data(), ptr_or_null(in.b_ih), ptr_or_null(in.b_hh),
         ptr_or_null(in.w_hr)};
  f.h0 = in.h0.data(), f.c0 = ptr_or_null(in.c0);
  f.y = y.data(), f.h_n = h_n.data(), f.c_n = ptr_or_null(c_n);
  f.reserve = reserve.data(), f.workspace = workspace.data();
  kernels::rnn_layer_forward_cpu(s, f);

  std::vector<T> dx = out(R * C), dh0 = out(N * P), dc0 = out(N * H, lstm), dw_ih = out(G * C),
                 dw_hh = out(G * P), db_ih = out(G, s.has_bias), db_hh = out(G, s.has_bias),
                 dw_hr = out(P * H, s.has_proj);
  std::fill(workspace.begin(), workspace.end(), nan);
  kernels::RnnBackwardArgs<T> b;
  b.x = in.x.data(), b.w = f.w, b.reserve = reserve.data(), b.workspace = workspace.data();
  b.dy = in.dy.data(), b.dh_n = in.dh_n.data(), b.dc_n = ptr_or_null(in.dc_n);
  b.dx = dx.data(), b.dh0 = dh0.data(), b.dc0 = ptr_or_null(dc0);
  b.dw_ih = dw_ih.data(), b.dw_hh = dw_hh.data();
  b.db_ih = ptr_or_null(db_ih), b.db_hh = ptr_or_null(db_hh), b.dw_hr = ptr_or_null(dw_hr);
  kernels::rnn_layer_backward_cpu(s, b);
  return {to_double(y),     to_double(h_n),   to_double(c_n),   to_double(dx),
          to_double(dh0),   to_double(dc0),   to_double(dw_ih), to_double(dw_hh),
          to_double(db_ih), to_double(db_hh), to_double(dw_hr)};
}

}  // namespace loom::rnn_half_test
