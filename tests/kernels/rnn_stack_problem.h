// Test helpers for the stacked-layer wavefront (kernels/rnn_wavefront.h): one
// stack problem whose inputs are rounded to a storage type S once, the
// reference (the standard CPU layer run layer after layer, each layer's y the
// next one's x) and the wavefront's host emulation, with y, h_n and c_n
// returned in double. Shared by rnn_wavefront_test.cc and
// rnn_wavefront_cuda_test.cc.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/half.h"
#include "kernels/rnn.h"
#include "kernels/rnn_wavefront.h"
#include "rnn_half_problem.h"

namespace loom::rnn_stack_test {

using kernels::index_t;
using kernels::RnnMode;
using kernels::RnnStackShape;
using rnn_half_test::Kind;
using rnn_half_test::Vec;

struct StackSpec {
  Kind kind = Kind::Lstm;  // Tanh, Relu, Lstm or Gru
  index_t L = 2, T = 4, N = 3, C = 5, H = 7;
  bool bias = true;
  bool h0 = true;  // initial states given (else null: zeros)
  unsigned seed = 1;
};

inline std::string spec_name(const StackSpec& s) {
  return std::string(rnn_half_test::kind_name(s.kind)) + "_L" + std::to_string(s.L) + "_T" +
         std::to_string(s.T) + "_N" + std::to_string(s.N) + "_C" + std::to_string(s.C) + "_H" +
         std::to_string(s.H) + (s.bias ? "" : "_NoBias") + (s.h0 ? "" : "_ZeroState");
}

// Inputs in double, every value representable in the type the problem was made for.
struct StackProblem {
  RnnStackShape shape;
  std::vector<index_t> batch_sizes;
  Vec x;                                     // [T N, C]
  std::vector<Vec> w_ih, w_hh, b_ih, b_hh;   // per layer (biases empty without bias)
  Vec h0, c0;                                // [L, N, H] (empty: null)
};

template <typename S>
StackProblem make_stack_problem(const StackSpec& sp) {
  StackProblem p;
  std::mt19937 rng(sp.seed);
  p.batch_sizes.assign(static_cast<size_t>(sp.T), sp.N);
  RnnStackShape& s = p.shape;
  s.mode = sp.kind == Kind::Tanh   ? RnnMode::RnnTanh
           : sp.kind == Kind::Relu ? RnnMode::RnnRelu
           : sp.kind == Kind::Gru  ? RnnMode::Gru
                                   : RnnMode::Lstm;
  s.L = sp.L, s.T = sp.T, s.N = sp.N, s.C = sp.C, s.H = sp.H, s.has_bias = sp.bias;
  s.batch_sizes = p.batch_sizes.data();
  auto random = [&](index_t n, double bound) {
    std::uniform_real_distribution<double> u(-bound, bound);
    Vec v(static_cast<size_t>(n));
    for (double& e : v) e = rnn_half_test::round_to<S>(u(rng));
    return v;
  };
  const index_t G = s.G(), H = s.H, LNH = s.L * s.N * H;
  const double k = 1.0 / std::sqrt(static_cast<double>(H));  // PyTorch's init bound
  p.x = random(s.T * s.N * s.C, 1.0);
  for (index_t l = 0; l < s.L; ++l) {
    p.w_ih.push_back(random(G * (l == 0 ? s.C : H), k));
    p.w_hh.push_back(random(G * H, k));
    p.b_ih.push_back(sp.bias ? random(G, k) : Vec());
    p.b_hh.push_back(sp.bias ? random(G, k) : Vec());
  }
  if (sp.h0) {
    p.h0 = random(LNH, 0.5);
    if (s.mode == RnnMode::Lstm) p.c0 = random(LNH, 0.5);
  }
  return p;
}

// y, h_n, c_n (empty unless LSTM).
using StackResults = std::vector<Vec>;
inline const char* const kStackResultNames[] = {"y", "h_n", "c_n"};

template <typename T>
T* data_or_null(std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

// The problem's inputs in storage type T.
template <typename T>
struct StackBuffers {
  std::vector<T> x, h0, c0;
  std::vector<std::vector<T>> w_ih, w_hh, b_ih, b_hh;
  explicit StackBuffers(const StackProblem& p)
      : x(rnn_half_test::to_type<T>(p.x)),
        h0(rnn_half_test::to_type<T>(p.h0)),
        c0(rnn_half_test::to_type<T>(p.c0)) {
    for (size_t l = 0; l < p.w_ih.size(); ++l) {
      w_ih.push_back(rnn_half_test::to_type<T>(p.w_ih[l]));
      w_hh.push_back(rnn_half_test::to_type<T>(p.w_hh[l]));
      b_ih.push_back(rnn_half_test::to_type<T>(p.b_ih[l]));
      b_hh.push_back(rnn_half_test::to_type<T>(p.b_hh[l]));
    }
  }
};

// The reference: the standard CPU layer (inference) run layer after layer.
template <typename T>
StackResults run_stack_reference(const StackProblem& p) {
  const RnnStackShape& s = p.shape;
  const index_t NH = s.N * s.H;
  const bool lstm = s.mode == RnnMode::Lstm;
  StackBuffers<T> in(p);
  const T nan = convert<T>(std::nan(""));
  std::vector<T> input = in.x, y, h_n(static_cast<size_t>(s.L * NH), nan),
                 c_n(lstm ? static_cast<size_t>(s.L * NH) : 0, nan);
  for (index_t l = 0; l < s.L; ++l) {
    const kernels::RnnLayerShape ls = s.layer(l);
    y.assign(static_cast<size_t>(s.T * NH), nan);
    std::vector<T> workspace(static_cast<size_t>(kernels::rnn_workspace_elements<T>(ls)), nan);
    kernels::RnnForwardArgs<T> f;
    f.x = input.data();
    f.w = {in.w_ih[l].data(), in.w_hh[l].data(), data_or_null(in.b_ih[l]),
           data_or_null(in.b_hh[l]), nullptr};
    f.h0 = in.h0.empty() ? nullptr : in.h0.data() + l * NH;
    f.c0 = in.c0.empty() ? nullptr : in.c0.data() + l * NH;
    f.y = y.data(), f.h_n = h_n.data() + l * NH, f.c_n = lstm ? c_n.data() + l * NH : nullptr;
    f.workspace = workspace.data();
    kernels::rnn_layer_forward_cpu(ls, f);
    input = y;
  }
  return {rnn_half_test::to_double(y), rnn_half_test::to_double(h_n),
          rnn_half_test::to_double(c_n)};
}

// The stack's arguments over `in` and the output buffers.
template <typename T>
kernels::RnnStackForwardArgs<T> stack_args(StackBuffers<T>& in, std::vector<T>& y,
                                           std::vector<T>& h_n, std::vector<T>& c_n,
                                           std::vector<T>& workspace) {
  kernels::RnnStackForwardArgs<T> a;
  a.x = in.x.data();
  for (size_t l = 0; l < in.w_ih.size(); ++l)
    a.w[l] = {in.w_ih[l].data(), in.w_hh[l].data(), data_or_null(in.b_ih[l]),
              data_or_null(in.b_hh[l]), nullptr};
  a.h0 = data_or_null(in.h0), a.c0 = data_or_null(in.c0);
  a.y = y.data(), a.h_n = h_n.data(), a.c_n = data_or_null(c_n);
  a.workspace = workspace.data();
  return a;
}

// The wavefront's host emulation with `plan`'s geometry; outputs start as NaN.
template <typename T>
StackResults run_stack_emulated(const StackProblem& p, const kernels::PersistentPlan& plan) {
  const RnnStackShape& s = p.shape;
  const index_t NH = s.N * s.H;
  StackBuffers<T> in(p);
  const T nan = convert<T>(std::nan(""));
  std::vector<T> y(static_cast<size_t>(s.T * NH), nan), h_n(static_cast<size_t>(s.L * NH), nan),
      c_n(s.mode == RnnMode::Lstm ? static_cast<size_t>(s.L * NH) : 0, nan);
  // 16-byte aligned for the 16-bit types (std::vector's allocation of >= 16 bytes is).
  std::vector<T> workspace(static_cast<size_t>(kernels::rnn_stack_workspace_elements<T>(s)), nan);
  kernels::rnn_stack_forward_wavefront_emulated(s, stack_args(in, y, h_n, c_n, workspace), plan);
  return {rnn_half_test::to_double(y), rnn_half_test::to_double(h_n),
          rnn_half_test::to_double(c_n)};
}

// A geometry of `units` hidden units per block covering H.
inline kernels::PersistentPlan stack_geometry(index_t units, index_t H, bool staged = false) {
  kernels::PersistentPlan p;
  p.fits = true, p.threads = 256, p.units = units, p.staged = staged;
  p.blocks = static_cast<int>((H + units - 1) / units);
  return p;
}

}  // namespace loom::rnn_stack_test
