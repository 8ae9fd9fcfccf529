// The per-element math of the recurrent cells, written once for the CPU
// reference and the CUDA kernels. Each function handles one (row n, unit j)
// element: its arguments are the gate pre-activations at column j of each gate
// block (input part + recurrent part + biases, summed by the caller) and the
// previous state at (n, j). Backward functions return gradients with respect
// to the gate pre-activations ("da") and the previous state.
//
// Equations (PyTorch's documentation):
//   RNN   h = tanh(a) or relu(a),  a = W_ih x + b_ih + W_hh h_prev + b_hh
//   LSTM  i = s(a_i), f = s(a_f), g = tanh(a_g), o = s(a_o)   (s = sigmoid)
//         c = f * c_prev + i * g,  h = o * tanh(c)
//   GRU   r = s(a_r), z = s(a_z), n = tanh(x_n + r * h_n)
//         h = (1 - z) * n + z * h_prev
//         with x_n = W_in x + b_in and h_n = W_hn h_prev + b_hn
#pragma once

#include <cmath>

#include "kernels/common.h"

namespace loom::kernels {

template <typename T>
LOOM_HD T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// ---- RNN ---------------------------------------------------------------------
template <typename T>
LOOM_HD T rnn_tanh_forward(T a) { return std::tanh(a); }
template <typename T>  // da, from the output h
LOOM_HD T rnn_tanh_backward(T h, T dh) { return dh * (T(1) - h * h); }

// PyTorch's NaN rules: relu(NaN) = NaN, and its backward (threshold_backward:
// h <= 0 ? 0 : dh) passes dh through where h is NaN.
template <typename T>
LOOM_HD T rnn_relu_forward(T a) { return a <= T(0) ? T(0) : a; }
template <typename T>  // da, 0 at the kink as in PyTorch
LOOM_HD T rnn_relu_backward(T h, T dh) { return h <= T(0) ? T(0) : dh; }

// ---- LSTM --------------------------------------------------------------------
template <typename T>
struct LstmPoint {
  T i, f, g, o;  // activated gates
  T c, h;        // new cell state and o * tanh(c) (before any projection)
};

template <typename T>
LOOM_HD LstmPoint<T> lstm_forward(T a_i, T a_f, T a_g, T a_o, T c_prev) {
  LstmPoint<T> p;
  p.i = sigmoid(a_i);
  p.f = sigmoid(a_f);
  p.g = std::tanh(a_g);
  p.o = sigmoid(a_o);
  p.c = p.f * c_prev + p.i * p.g;
  p.h = p.o * std::tanh(p.c);
  return p;
}

template <typename T>
struct LstmGrad {
  T da_i, da_f, da_g, da_o;  // gradients of the gate pre-activations
  T dc_prev;
};

// From the saved activated gates and c_prev, and the gradients reaching h and c.
template <typename T>
LOOM_HD LstmGrad<T> lstm_backward(T i, T f, T g, T o, T c_prev, T dh, T dc) {
  const T c = f * c_prev + i * g;  // recomputed rather than saved
  const T tc = std::tanh(c);
  const T dc_total = dc + dh * o * (T(1) - tc * tc);
  LstmGrad<T> d;
  d.da_i = dc_total * g * i * (T(1) - i);
  d.da_f = dc_total * c_prev * f * (T(1) - f);
  d.da_g = dc_total * i * (T(1) - g * g);
  d.da_o = dh * tc * o * (T(1) - o);
  d.dc_prev = dc_total * f;
  return d;
}

// ---- LayerNorm-LSTM (kernels/rnn.h): h = o * tanh(l), l = LN(c) ----------------
// The cell state c comes from lstm_forward (its h is not used); once the row's
// l is known, the output is:
template <typename T>
LOOM_HD T lstm_ln_output(T o, T l) {
  return o * std::tanh(l);
}

template <typename T>
struct LstmLnOutputGrad {
  T da_o;  // gradient of the o pre-activation
  T dl;    // gradient of l = LN(c), the input of the c layer norm's backward
};

template <typename T>
LOOM_HD LstmLnOutputGrad<T> lstm_ln_output_backward(T o, T l, T dh) {
  const T tl = std::tanh(l);
  LstmLnOutputGrad<T> d;
  d.da_o = dh * tl * o * (T(1) - o);
  d.dl = dh * o * (T(1) - tl * tl);
  return d;
}

// The rest of the LSTM backward from dc_total, the whole gradient reaching the
// new cell state c = f * c_prev + i * g (through LN(c) and the carried c).
template <typename T>
struct LstmCellGrad {
  T da_i, da_f, da_g;
  T dc_prev;  // through f (zoneout's direct part is added by the caller)
};

template <typename T>
LOOM_HD LstmCellGrad<T> lstm_cell_backward(T i, T f, T g, T c_prev, T dc_total) {
  LstmCellGrad<T> d;
  d.da_i = dc_total * g * i * (T(1) - i);
  d.da_f = dc_total * c_prev * f * (T(1) - f);
  d.da_g = dc_total * i * (T(1) - g * g);
  d.dc_prev = dc_total * f;
  return d;
}

// ---- layer norm over a row of `cols` values -----------------------------------
// The caller reduces the row: mean = sum(v) / cols, var = sum((v - mean)^2) / cols.
template <typename T>
LOOM_HD T layer_norm_rstd(T var, T eps) {
  return T(1) / std::sqrt(var + eps);
}
// xhat = (v - mean) * rstd.
template <typename T>
LOOM_HD T layer_norm_xhat(T v, T mean, T rstd) {
  return (v - mean) * rstd;
}
// dL/dv of one element, from dy = dL/d(xhat * w + b), with the row means
// mean_wdy = mean(w * dy) and mean_wdy_xhat = mean(w * dy * xhat).
template <typename T>
LOOM_HD T layer_norm_backward_point(T dy, T w, T xhat, T rstd, T mean_wdy, T mean_wdy_xhat) {
  return rstd * (w * dy - mean_wdy - xhat * mean_wdy_xhat);
}

// ---- GRU ---------------------------------------------------------------------
template <typename T>
struct GruPoint {
  T r, z, n;  // activated gates
  T h;        // new hidden state
};

// x_n = W_in x + b_in and h_n = W_hn h_prev + b_hn are passed apart: r scales only h_n.
template <typename T>
LOOM_HD GruPoint<T> gru_forward(T a_r, T a_z, T x_n, T h_n, T h_prev) {
  GruPoint<T> p;
  p.r = sigmoid(a_r);
  p.z = sigmoid(a_z);
  p.n = std::tanh(x_n + p.r * h_n);
  p.h = (T(1) - p.z) * p.n + p.z * h_prev;
  return p;
}

template <typename T>
struct GruGrad {
  T da_r, da_z;  // gradients of the r and z pre-activations (input and recurrent parts alike)
  T dx_n;        // gradient of x_n = W_in x + b_in
  T dh_n;        // gradient of h_n = W_hn h_prev + b_hn (= dx_n * r)
  T dh_prev;     // the direct part only: h_prev also reaches h through W_hh (added by a GEMM)
};

template <typename T>
LOOM_HD GruGrad<T> gru_backward(T r, T z, T n, T h_n, T h_prev, T dh) {
  GruGrad<T> d;
  d.dx_n = dh * (T(1) - z) * (T(1) - n * n);
  d.dh_n = d.dx_n * r;
  d.da_r = d.dx_n * h_n * r * (T(1) - r);
  d.da_z = dh * (h_prev - n) * z * (T(1) - z);
  d.dh_prev = dh * z;
  return d;
}

}  // namespace loom::kernels
