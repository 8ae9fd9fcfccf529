// Writes tests/data/checkpoint_v1/adam_steplr_v1.h5: a checkpoint in format
// version 1 (no checksums), as loom wrote them before version 2. It was built
// and run once against commit 11c0908 (the last writer of version 1):
//
//   g++ -std=c++20 -O1 -I. make_checkpoint_v1.cc -Lbuild/lib -lloom ... && ./a.out OUT.h5
//
// Kept for the record; built against a later loom it writes the later
// version. No BLAS is involved, so every value follows from Adam's formulas:
//   w  float32 [2, 3], starts at 0.5 * (0, 1, 2, 3, 4, 5)
//   b  float32 [3],    starts at (-1, 0.25, 2)
//   Adam(lr 0.5, amsgrad) steps once on grad(w) = 1, grad(b) = 2: every
//   element moves by -0.5 (to within 1e-7), exp_avg = 0.1 * grad,
//   exp_avg_sq = max_exp_avg_sq = 0.001 * grad^2, step = 1;
//   StepLR(step_size 2, gamma 0.5) steps once (last_epoch 1, lr 0.5).
//   model: "w", "b", "count" (int64 scalar 42), "empty" (float32 [0, 4]);
//   checkpoint step 7; metadata epoch = 3, best = -1.5
#include <cstdio>

#include "core/native.h"
#include "nn/checkpoint.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"

using namespace loom;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  Tensor w = tensor({0.0, 0.5, 1.0, 1.5, 2.0, 2.5}, {2, 3}, TensorOptions(kFloat32).requires_grad());
  Tensor b = tensor({-1.0, 0.25, 2.0}, TensorOptions(kFloat32).requires_grad());
  optim::Adam adam({w, b}, optim::AdamOptions(0.5).amsgrad(true));
  optim::StepLR sched(adam, 2, 0.5);
  w.set_grad(tensor({1, 1, 1, 1, 1, 1}, {2, 3}, TensorOptions(kFloat32)));
  b.set_grad(tensor({2, 2, 2}, TensorOptions(kFloat32)));
  adam.step();
  sched.step();
  nn::StateDict model;
  model.insert("w", w.detach());
  model.insert("b", b.detach());
  model.insert("count", tensor_int64({42}, {}));
  model.insert("empty", native::zeros({0, 4}));
  nn::save_checkpoint(argv[1], {model, adam.state_dict(), sched.state_dict(), 7,
                                {{"epoch", 3}, {"best", -1.5}}});
  std::printf("wrote %s\n", argv[1]);
  return 0;
}
