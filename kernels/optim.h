// Optimizer updates: the per-element math of SGD, Adam/AdamW and RMSprop,
// written once as PyTorch 1.13's single-tensor (foreach=False) code computes
// it, and used by the CPU loops and the fused CUDA kernels alike.
//
// One call updates one parameter tensor and all of its state in one pass (one
// CUDA launch). Every pointer is contiguous [n], n = numel of the parameter.
// The hyper-parameter structs hold scalars already converted to T; the host
// derives them in double (as Python does: 1 - beta1, lr / bias_correction1,
// ...) and casts once, which is what PyTorch does with a Python scalar.
// bfloat16 / float16 parameters are updated through an fp32 master copy (the
// *_master_* functions below), in the same single pass.
#pragma once

#include <cmath>

#include "kernels/common.h"
#include "kernels/half.h"

namespace loom::kernels {

// torch.maximum: NaN when either operand is NaN.
template <typename T>
LOOM_HD T nan_maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

// ---- SGD ------------------------------------------------------------------------
template <typename T>
struct SgdHyper {
  T lr;                   // learning rate
  T momentum;             // momentum factor; 0: no buffer
  T one_minus_dampening;  // 1 - dampening
  T weight_decay;         // L2 penalty added to the gradient
  bool nesterov;          // d_p = d_p + momentum * buf instead of d_p = buf
  bool maximize;          // ascend: the gradient's sign is flipped first
  bool init_buffer;       // first step with momentum: buf = d_p (no decay)
};

// One element of torch.optim.SGD:
//   d_p = maximize ? -g : g;  d_p += weight_decay * p
//   buf = init ? d_p : momentum * buf + (1 - dampening) * d_p
//   d_p = nesterov ? d_p + momentum * buf : buf
//   p  += -lr * d_p
// buf is null when momentum == 0.
template <typename T>
LOOM_HD void sgd_point(const SgdHyper<T>& h, T& param, T grad, T* buf) {
  T d_p = h.maximize ? -grad : grad;
  if (h.weight_decay != T(0)) d_p = d_p + h.weight_decay * param;
  if (buf != nullptr) {
    T b = h.init_buffer ? d_p : *buf * h.momentum + h.one_minus_dampening * d_p;
    *buf = b;
    d_p = h.nesterov ? d_p + h.momentum * b : b;
  }
  param = param + (-h.lr) * d_p;
}

// ---- Adam and AdamW -------------------------------------------------------------
template <typename T>
struct AdamHyper {
  T beta1, beta2;                // moment decay rates
  T one_minus_beta1;             // 1 - beta1
  T one_minus_beta2;             // 1 - beta2
  T eps;                         // added to the denominator after bias correction
  T weight_decay;                // Adam: L2 penalty added to the gradient
  T decay_factor;                // AdamW: p *= 1 - lr * weight_decay before the update
  T bias_correction2_sqrt;       // sqrt(1 - beta2^step)
  T neg_step_size;               // -(lr / (1 - beta1^step))
  bool decoupled_weight_decay;   // AdamW (decay_factor) instead of Adam (weight_decay)
  bool amsgrad;                  // normalise by the running maximum of exp_avg_sq
  bool maximize;                 // ascend: the gradient's sign is flipped first
};

// One element of torch.optim.Adam / AdamW (step already incremented):
//   g = maximize ? -g : g
//   Adam: g += weight_decay * p          AdamW: p *= 1 - lr * weight_decay
//   m = m * beta1 + (1 - beta1) * g
//   v = v * beta2 + (1 - beta2) * g * g
//   amsgrad: vmax = max(vmax, v), v' = vmax; else v' = v
//   p += (-step_size * m) / (sqrt(v') / sqrt(1 - beta2^step) + eps)
// max_exp_avg_sq is null unless amsgrad.
template <typename T>
LOOM_HD void adam_point(const AdamHyper<T>& h, T& param, T grad, T& exp_avg, T& exp_avg_sq,
                        T* max_exp_avg_sq) {
  T g = h.maximize ? -grad : grad;
  if (h.decoupled_weight_decay) {
    param = param * h.decay_factor;
  } else if (h.weight_decay != T(0)) {
    g = g + h.weight_decay * param;
  }
  exp_avg = exp_avg * h.beta1 + h.one_minus_beta1 * g;
  exp_avg_sq = exp_avg_sq * h.beta2 + h.one_minus_beta2 * g * g;
  T second = exp_avg_sq;
  if (max_exp_avg_sq != nullptr) {
    second = nan_maximum(*max_exp_avg_sq, exp_avg_sq);
    *max_exp_avg_sq = second;
  }
  T denom = sqrt(second) / h.bias_correction2_sqrt + h.eps;
  param = param + h.neg_step_size * exp_avg / denom;  // addcdiv_: (value * t1) / t2
}

// ---- RMSprop --------------------------------------------------------------------
template <typename T>
struct RmspropHyper {
  T lr;               // learning rate
  T alpha;            // smoothing constant
  T one_minus_alpha;  // 1 - alpha
  T eps;              // added to the denominator after the square root
  T weight_decay;     // L2 penalty added to the gradient
  T momentum;         // momentum factor; 0: no buffer
  bool centered;      // normalise by the estimated variance (grad_avg kept)
  bool maximize;      // ascend: the gradient's sign is flipped first
};

// One element of torch.optim.RMSprop:
//   g = maximize ? -g : g;  g += weight_decay * p
//   sq = sq * alpha + (1 - alpha) * g * g
//   centered: ga = ga * alpha + (1 - alpha) * g;  avg = sqrt(sq - ga * ga)
//   else:     avg = sqrt(sq)
//   avg += eps
//   momentum > 0: buf = buf * momentum + g / avg;  p += -lr * buf
//   else:         p += (-lr * g) / avg
// grad_avg is null unless centered; momentum_buffer is null unless momentum > 0.
template <typename T>
LOOM_HD void rmsprop_point(const RmspropHyper<T>& h, T& param, T grad, T& square_avg,
                           T* grad_avg, T* momentum_buffer) {
  T g = h.maximize ? -grad : grad;
  if (h.weight_decay != T(0)) g = g + h.weight_decay * param;
  square_avg = square_avg * h.alpha + h.one_minus_alpha * g * g;
  T avg;
  if (grad_avg != nullptr) {
    T ga = *grad_avg * h.alpha + h.one_minus_alpha * g;
    *grad_avg = ga;
    avg = sqrt(square_avg + T(-1) * ga * ga);
  } else {
    avg = sqrt(square_avg);
  }
  avg = avg + h.eps;
  if (momentum_buffer != nullptr) {
    T b = *momentum_buffer * h.momentum + g / avg;
    *momentum_buffer = b;
    param = param + (-h.lr) * b;
  } else {
    param = param + (-h.lr) * g / avg;  // addcdiv_: (value * t1) / t2
  }
}

// ---- fp32 master weights for 16-bit parameters ----------------------------------
// The same updates for a bfloat16 / float16 parameter P whose optimizer keeps
// an fp32 master copy (the options' master_weights(true)): the math runs in
// float on the master exactly as the float32 update above (same hyper-parameter
// struct, SgdHyper<float> etc.), with the 16-bit gradient converted to float
// (exact); then the master is stored and the 16-bit model copy is written as
// the master rounded to P (round to nearest, ties to even: kernels/half.h).
// All state (momentum_buffer, exp_avg, ...) is float.
template <typename P>
LOOM_HD void sgd_master_point(const SgdHyper<float>& h, float& master, P& model, P grad, float* buf) {
  float p = master;
  sgd_point(h, p, static_cast<float>(grad), buf);
  master = p;
  model = P(p);
}

template <typename P>
LOOM_HD void adam_master_point(const AdamHyper<float>& h, float& master, P& model, P grad,
                               float& exp_avg, float& exp_avg_sq, float* max_exp_avg_sq) {
  float p = master;
  adam_point(h, p, static_cast<float>(grad), exp_avg, exp_avg_sq, max_exp_avg_sq);
  master = p;
  model = P(p);
}

template <typename P>
LOOM_HD void rmsprop_master_point(const RmspropHyper<float>& h, float& master, P& model, P grad,
                                  float& square_avg, float* grad_avg, float* momentum_buffer) {
  float p = master;
  rmsprop_point(h, p, static_cast<float>(grad), square_avg, grad_avg, momentum_buffer);
  master = p;
  model = P(p);
}

// ---- CPU reference ----------------------------------------------------------------
// T: float, double. In-place updates of param and state; grad is read only.
template <typename T>
void sgd_step_cpu(const SgdHyper<T>& h, index_t n,
                  T* param,             // [n]
                  const T* grad,        // [n]
                  T* momentum_buffer);  // [n], or null when momentum == 0
template <typename T>
void adam_step_cpu(const AdamHyper<T>& h, index_t n,
                   T* param,            // [n]
                   const T* grad,       // [n]
                   T* exp_avg,          // [n]
                   T* exp_avg_sq,       // [n]
                   T* max_exp_avg_sq);  // [n], or null unless amsgrad
template <typename T>
void rmsprop_step_cpu(const RmspropHyper<T>& h, index_t n,
                      T* param,             // [n]
                      const T* grad,        // [n]
                      T* square_avg,        // [n]
                      T* grad_avg,          // [n], or null unless centered
                      T* momentum_buffer);  // [n], or null unless momentum > 0

// P: bfloat16, float16. master and every state pointer are float; model and
// grad are P. Updates master and state in place and overwrites model with the
// rounded master; grad is read only.
template <typename P>
void sgd_step_master_cpu(const SgdHyper<float>& h, index_t n,
                         float* master,            // [n] fp32 master weights
                         P* model,                 // [n] the 16-bit parameter (written)
                         const P* grad,            // [n] its 16-bit gradient
                         float* momentum_buffer);  // [n], or null when momentum == 0
template <typename P>
void adam_step_master_cpu(const AdamHyper<float>& h, index_t n,
                          float* master,           // [n] fp32 master weights
                          P* model,                // [n] the 16-bit parameter (written)
                          const P* grad,           // [n] its 16-bit gradient
                          float* exp_avg,          // [n]
                          float* exp_avg_sq,       // [n]
                          float* max_exp_avg_sq);  // [n], or null unless amsgrad
template <typename P>
void rmsprop_step_master_cpu(const RmspropHyper<float>& h, index_t n,
                             float* master,            // [n] fp32 master weights
                             P* model,                 // [n] the 16-bit parameter (written)
                             const P* grad,            // [n] its 16-bit gradient
                             float* square_avg,        // [n]
                             float* grad_avg,          // [n], or null unless centered
                             float* momentum_buffer);  // [n], or null unless momentum > 0

#if defined(LOOM_WITH_CUDA)
// ---- CUDA: the same contracts on device pointers; one fused launch on loom's stream.
template <typename T>
void sgd_step_cuda(const SgdHyper<T>& h, index_t n, T* param, const T* grad, T* momentum_buffer);
template <typename T>
void adam_step_cuda(const AdamHyper<T>& h, index_t n, T* param, const T* grad, T* exp_avg,
                    T* exp_avg_sq, T* max_exp_avg_sq);
template <typename T>
void rmsprop_step_cuda(const RmspropHyper<T>& h, index_t n, T* param, const T* grad,
                       T* square_avg, T* grad_avg, T* momentum_buffer);
template <typename P>
void sgd_step_master_cuda(const SgdHyper<float>& h, index_t n, float* master, P* model,
                          const P* grad, float* momentum_buffer);
template <typename P>
void adam_step_master_cuda(const AdamHyper<float>& h, index_t n, float* master, P* model,
                           const P* grad, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq);
template <typename P>
void rmsprop_step_master_cuda(const RmspropHyper<float>& h, index_t n, float* master, P* model,
                              const P* grad, float* square_avg, float* grad_avg,
                              float* momentum_buffer);
#endif

}  // namespace loom::kernels
