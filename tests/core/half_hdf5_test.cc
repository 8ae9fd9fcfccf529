// bfloat16 / float16 in HDF5 files: float16 as IEEE half (what h5py writes
// for numpy.float16), bfloat16 as its bits in uint16 with the dataset
// attribute loom_dtype = "bfloat16". Round trips bit for bit (NaN, inf,
// subnormals, 0-dim and empty tensors), h5py's own file
// (tests/data/half/h5py_half.h5, from tests/fixtures/make_half_cases.py),
// and checkpoints of a bfloat16 model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "core/tensor_io.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "testing.h"

namespace loom {
namespace {

std::vector<std::uint16_t> bits_of(const Tensor& t) {
  Tensor c = native::contiguous(t.detach());
  std::vector<std::uint16_t> out(static_cast<std::size_t>(c.numel()));
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size() * 2);
  return out;
}

Tensor special_values(DType dtype) {
  return tensor({0.0, -0.0, 1.0, -2.5, 1e-7, 65504.0, 1e30, INFINITY, -INFINITY, NAN, 3e-39, 0.1},
                {3, 4}, dtype);
}

class HalfHdf5 : public testing::TempDirTest {};

TEST_F(HalfHdf5, TensorsRoundTripBitForBit) {
  std::map<std::string, Tensor> in = {
      {"bf16", special_values(kBFloat16)},
      {"f16", special_values(kFloat16)},
      {"group/bf16_scalar", tensor(std::vector<double>{3.140625}, {}, kBFloat16)},
      {"f16_empty", empty({0, 3}, kFloat16)},
      {"bf16_view", special_values(kBFloat16).t()},  // non-contiguous: written in C order
  };
  save_tensors(file("t.h5"), in);
  std::map<std::string, Tensor> out = load_tensors(file("t.h5"));
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) {
    ASSERT_TRUE(out.count(name)) << name;
    EXPECT_EQ(out[name].dtype(), t.dtype()) << name;
    EXPECT_EQ(out[name].shape(), t.shape()) << name;
    EXPECT_EQ(bits_of(out[name]), bits_of(t)) << name;
  }
  Hdf5File f = Hdf5File::open_read(file("t.h5"));
  EXPECT_EQ(f.dtype("bf16"), kBFloat16);
  EXPECT_EQ(f.dtype("f16"), kFloat16);
  EXPECT_EQ(f.attr_string("bf16", "loom_dtype"), "bfloat16");
  EXPECT_FALSE(f.has_attr("f16", "loom_dtype"));
  // read_as converts between floating dtypes as Tensor::to does.
  HostArray wide = f.read_as("bf16", kFloat32);
  Tensor expected = special_values(kBFloat16).to(kFloat32);
  std::vector<float> w(wide.as<float>().begin(), wide.as<float>().end());
  std::vector<float> e = expected.to_vector<float>();
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (std::isnan(e[i])) EXPECT_TRUE(std::isnan(w[i]));
    else EXPECT_EQ(w[i], e[i]) << i;
  }
  EXPECT_EQ(bits_of(from_host_array(f.read_as("f16", kBFloat16), TensorOptions(kBFloat16))),
            bits_of(special_values(kFloat16).to(kBFloat16)));
}

// A file h5py wrote: its float16 type is read as Float16, a uint16 dataset
// tagged loom_dtype = "bfloat16" as BFloat16, and an untagged uint16 stays an integer.
TEST(HalfHdf5File, ReadsH5pysFile) {
  Hdf5File f = Hdf5File::open_read(testing::source_path("tests/data/half/h5py_half.h5"));
  ASSERT_EQ(f.dtype("f16"), kFloat16);
  ASSERT_EQ(f.dtype("bf16"), kBFloat16);
  EXPECT_EQ(f.dtype("u16"), kInt64);
  Tensor h = from_host_array(f.read("f16"), TensorOptions(kFloat16));
  EXPECT_EQ(h.shape(), (Shape{2, 3}));
  // numpy.float16 of [1, -2.5, 65504, 6e-8, inf, 0.1]
  EXPECT_EQ(bits_of(h), (std::vector<std::uint16_t>{0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00, 0x2e66}));
  Tensor b = from_host_array(f.read("bf16"), TensorOptions(kBFloat16));
  // torch.tensor([1, -2.5, 3.140625, 1e30], dtype=torch.bfloat16) bits
  EXPECT_EQ(bits_of(b), (std::vector<std::uint16_t>{0x3f80, 0xc020, 0x4049, 0x714a}));
  EXPECT_EQ(from_host_array(f.read("u16")).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 65535}));
}

TEST_F(HalfHdf5, CheckpointOfABFloat16ModelRestoresExactly) {
  manual_seed(9);
  nn::Linear model(5, 3);
  model->to(kBFloat16);
  nn::save_checkpoint(file("ck.h5"), {model->state_dict(), {}, {}, 7, {}});
  nn::Linear other(5, 3);
  other->to(kBFloat16);
  nn::Checkpoint ck = nn::load_checkpoint(file("ck.h5"));
  EXPECT_EQ(ck.step, 7);
  nn::restore(ck, other);
  auto a = model->state_dict(), b = other->state_dict();
  for (const auto& [name, t] : a) {
    EXPECT_EQ(b.at(name).dtype(), kBFloat16) << name;
    EXPECT_EQ(bits_of(b.at(name)), bits_of(t)) << name;
  }
  // And the bfloat16 model runs, forward and backward.
  Tensor x = testing::random_tensor({2, 5}, 3, kBFloat16);
  Tensor y = other->forward(x);
  EXPECT_EQ(y.dtype(), kBFloat16);
  sum(y).backward();
}

}  // namespace
}  // namespace loom
