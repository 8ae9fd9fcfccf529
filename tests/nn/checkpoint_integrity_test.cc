// Damaged checkpoints are refused, not loaded (nn/checkpoint.h, "Damage is
// detected"): bit flips, zeroed and overwritten blocks inside tensor data
// (located with H5Dget_chunk_info / H5Dget_offset) and inside a scalar's
// object header fail with a loom::Error naming the file and the dataset; a
// deleted optimizer / schedule / metadata entry is refused by name, at load
// (version 2 lists every entry) or at restore (what the optimizer and the
// schedule need); a version-2 file with an unprotected dataset is refused;
// the committed version-1 file (tests/data/checkpoint_v1, written before
// checksums) still loads and restores, with one warning per file.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "core/tensor_io.h"
#include "hdf5_damage.h"
#include "nn/checkpoint.h"
#include "nn/rnn.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "testing.h"

namespace loom::nn {
namespace {

namespace fs = std::filesystem;

class CheckpointIntegrityTest : public testing::TempDirTest {
 protected:
  // A copy of `clean` named `name`, for one kind of damage.
  std::string copy_of(const std::string& clean, const std::string& name) {
    std::string p = file(name);
    fs::copy_file(clean, p, fs::copy_options::overwrite_existing);
    return p;
  }
};

// An LSTM trained for 3 Adam (amsgrad) steps with a StepLR schedule.
struct Trained {
  LSTM lstm{LSTMOptions(3, 5)};
  optim::Adam adam{lstm->parameters(), optim::AdamOptions(0.01).amsgrad(true)};
  optim::StepLR sched{adam, 2, 0.5};
  Trained() {
    manual_seed(5);
    Tensor x = randn({4, 2, 3});
    Tensor target = randn({4, 2, 5});
    for (int i = 0; i < 3; ++i) {
      adam.zero_grad();
      mse_loss(std::get<0>(lstm->forward(x)), target).backward();
      adam.step();
      sched.step();
    }
  }
  Checkpoint checkpoint() const {
    return {lstm->state_dict(), adam.state_dict(), sched.state_dict(), 123456789,
            {{"epoch", 1234.56789}, {"best", 0.25}}};
  }
};

// The offset of the only occurrence of `value`'s 8 bytes in the file.
std::uint64_t unique_offset_of(const std::string& path, const void* value) {
  std::vector<unsigned char> bytes = testing::read_file_bytes(path);
  const auto* v = static_cast<const unsigned char*>(value);
  auto at = std::search(bytes.begin(), bytes.end(), v, v + 8);
  if (at == bytes.end()) throw std::runtime_error("value not found in " + path);
  if (std::search(at + 1, bytes.end(), v, v + 8) != bytes.end())
    throw std::runtime_error("value found twice in " + path);
  return static_cast<std::uint64_t>(at - bytes.begin());
}

TEST_F(CheckpointIntegrityTest, DamageInsideTensorDataIsRefusedNamingFileAndDataset) {
  Trained t;
  const std::string clean = file("clean.h5");
  save_checkpoint(clean, t.checkpoint());
  load_checkpoint(clean);  // loads undamaged
  int tried = 0;
  for (const std::string dataset : {"model/weight_hh_l0", "model/bias_ih_l0",
                                    "optimizer/tensors/state.1.exp_avg_sq",
                                    "optimizer/tensors/state.0.max_exp_avg_sq"}) {
    const testing::Extent e = testing::data_extents(clean, dataset).at(0);
    ASSERT_GE(e.size, 24u) << dataset;
    std::vector<std::function<void(const std::string&)>> damages = {
        [&](const std::string& p) { testing::flip_bit(p, e.offset + e.size / 2, 4); },
        [&](const std::string& p) {
          testing::overwrite_bytes(p, e.offset + 4, std::vector<unsigned char>(16, 0));
        },
        [&](const std::string& p) {  // the whole chunk, Fletcher32 sum included
          testing::overwrite_bytes(p, e.offset, std::vector<unsigned char>(e.size, 0));
        },
        [&](const std::string& p) {
          std::vector<unsigned char> junk(e.size - 8);
          for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<unsigned char>(i * 97 + 5);
          testing::overwrite_bytes(p, e.offset + 2, junk);
        },
    };
    for (std::size_t k = 0; k < damages.size(); ++k) {
      std::string p = copy_of(clean, "damaged_" + std::to_string(tried++) + ".h5");
      damages[k](p);
      // A chunk zeroed whole passes Fletcher32 (its sum of zeros is 0): the
      // 'crc32' attribute refuses it.
      const std::string why = k == 2 ? "(the values' CRC-32 is 0x"
                                     : "(HDF5: data error detected by Fletcher32 checksum)";
      testing::expect_error_containing_all(
          [&] { load_checkpoint(p); },
          {"cannot load checkpoint '" + p + "': checksum mismatch in dataset '" + dataset +
               "': the file is damaged ",
           why});
    }
  }
  EXPECT_EQ(tried, 16);
}

TEST_F(CheckpointIntegrityTest, DamageInsideScalarsIsRefused) {
  Trained t;
  const std::string clean = file("clean.h5");
  save_checkpoint(clean, t.checkpoint());
  // A metadata scalar: its value is inside its own (checksummed) object header.
  const double epoch = 1234.56789;
  std::string p = copy_of(clean, "epoch.h5");
  testing::flip_bit(p, unique_offset_of(clean, &epoch) + 3, 2);
  testing::expect_error_containing_all(
      [&] { load_checkpoint(p); },
      {"cannot load checkpoint '" + p + "': checksum mismatch in the object header of ",
       "'metadata/epoch'", "the file is damaged"});
  // The step attribute, in the root group's header.
  const std::int64_t step = 123456789;
  p = copy_of(clean, "step.h5");
  testing::flip_bit(p, unique_offset_of(clean, &step) + 1, 0);
  testing::expect_error_containing_all([&] { load_checkpoint(p); },
                                       {"cannot load checkpoint '" + p + "'", "checksum"});
}

TEST_F(CheckpointIntegrityTest, DeletedEntriesAreRefusedByNameAtLoad) {
  Trained t;
  const std::string clean = file("clean.h5");
  save_checkpoint(clean, t.checkpoint());
  struct Deleted {
    std::string group, key, what;
  };
  for (const Deleted& d : std::vector<Deleted>{
           {"optimizer/scalars", "state.0.step", "optimizer state entry"},
           {"optimizer/scalars", "param_groups.0.lr", "optimizer state entry"},
           {"optimizer/tensors", "state.2.exp_avg", "optimizer state entry"},
           {"scheduler/scalars", "last_epoch", "schedule state entry"},
           {"metadata", "epoch", "metadata entry"}}) {
    std::string p = copy_of(clean, "deleted.h5");
    testing::delete_object(p, d.group + "/" + d.key);  // as h5py's `del f[...]`
    EXPECT_ERROR_TEXT(load_checkpoint(p),
                      "cannot load checkpoint '" + p + "': " + d.what + " '" + d.key +
                          "' is missing: group '" + d.group +
                          "' lists it in its 'keys' attribute, but there is no dataset '" + d.group +
                          "/" + d.key + "'");
  }
}

TEST_F(CheckpointIntegrityTest, IncompleteStateIsRefusedByNameAtRestore) {
  Trained t;
  // A consistent file (entry and list both without it): load works, restore refuses.
  Checkpoint ck = t.checkpoint();
  ck.optimizer.scalars.erase("state.0.step");
  const std::string p = file("no_step.h5");
  save_checkpoint(p, ck);
  Checkpoint loaded = load_checkpoint(p);
  LSTM lstm(LSTMOptions(3, 5));
  optim::Adam adam(lstm->parameters(), optim::AdamOptions(0.01).amsgrad(true));
  optim::StepLR sched(adam, 2, 0.5);
  EXPECT_ERROR_TEXT(restore(loaded, lstm, &adam, sched),
                    "cannot restore the optimizer from checkpoint '" + p +
                        "': optimizer state entry 'state.0.step' is missing");
  EXPECT_EQ(sched.last_epoch(), 0);  // all or nothing
  EXPECT_EQ(adam.state(lstm->parameters()[0]), nullptr);

  // Every entry of the optimizer and the schedule, one at a time (in memory).
  Checkpoint good = t.checkpoint();
  good.source = p;
  int refused = 0;
  for (const auto& [key, value] : good.optimizer.scalars) {
    Checkpoint c = good;
    c.optimizer.scalars.erase(key);
    EXPECT_ERROR_TEXT(restore(c, lstm, &adam, sched),
                      "cannot restore the optimizer from checkpoint '" + p +
                          "': optimizer state entry '" + key + "' is missing");
    ++refused;
  }
  for (const auto& [key, value] : good.optimizer.tensors) {
    if (key.rfind("param_groups.", 0) == 0) continue;
    Checkpoint c = good;
    c.optimizer.tensors.erase(key);
    EXPECT_ERROR_TEXT(restore(c, lstm, &adam, sched),
                      "cannot restore the optimizer from checkpoint '" + p +
                          "': optimizer state entry '" + key + "' is missing");
    ++refused;
  }
  for (const auto& [key, value] : good.scheduler.scalars) {
    Checkpoint c = good;
    c.scheduler.scalars.erase(key);
    EXPECT_ERROR_TEXT(restore(c, lstm, &adam, sched),
                      "cannot restore the schedule from checkpoint '" + p +
                          "': LRScheduler.load_state_dict: schedule state entry '" + key +
                          "' is missing");
    ++refused;
  }
  // Adam (amsgrad) over 4 parameters: 7 options, 4 x (step + 3 tensors); StepLR: 6.
  EXPECT_EQ(refused, 7 + 16 + 6);
  restore(good, lstm, &adam, sched);  // and the whole one restores
  EXPECT_EQ(sched.last_epoch(), 3);
}

TEST_F(CheckpointIntegrityTest, Version2DatasetWithoutChecksumIsRefused) {
  Trained t;
  const std::string p = file("plain.h5");
  save_checkpoint(p, t.checkpoint());
  // Replace one tensor by a contiguous (unprotected) dataset with the same values.
  HostArray w = Hdf5File::open_read(p).read("model/weight_hh_l0");
  testing::delete_object(p, "model/weight_hh_l0");
  {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dims[2] = {static_cast<hsize_t>(w.shape[0]), static_cast<hsize_t>(w.shape[1])};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t ds = H5Dcreate2(f, "model/weight_hh_l0", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w.bytes.data());
    H5Dclose(ds);
    H5Sclose(space);
    H5Fclose(f);
  }
  EXPECT_ERROR_TEXT(load_checkpoint(p),
                    "cannot load checkpoint '" + p + "': dataset 'model/weight_hh_l0' carries no "
                    "checksum (a version-2 checkpoint protects every dataset: Fletcher32 and a crc32 "
                    "attribute on chunked data, compact scalars)");
}

// A module holding what tests/data/checkpoint_v1/adam_steplr_v1.h5 holds.
struct V1Model : Module {
  V1Model() {
    w = register_parameter("w", native::zeros({2, 3}));
    b = register_parameter("b", native::zeros({3}));
    register_buffer("count", tensor_int64({0}, {}));
    register_buffer("empty", native::zeros({0, 4}));
  }
  std::string type() const override { return "V1Model"; }
  Tensor w, b;
};

TEST_F(CheckpointIntegrityTest, Version1FileLoadsWithOneWarning) {
  // A fresh path, so that no earlier load in this process has warned about it.
  const std::string p = file("adam_steplr_v1.h5");
  fs::copy_file(testing::source_path("tests/data/checkpoint_v1/adam_steplr_v1.h5"), p);
  ::testing::internal::CaptureStderr();
  Checkpoint ck = load_checkpoint(p);
  Checkpoint again = load_checkpoint(p);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "warning: checkpoint '" + p + "' is format version 1, which carries no checksums: "
                 "damage to its data cannot be detected (saving it again writes version 2, with "
                 "checksums)\n");
  EXPECT_EQ(ck.step, 7);
  EXPECT_EQ(ck.metadata.at("epoch"), 3.0);
  EXPECT_EQ(ck.metadata.at("best"), -1.5);

  // Restores: Adam's first step moved every element by -lr * m^ / (sqrt(v^) + eps) = -0.5.
  V1Model m;
  optim::Adam adam(m.parameters(), optim::AdamOptions(0.5).amsgrad(true));
  optim::StepLR sched(adam, 2, 0.5);
  restore(ck, m, &adam, sched);
  const std::vector<double> w0 = {0.0, 0.5, 1.0, 1.5, 2.0, 2.5}, b0 = {-1.0, 0.25, 2.0};
  std::vector<double> w = m.w.to_vector<double>(), b = m.b.to_vector<double>();
  for (std::size_t i = 0; i < w0.size(); ++i) EXPECT_NEAR(w[i], w0[i] - 0.5, 1e-6) << i;
  for (std::size_t i = 0; i < b0.size(); ++i) EXPECT_NEAR(b[i], b0[i] - 0.5, 1e-6) << i;
  EXPECT_EQ(m.state_dict().at("count").to_vector<std::int64_t>()[0], 42);
  EXPECT_EQ(sched.last_epoch(), 1);
  const optim::ParamState* s = adam.state(m.b);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->scalars.at("step"), 1.0);
  for (double v : s->tensors.at("exp_avg").to_vector<double>()) EXPECT_NEAR(v, 0.2, 1e-7);
  for (double v : s->tensors.at("max_exp_avg_sq").to_vector<double>()) EXPECT_NEAR(v, 0.004, 1e-9);

  // Saved again: version 2, no warning.
  const std::string p2 = file("resaved.h5");
  save_checkpoint(p2, ck);
  ::testing::internal::CaptureStderr();
  Checkpoint v2 = load_checkpoint(p2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(Hdf5File::open_read(p2).attr_int("/", "version"), 2);
  EXPECT_EQ(v2.step, 7);

  // The case on an old file: state.0.step deleted. No list to check
  // it against at load, but restore refuses it by name.
  const std::string p3 = file("v1_no_step.h5");
  fs::copy_file(p, p3);
  testing::delete_object(p3, "optimizer/scalars/state.0.step");
  ::testing::internal::CaptureStderr();
  Checkpoint no_step = load_checkpoint(p3);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("carries no checksums"), std::string::npos);
  V1Model m2;
  optim::Adam adam2(m2.parameters(), optim::AdamOptions(0.5).amsgrad(true));
  EXPECT_ERROR_TEXT(restore(no_step, m2, &adam2),
                    "cannot restore the optimizer from checkpoint '" + p3 +
                        "': optimizer state entry 'state.0.step' is missing");
}

}  // namespace
}  // namespace loom::nn
