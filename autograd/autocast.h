// loom::autocast: mixed precision by a guard, as torch.autocast.
//
//   {
//     loom::autocast guard(kBFloat16);               // or kFloat16
//     auto [out, state] = lstm->forward(x);          // runs in bfloat16
//     Tensor loss = cross_entropy(head->forward(out).view({-1, V}), y);  // float32
//   }
//   loss.backward();                                 // float32 gradients on float32 parameters
//
// Inside the guard (per thread, as PyTorch's), operations fall in three groups:
//
//   lower precision  linear, matmul, bmm, the recurrent layers nn::RNN / LSTM /
//                    GRU (tensor and packed input) and so the cells (which are
//                    made of linear): every float32 operand (input, states,
//                    parameters) is cast to the guard's type first, through
//                    loom::to, so gradients flow back and reach each float32
//                    parameter in float32. Operands of another dtype (float64,
//                    or already 16-bit) are left as they are, as PyTorch does.
//   float32          softmax, log_softmax, nll_loss, cross_entropy, mse_loss,
//                    sum, mean: 16-bit operands are cast to float32 first.
//   everything else  runs in its operands' dtype (elementwise ops compute in
//                    float32 inside and round once, see core/dtype.h).
//
// Differences from PyTorch, on purpose:
//   - one guard for both devices (torch.autocast takes a device_type);
//   - the recurrent layers keep the asked type: PyTorch's CUDA autocast runs
//     cuDNN RNNs in float16 even when bfloat16 is asked for, and its 1.13 CPU
//     autocast leaves nn.LSTM in float32;
//   - mean is in the float32 group with sum (PyTorch's CUDA list has sum only);
//   - no cast cache: a parameter used twice in one region is cast twice (same
//     values; PyTorch caches the cast of leaf parameters to save the copy).
#pragma once

#include "core/tensor.h"

namespace loom {

// Enables autocast to `dtype` (kBFloat16 or kFloat16; anything else throws
// loom::Error naming it) for the current thread until destroyed, when the
// previous state comes back (guards nest). `enabled = false` disables autocast
// in its scope, as torch.autocast(enabled=False) inside an autocast region.
class autocast {
 public:
  explicit autocast(DType dtype, bool enabled = true);
  ~autocast();
  autocast(const autocast&) = delete;
  autocast& operator=(const autocast&) = delete;

 private:
  bool previous_enabled_;
  DType previous_dtype_;
};

// True inside an enabled autocast guard on this thread.
bool is_autocast_enabled();
// The current guard's type (kBFloat16 by default, as torch.get_autocast_cpu_dtype).
DType get_autocast_dtype();

namespace autocast_cast {

// The operand of a lower-precision op: x cast (differentiably) to the
// autocast type when autocast is enabled and x is a defined float32 tensor;
// otherwise x itself.
Tensor to_lower(const Tensor& x);
// The operand of a float32 op: x cast (differentiably) to float32 when
// autocast is enabled and x is a defined bfloat16 or float16 tensor;
// otherwise x itself.
Tensor to_float(const Tensor& x);

}  // namespace autocast_cast

}  // namespace loom
