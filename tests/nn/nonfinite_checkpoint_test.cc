// Checkpoints keep NaN and infinities bit for bit: parameters holding NaN
// (quiet, negative, with a payload), +inf and -inf, in float32 and float64,
// and the optimizer state a NaN/inf gradient leaves behind (Adam with
// amsgrad), save and load with identical bytes.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "autograd/functions.h"
#include "core/native.h"
#include "core/tensor_io.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "optim/adam.h"
#include "testing.h"

namespace loom {
namespace {

class NonfiniteCheckpoint : public testing::TempDirTest {};

template <typename Float, typename Bits>
Float from_bits(Bits bits) {
  static_assert(sizeof(Float) == sizeof(Bits));
  Float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::vector<std::byte> bytes_of(const Tensor& t) { return to_host_array(t).bytes; }

TEST_F(NonfiniteCheckpoint, NanAndInfinitiesRoundTripBitForBit) {
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(fmt::format("{}", dtype));
    nn::Linear model(3, 2);
    model->to(dtype);
    Tensor w;
    if (dtype == kFloat32) {
      const std::vector<float> v = {from_bits<float>(0x7fc00001u),  // quiet NaN, payload 1
                                    from_bits<float>(0xffc00000u),  // negative quiet NaN
                                    std::numeric_limits<float>::infinity(),
                                    -std::numeric_limits<float>::infinity(), 1.5f, -0.0f};
      w = empty({2, 3}, TensorOptions(kFloat32));
      std::memcpy(w.data_ptr(), v.data(), sizeof(float) * v.size());
    } else {
      const std::vector<double> v = {from_bits<double>(0x7ff8000000000123ull),
                                     from_bits<double>(0xfff8000000000000ull),
                                     std::numeric_limits<double>::infinity(),
                                     -std::numeric_limits<double>::infinity(), 1.5, -0.0};
      w = empty({2, 3}, TensorOptions(kFloat64));
      std::memcpy(w.data_ptr(), v.data(), sizeof(double) * v.size());
    }
    native::copy_(model->state_dict().at("weight"), w);  // in place: the parameter itself
    ASSERT_TRUE(bytes_of(model->state_dict().at("weight")) == bytes_of(w));

    // A step on NaN/inf gradients fills Adam's state with NaN and inf.
    optim::Adam adam(model->parameters(), optim::AdamOptions(0.01).amsgrad(true));
    model->weight.set_grad(native::ones({2, 3}, TensorOptions(dtype)));
    model->bias.set_grad(tensor({std::nan(""), std::numeric_limits<double>::infinity()}, dtype));
    adam.step();
    const optim::StateDict opt = adam.state_dict();
    bool any_nan_state = false;
    for (const auto& [key, t] : opt.tensors)
      for (double v : t.to_vector<double>()) any_nan_state |= std::isnan(v);
    ASSERT_TRUE(any_nan_state) << "Adam's state should hold NaN after a NaN gradient";

    nn::Checkpoint saved{model->state_dict(), opt, {}, 1, {}};
    nn::save_checkpoint(file("c.h5"), saved);
    nn::Checkpoint loaded = nn::load_checkpoint(file("c.h5"));
    for (const auto& [key, value] : saved.model)
      EXPECT_TRUE(bytes_of(loaded.model.at(key)) == bytes_of(value)) << key;
    ASSERT_EQ(loaded.optimizer.tensors.size(), opt.tensors.size());
    for (const auto& [key, value] : opt.tensors)
      EXPECT_TRUE(bytes_of(loaded.optimizer.tensors.at(key)) == bytes_of(value)) << key;
  }
}

}  // namespace
}  // namespace loom
