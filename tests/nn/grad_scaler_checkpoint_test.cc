// A GradScaler's state in checkpoints (nn/checkpoint.h, /grad_scaler): a
// round trip that resumes the same run, a checkpoint without one, an entry
// deleted from the file, a bit flipped in the stored scale, an incomplete
// state refused at restore with nothing changed.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "hdf5_damage.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "optim/optim.h"
#include "testing.h"

namespace loom::nn {
namespace {

using optim::GradScaler;
using optim::GradScalerOptions;

class GradScalerCheckpointTest : public testing::TempDirTest {};

// A Linear(3, 2) trained with Adam and a GradScaler (growth_interval 3); the
// third step's gradients are made infinite, so that step is skipped and the
// scale backs off.
struct ScaledRun {
  int seeded = (manual_seed(9), 0);  // before the layer draws its weights
  Linear fc{3, 2};
  optim::Adam adam{fc->parameters(), optim::AdamOptions(0.05)};
  GradScaler scaler{GradScalerOptions().init_scale(1024).growth_interval(3)};
  Tensor x, target;

  ScaledRun() {
    x = randn({4, 3});
    target = randn({4, 2});
  }
  // One iteration; returns whether the optimizer stepped.
  bool iterate(bool overflow = false) {
    adam.zero_grad();
    Tensor loss = mean(square(fc->forward(x) - target));
    scaler.scale(loss).backward();
    if (overflow) fc->parameters()[0].set_grad(native::full({2, 3}, std::numeric_limits<double>::infinity()));
    const bool stepped = scaler.step(adam);
    scaler.update();
    return stepped;
  }
  Checkpoint checkpoint() const {
    Checkpoint ck{fc->state_dict(), adam.state_dict(), {}, 5, {}};
    ck.grad_scaler = scaler.state_dict();
    return ck;
  }
};

std::vector<double> flat_params(Module& m) {
  std::vector<double> out;
  for (const Tensor& p : m.parameters()) {
    std::vector<double> v = p.to_vector<double>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST_F(GradScalerCheckpointTest, RoundTripResumesTheSameRun) {
  ScaledRun a;
  EXPECT_TRUE(a.iterate());
  EXPECT_TRUE(a.iterate());
  EXPECT_FALSE(a.iterate(true));  // skipped: 1024 -> 512, tracker 0
  EXPECT_TRUE(a.iterate());       // tracker 1
  ASSERT_EQ(a.scaler.get_scale(), 512.0);
  ASSERT_EQ(a.scaler.get_growth_tracker(), 1);
  const std::string p = file("ck.h5");
  save_checkpoint(p, a.checkpoint());
  {
    Hdf5File f = Hdf5File::open_read(p);
    EXPECT_TRUE(f.is_dataset("grad_scaler/scalars/_growth_tracker"));
  }
  Checkpoint ck = load_checkpoint(p);
  EXPECT_EQ(ck.grad_scaler.scalars, a.scaler.state_dict().scalars);

  ScaledRun b;  // other weights: restore overwrites them
  b.scaler.set_growth_interval(50);
  restore(ck, b.fc, &b.adam, b.scaler);
  EXPECT_EQ(b.scaler.get_scale(), 512.0);
  EXPECT_EQ(b.scaler.get_growth_tracker(), 1);
  EXPECT_EQ(b.scaler.get_growth_interval(), 3);
  EXPECT_EQ(flat_params(b.fc), flat_params(a.fc));
  // Both go on identically: of three finite steps the second grows the scale
  // (tracker 1 -> 2 -> 3 = growth_interval: 512 -> 1024, tracker 0 -> 1).
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(a.iterate());
    EXPECT_TRUE(b.iterate());
  }
  EXPECT_EQ(b.scaler.get_scale(), 1024.0);
  EXPECT_EQ(a.scaler.get_scale(), 1024.0);
  EXPECT_EQ(b.scaler.get_growth_tracker(), a.scaler.get_growth_tracker());
  EXPECT_EQ(flat_params(b.fc), flat_params(a.fc));
}

TEST_F(GradScalerCheckpointTest, CheckpointWithoutAScalerLoadsAndRefusesARequestedOne) {
  ScaledRun a;
  a.iterate();
  Checkpoint ck = a.checkpoint();
  ck.grad_scaler = {};
  const std::string p = file("no_scaler.h5");
  save_checkpoint(p, ck);
  {
    Hdf5File f = Hdf5File::open_read(p);
    EXPECT_FALSE(f.has("grad_scaler"));  // not written: older readers still read the file
  }
  Checkpoint loaded = load_checkpoint(p);
  EXPECT_TRUE(loaded.grad_scaler.scalars.empty());
  ScaledRun b;
  const std::vector<double> before = flat_params(b.fc);
  EXPECT_ERROR_TEXT(restore(loaded, b.fc, &b.adam, b.scaler),
                    "cannot restore the grad scaler: checkpoint '" + p +
                        "' holds no grad scaler state");
  EXPECT_EQ(flat_params(b.fc), before);  // nothing changed
  restore(loaded, b.fc, &b.adam);        // without a scaler it restores
  EXPECT_EQ(flat_params(b.fc), flat_params(a.fc));
  GradScaler off(GradScalerOptions().enabled(false));
  restore(loaded, b.fc, &b.adam, off);  // a disabled scaler loads nothing
}

TEST_F(GradScalerCheckpointTest, DeletedEntryIsRefusedByNameAtLoad) {
  ScaledRun a;
  a.iterate();
  const std::string clean = file("clean.h5");
  save_checkpoint(clean, a.checkpoint());
  for (const std::string key :
       {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}) {
    const std::string p = file("deleted.h5");
    std::filesystem::copy_file(clean, p, std::filesystem::copy_options::overwrite_existing);
    testing::delete_object(p, "grad_scaler/scalars/" + key);
    EXPECT_ERROR_TEXT(load_checkpoint(p),
                      "cannot load checkpoint '" + p + "': grad scaler state entry '" + key +
                          "' is missing: group 'grad_scaler/scalars' lists it in its 'keys' "
                          "attribute, but there is no dataset 'grad_scaler/scalars/" +
                          key + "'");
  }
}

TEST_F(GradScalerCheckpointTest, FlippedBitInTheStoredScaleIsRefused) {
  ScaledRun a;
  a.iterate();
  a.scaler.update(1234.5);  // a value found once in the file
  const std::string p = file("flipped.h5");
  save_checkpoint(p, a.checkpoint());
  const double scale = 1234.5;
  std::vector<unsigned char> bytes = testing::read_file_bytes(p);
  const auto* v = reinterpret_cast<const unsigned char*>(&scale);
  auto at = std::search(bytes.begin(), bytes.end(), v, v + 8);
  ASSERT_NE(at, bytes.end());
  ASSERT_EQ(std::search(at + 1, bytes.end(), v, v + 8), bytes.end());
  testing::flip_bit(p, static_cast<std::uint64_t>(at - bytes.begin()) + 2, 1);
  testing::expect_error_containing_all(
      [&] { load_checkpoint(p); },
      {"cannot load checkpoint '" + p + "'", "checksum mismatch", "'grad_scaler/scalars/scale'"});
}

TEST_F(GradScalerCheckpointTest, IncompleteStateIsRefusedAtRestoreWithNothingChanged) {
  ScaledRun a;
  a.iterate();
  Checkpoint ck = a.checkpoint();
  ck.grad_scaler.scalars.erase("_growth_tracker");
  const std::string p = file("no_tracker.h5");
  save_checkpoint(p, ck);  // consistent file: its list lacks the entry too
  Checkpoint loaded = load_checkpoint(p);
  ScaledRun b;
  b.scaler.set_growth_interval(7);
  const std::vector<double> before = flat_params(b.fc);
  EXPECT_ERROR_TEXT(restore(loaded, b.fc, &b.adam, b.scaler),
                    "cannot restore the grad scaler from checkpoint '" + p +
                        "': grad scaler state entry '_growth_tracker' is missing");
  EXPECT_EQ(flat_params(b.fc), before);
  EXPECT_EQ(b.scaler.get_growth_interval(), 7);
  EXPECT_EQ(b.adam.state(b.fc->parameters()[0]), nullptr);

  // The optimizer refusing after the scaler loaded puts the scaler back too.
  Checkpoint bad_opt = a.checkpoint();
  bad_opt.optimizer.scalars.erase("state.0.step");
  EXPECT_ERROR_TEXT(restore(bad_opt, b.fc, &b.adam, b.scaler),
                    "cannot restore the optimizer from the checkpoint: optimizer state entry "
                    "'state.0.step' is missing");
  EXPECT_EQ(b.scaler.get_growth_interval(), 7);
  EXPECT_EQ(b.scaler.get_scale(), 1024.0);
  EXPECT_EQ(flat_params(b.fc), before);
}

}  // namespace
}  // namespace loom::nn
