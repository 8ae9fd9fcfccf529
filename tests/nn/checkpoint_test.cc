// Tests for nn/checkpoint.h: bit-exact round trips (model, optimizer, schedule,
// step, metadata), the file layout read back through the raw HDF5 layer,
// resuming training mid-run, refusal of missing / truncated / foreign /
// damaged / mismatched files with their messages, and a process killed
// mid-save (fork + SIGKILL) leaving the previous checkpoint whole.
#include "nn/checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "core/tensor_io.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "optim/sgd.h"
#include "testing.h"

namespace loom::nn {
namespace {

namespace fs = std::filesystem;

// A small network whose state_dict has keys out of alphabetical order and
// tensors of every stored dtype: an LSTM, a Linear head, a float64 buffer, an
// int64 0-dim buffer, a bool buffer and an empty buffer.
struct Net : Module {
  explicit Net(std::uint64_t seed) {
    manual_seed(seed);
    zeta = register_parameter("zeta", randn({2}));
    lstm = register_module("lstm", std::make_shared<LSTMImpl>(LSTMOptions(3, 4)));
    head = register_module("head", std::make_shared<LinearImpl>(4, 2));
    register_buffer("running", tensor({0.1, -2.5, 1e-300}, TensorOptions(kFloat64)));
    register_buffer("count", tensor_int64({42}, {}));
    register_buffer("mask", native::compare(native::CompareOp::Gt, tensor({1, -1, 2}), zeros({3})));
    register_buffer("empty", zeros({0, 5}));
  }
  std::string type() const override { return "Net"; }
  // (L, N, 3) -> (L, N, 2)
  Tensor forward(const Tensor& x) {
    auto [out, state] = lstm->forward(x);
    return head->forward(out) * zeta;
  }
  Tensor zeta;
  std::shared_ptr<LSTMImpl> lstm;
  std::shared_ptr<LinearImpl> head;
};

class CheckpointTest : public testing::TempDirTest {};

// Bytes of a host copy: equal bytes means equal bits (NaN included).
std::vector<std::byte> bytes_of(const Tensor& t) { return to_host_array(t).bytes; }

void expect_same_tensor(const Tensor& actual, const Tensor& expected, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what;
  EXPECT_EQ(actual.dtype(), expected.dtype()) << what;
  EXPECT_EQ(actual.shape(), expected.shape()) << what;
  EXPECT_TRUE(bytes_of(actual) == bytes_of(expected)) << what << ": values differ";
}

void expect_same_dict(const optim::StateDict& actual, const optim::StateDict& expected,
                      const std::string& what) {
  ASSERT_EQ(actual.tensors.size(), expected.tensors.size()) << what;
  for (const auto& [key, value] : expected.tensors) {
    ASSERT_TRUE(actual.tensors.count(key)) << what << ": no tensor " << key;
    expect_same_tensor(actual.tensors.at(key), value, what + " " + key);
  }
  ASSERT_EQ(actual.scalars.size(), expected.scalars.size()) << what;
  for (const auto& [key, value] : expected.scalars) {
    ASSERT_TRUE(actual.scalars.count(key)) << what << ": no scalar " << key;
    double a = actual.scalars.at(key);
    EXPECT_EQ(std::memcmp(&a, &value, sizeof(double)), 0) << what << " " << key << ": " << a
                                                          << " != " << value;
  }
}

// Trains `net` for `steps` Adam steps with a StepLR schedule on fixed data.
void train(Net& net, optim::Adam& adam, optim::StepLR& sched, int steps) {
  manual_seed(99);
  Tensor x = randn({5, 2, 3});
  Tensor target = randn({5, 2, 2});
  for (int i = 0; i < steps; ++i) {
    adam.zero_grad();
    mse_loss(net.forward(x), target).backward();
    adam.step();
    sched.step();
  }
}

// A checkpoint with every part filled: a trained Net, Adam state, StepLR state.
struct Trained {
  Net net{7};
  optim::Adam adam{net.parameters(), optim::AdamOptions(0.01).amsgrad(true)};
  optim::StepLR sched{adam, 2, 0.5};
  Trained() { train(net, adam, sched, 3); }
  Checkpoint checkpoint() const {
    return {net.state_dict(), adam.state_dict(), sched.state_dict(), 3,
            {{"epoch", 1}, {"best", -std::numeric_limits<double>::infinity()},
             {"nan", std::nan("")}, {"tiny", 4.9e-324}}};
  }
};

TEST_F(CheckpointTest, RoundTripIsBitExactAndKeepsKeyOrder) {
  Trained t;
  Checkpoint saved = t.checkpoint();
  ASSERT_FALSE(saved.optimizer.tensors.empty());
  save_checkpoint(file("a.h5"), saved);
  EXPECT_EQ(entries(), std::vector<std::string>{"a.h5"});  // no temporary left

  Checkpoint loaded = load_checkpoint(file("a.h5"));
  // The order PyTorch gives this network: own parameter, own buffers, children.
  std::vector<std::string> order = {"zeta", "running", "count", "mask", "empty",
                                    "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0",
                                    "lstm.bias_hh_l0", "head.weight", "head.bias"};
  EXPECT_EQ(saved.model.keys(), order);
  EXPECT_EQ(loaded.model.keys(), order);
  for (const auto& [key, value] : saved.model) expect_same_tensor(loaded.model.at(key), value, key);
  EXPECT_EQ(loaded.model.at("count").dtype(), kInt64);
  EXPECT_EQ(loaded.model.at("mask").dtype(), DType::Bool);
  EXPECT_EQ(loaded.model.at("running").dtype(), kFloat64);
  EXPECT_EQ(loaded.model.at("empty").shape(), (Shape{0, 5}));
  expect_same_dict(loaded.optimizer, saved.optimizer, "optimizer");
  expect_same_dict(loaded.scheduler, saved.scheduler, "scheduler");
  EXPECT_EQ(loaded.step, 3);
  ASSERT_EQ(loaded.metadata.size(), 4u);
  EXPECT_EQ(loaded.metadata.at("epoch"), 1.0);
  EXPECT_EQ(loaded.metadata.at("best"), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(loaded.metadata.at("nan")));
  EXPECT_EQ(loaded.metadata.at("tiny"), 4.9e-324);

  // Saving over an existing checkpoint replaces it.
  saved.step = 11;
  save_checkpoint(file("a.h5"), saved);
  EXPECT_EQ(load_checkpoint(file("a.h5")).step, 11);
  EXPECT_EQ(entries(), std::vector<std::string>{"a.h5"});
}

TEST_F(CheckpointTest, FileLayoutAsDocumented) {
  Trained t;
  save_checkpoint(file("a.h5"), t.checkpoint());
  // Read through the raw HDF5 layer, not through load_checkpoint.
  Hdf5File f = Hdf5File::open_read(file("a.h5"));
  EXPECT_EQ(f.attr_string("/", "format"), "loom-checkpoint");
  EXPECT_EQ(f.attr_int("/", "version"), 2);
  EXPECT_EQ(f.attr_int("/", "step"), 3);
  EXPECT_EQ(f.list("/"), (std::vector<std::string>{"metadata", "model", "optimizer", "scheduler"}));
  EXPECT_EQ(f.attr_string("model", "keys"),
            "zeta\nrunning\ncount\nmask\nempty\nlstm.weight_ih_l0\nlstm.weight_hh_l0\n"
            "lstm.bias_ih_l0\nlstm.bias_hh_l0\nhead.weight\nhead.bias");
  EXPECT_EQ(f.dtype("model/lstm.weight_ih_l0"), kFloat32);
  EXPECT_EQ(f.shape("model/lstm.weight_ih_l0"), (std::vector<std::int64_t>{16, 3}));
  EXPECT_EQ(f.dtype("model/running"), kFloat64);
  EXPECT_EQ(f.read("model/running").as<double>()[2], 1e-300);
  EXPECT_EQ(f.dtype("model/count"), kInt64);
  EXPECT_EQ(f.read("model/count").as<std::int64_t>()[0], 42);
  EXPECT_EQ(f.shape("model/count"), std::vector<std::int64_t>{});
  EXPECT_EQ(f.dtype("model/mask"), DType::Bool);
  EXPECT_EQ(f.dtype("optimizer/tensors/param_groups.0.params"), kInt64);
  EXPECT_EQ(f.read("optimizer/tensors/param_groups.0.params").as<std::int64_t>().size(), 7u);
  EXPECT_EQ(f.dtype("optimizer/tensors/state.0.max_exp_avg_sq"), kFloat32);
  EXPECT_EQ(f.read("optimizer/scalars/param_groups.0.lr").as<double>()[0], 0.005);  // 0.01 * 0.5
  EXPECT_EQ(f.read("optimizer/scalars/state.0.step").as<double>()[0], 3.0);
  EXPECT_EQ(f.read("scheduler/scalars/last_epoch").as<double>()[0], 3.0);
  EXPECT_EQ(f.read("metadata/epoch").as<double>()[0], 1.0);
  // Version 2: every group of entries lists them, and every dataset is protected.
  EXPECT_EQ(f.attr_string("metadata", "keys"), "best\nepoch\nnan\ntiny");
  EXPECT_EQ(f.attr_string("scheduler/scalars", "keys"),
            "_last_lr.0\n_step_count\nbase_lrs.0\ngamma\nlast_epoch\nstep_size");
  EXPECT_EQ(f.attr_string("scheduler/tensors", "keys"), "");
  EXPECT_EQ(f.attr_string("optimizer/tensors", "keys")
                .rfind("param_groups.0.params\nstate.0.exp_avg\nstate.0.exp_avg_sq\n", 0),
            0u);
  EXPECT_TRUE(f.metadata_checksummed());
  for (const std::string& group : {"model", "optimizer/tensors", "optimizer/scalars",
                                   "scheduler/scalars", "metadata"})
    for (const std::string& name : f.list(group))
      EXPECT_TRUE(f.checksummed(group + "/" + name)) << group << "/" << name;
}

TEST_F(CheckpointTest, ResumingGivesTheUninterruptedTrajectory) {
  // Uninterrupted: 6 steps.
  Net a(7);
  optim::Adam adam_a(a.parameters(), optim::AdamOptions(0.01).amsgrad(true));
  optim::StepLR sched_a(adam_a, 2, 0.5);
  train(a, adam_a, sched_a, 6);

  // 3 steps, checkpoint, then a fresh process state (other init) resumes for 3.
  {
    Net b(7);
    optim::Adam adam_b(b.parameters(), optim::AdamOptions(0.01).amsgrad(true));
    optim::StepLR sched_b(adam_b, 2, 0.5);
    train(b, adam_b, sched_b, 3);
    save_checkpoint(file("mid.h5"), {b.state_dict(), adam_b.state_dict(), sched_b.state_dict(), 3, {}});
  }
  Net c(12345);
  optim::Adam adam_c(c.parameters(), optim::AdamOptions(0.5));
  optim::StepLR sched_c(adam_c, 2, 0.5);
  Checkpoint ck = load_checkpoint(file("mid.h5"));
  restore(ck, c, &adam_c, sched_c);
  EXPECT_EQ(sched_c.last_epoch(), 3);
  EXPECT_EQ(adam_c.param_groups()[0].options->get_lr(), 0.005);
  train(c, adam_c, sched_c, 3);

  auto pa = a.named_parameters();
  auto pc = c.named_parameters();
  ASSERT_EQ(pa.size(), pc.size());
  for (std::size_t i = 0; i < pa.size(); ++i) expect_same_tensor(pc[i].second, pa[i].second, pa[i].first);
  EXPECT_EQ(sched_c.get_last_lr(), sched_a.get_last_lr());
}

TEST_F(CheckpointTest, ReduceLROnPlateauStateRoundTrips) {
  Net net(1);
  optim::SGD sgd(net.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  optim::ReduceLROnPlateau plateau(sgd, {.patience = 0});
  plateau.step(2.0);
  plateau.step(3.0);  // no improvement: lr 0.1 -> 0.01
  save_checkpoint(file("p.h5"), {net.state_dict(), sgd.state_dict(), plateau.state_dict(), 2, {}});

  Net other(2);
  optim::SGD sgd2(other.parameters(), optim::SGDOptions(0.7).momentum(0.9));
  optim::ReduceLROnPlateau plateau2(sgd2, {.patience = 0});
  restore(load_checkpoint(file("p.h5")), other, &sgd2, plateau2);
  EXPECT_EQ(plateau2.best(), 2.0);
  EXPECT_EQ(plateau2.num_bad_epochs(), 0);
  EXPECT_EQ(plateau2.get_last_lr(), std::vector<double>{0.1 * 0.1});
  EXPECT_EQ(sgd2.param_groups()[0].options->get_lr(), 0.1 * 0.1);
  // A fresh plateau has best = +inf, which must round-trip too.
  optim::ReduceLROnPlateau fresh(sgd, {});
  save_checkpoint(file("q.h5"), {net.state_dict(), {}, fresh.state_dict(), 0, {}});
  EXPECT_EQ(load_checkpoint(file("q.h5")).scheduler.scalars.at("best"),
            std::numeric_limits<double>::infinity());
}

TEST_F(CheckpointTest, MissingOptionalGroupsLoadEmpty) {
  // What tools/torch_hdf5.py writes: the root attributes and /model only.
  {
    Hdf5File f = Hdf5File::create_atomic(file("m.h5"));
    f.set_attr_string("/", "format", "loom-checkpoint");
    f.set_attr_int("/", "version", 1);
    f.set_attr_int("/", "step", 0);
    f.create_group("model");
    f.set_attr_string("model", "keys", "b\na");
    f.write("model/a", HostArray::from<double>({2}, {1.5, 2.5}));
    f.write("model/b", HostArray::from<float>({}, {3.0f}));
    f.commit();
  }
  Checkpoint ck = load_checkpoint(file("m.h5"));
  EXPECT_EQ(ck.model.keys(), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(ck.model.at("a").to_vector<double>(), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(ck.model.at("b").item(), 3.0);
  EXPECT_TRUE(ck.optimizer.tensors.empty() && ck.optimizer.scalars.empty());
  EXPECT_TRUE(ck.scheduler.tensors.empty() && ck.scheduler.scalars.empty());
  EXPECT_TRUE(ck.metadata.empty());
  EXPECT_EQ(ck.step, 0);
}

// ---- refusals ------------------------------------------------------------------------------

TEST_F(CheckpointTest, RefusesMissingAndNonHdf5Files) {
  std::string missing = file("nope.h5");
  EXPECT_ERROR_TEXT(load_checkpoint(missing), "cannot load checkpoint '" + missing + "': no such file");
  std::string text = file("text.h5");
  std::ofstream(text) << "hello, this is not HDF5\n";
  EXPECT_ERROR_TEXT(load_checkpoint(text), "cannot load checkpoint '" + text + "': not an HDF5 file");
  EXPECT_ERROR_TEXT(load_checkpoint(dir_.string()),
                    "cannot load checkpoint '" + dir_.string() + "': it is a directory");
}

TEST_F(CheckpointTest, RefusesTruncatedFiles) {
  Trained t;
  save_checkpoint(file("a.h5"), t.checkpoint());
  const auto size = fs::file_size(file("a.h5"));
  ASSERT_GT(size, 4096u);
  std::string cut = file("cut.h5");
  // Half the file: HDF5 sees the end of file before the one its superblock records.
  fs::copy_file(file("a.h5"), cut);
  fs::resize_file(cut, size / 2);
  testing::expect_error_containing_all([&] { load_checkpoint(cut); },
                                       {"cannot load checkpoint '" + cut + "': ",
                                        "the file is truncated or damaged", "truncated file"});
  // Any cut is refused with an error naming the file, never a crash.
  for (double fraction : {0.001, 0.01, 0.1, 0.3, 0.7, 0.9, 0.99}) {
    fs::remove(cut);
    fs::copy_file(file("a.h5"), cut);
    fs::resize_file(cut, static_cast<std::uintmax_t>(static_cast<double>(size) * fraction));
    testing::expect_error_containing([&] { load_checkpoint(cut); },
                                     "cannot load checkpoint '" + cut + "': ");
  }
  fs::remove(cut);
  fs::copy_file(file("a.h5"), cut);
  fs::resize_file(cut, size - 1);
  testing::expect_error_containing([&] { load_checkpoint(cut); }, "truncated");
}

TEST_F(CheckpointTest, RefusesForeignHdf5Files) {
  std::string p = file("foreign.h5");
  auto write = [&](const std::function<void(Hdf5File&)>& fill) {
    Hdf5File f = Hdf5File::create_atomic(p);
    f.write("x", HostArray::from<double>({1}, {1.0}));
    fill(f);
    f.commit();
  };
  std::string head = "cannot load checkpoint '" + p + "': ";
  write([](Hdf5File&) {});
  EXPECT_ERROR_TEXT(load_checkpoint(p), head + "not a loom checkpoint: the root group has no 'format' "
                                               "attribute (expected format = \"loom-checkpoint\")");
  write([](Hdf5File& f) { f.set_attr_string("/", "format", "keras"); });
  EXPECT_ERROR_TEXT(load_checkpoint(p), head + "not a loom checkpoint: its format attribute is "
                                               "\"keras\", expected \"loom-checkpoint\"");
  write([](Hdf5File& f) { f.set_attr_int("/", "format", 1); });
  EXPECT_ERROR_TEXT(load_checkpoint(p), head + "attribute 'format' of the root group in HDF5 file '" +
                                            p + "' is an integer, expected a string");
  write([](Hdf5File& f) { f.set_attr_string("/", "format", "loom-checkpoint"); });
  EXPECT_ERROR_TEXT(load_checkpoint(p), head + "the root group has no 'version' attribute");
  write([](Hdf5File& f) {
    f.set_attr_string("/", "format", "loom-checkpoint");
    f.set_attr_int("/", "version", 3);
  });
  EXPECT_ERROR_TEXT(load_checkpoint(p),
                    head + "checkpoint version 3 is not supported (this loom reads versions 1 and 2)");
  // A loom-rnn-check reference case is HDF5 too, without the format attribute.
  write([](Hdf5File& f) {
    f.set_attr_string("/", "format", "loom-checkpoint");
    f.set_attr_int("/", "version", 1);
    f.set_attr_int("/", "step", 0);
  });
  EXPECT_ERROR_TEXT(load_checkpoint(p),
                    head + "unexpected object 'x' (a loom checkpoint has only grad_scaler, "
                           "metadata, model, optimizer, scheduler)");
}

TEST_F(CheckpointTest, RefusesDamagedLayouts) {
  std::string p = file("damaged.h5");
  std::string head = "cannot load checkpoint '" + p + "': ";
  auto write = [&](const std::string& keys, const std::function<void(Hdf5File&)>& fill) {
    Hdf5File f = Hdf5File::create_atomic(p);
    f.set_attr_string("/", "format", "loom-checkpoint");
    f.set_attr_int("/", "version", 1);
    f.set_attr_int("/", "step", 0);
    f.create_group("model");
    if (!keys.empty()) f.set_attr_string("model", "keys", keys);
    fill(f);
    f.commit();
  };
  write("", [](Hdf5File& f) { f.write("model/w", HostArray::from<double>({1}, {1.0})); });
  EXPECT_ERROR_TEXT(load_checkpoint(p),
                    head + "group 'model' has no 'keys' attribute (the state_dict's key order)");
  write("w\nb", [](Hdf5File& f) { f.write("model/w", HostArray::from<double>({1}, {1.0})); });
  EXPECT_ERROR_TEXT(load_checkpoint(p), head + "key 'b' is listed in the 'keys' attribute of group "
                                               "'model', but there is no dataset 'model/b'");
  write("w", [](Hdf5File& f) {
    f.write("model/w", HostArray::from<double>({1}, {1.0}));
    f.write("model/extra", HostArray::from<double>({1}, {1.0}));
  });
  EXPECT_ERROR_TEXT(load_checkpoint(p), head + "dataset 'model/extra' is not listed in the 'keys' "
                                               "attribute of group 'model'");
  write("w\nw", [](Hdf5File& f) { f.write("model/w", HostArray::from<double>({1}, {1.0})); });
  EXPECT_ERROR_TEXT(load_checkpoint(p),
                    head + "key 'w' appears twice in the 'keys' attribute of group 'model'");
  write("w", [](Hdf5File& f) {
    f.write("model/w", HostArray::from<double>({1}, {1.0}));
    f.write("optimizer/scalars/lr", HostArray::from<float>({}, {0.1f}));
  });
  EXPECT_ERROR_TEXT(load_checkpoint(p), head + "'optimizer/scalars/lr' should be a float64 scalar, "
                                               "found float32 []");
  {
    Hdf5File f = Hdf5File::create_atomic(p);
    f.set_attr_string("/", "format", "loom-checkpoint");
    f.set_attr_int("/", "version", 1);
    f.set_attr_int("/", "step", 0);
    f.commit();
  }
  EXPECT_ERROR_TEXT(load_checkpoint(p), head + "no group 'model'");
}

TEST_F(CheckpointTest, RefusesBadSaves) {
  Trained t;
  std::string p = file("a.h5");
  save_checkpoint(p, t.checkpoint());
  auto before = fs::file_size(p);
  std::string bad_dir = file("no/such/folder/x.h5");
  EXPECT_ERROR_TEXT(save_checkpoint(bad_dir, t.checkpoint()),
                    "cannot save checkpoint '" + bad_dir + "': folder '" + file("no/such/folder") +
                        "' does not exist");
  Checkpoint ck = t.checkpoint();
  ck.model.insert("a/b", zeros({1}));
  EXPECT_ERROR_TEXT(save_checkpoint(p, ck), "cannot save checkpoint '" + p +
                                                "': model key 'a/b' contains '/', which HDF5 "
                                                "would read as a group");
  ck = t.checkpoint();
  ck.model.insert("line\nbreak", zeros({1}));
  EXPECT_ERROR_TEXT(save_checkpoint(p, ck),
                    "cannot save checkpoint '" + p + "': model key 'line\nbreak' contains a newline");
  ck = t.checkpoint();
  ck.model.insert("gone", Tensor());
  EXPECT_ERROR_TEXT(save_checkpoint(p, ck),
                    "cannot save checkpoint '" + p + "': model tensor 'gone' is undefined");
  ck = t.checkpoint();
  ck.optimizer.scalars["."] = 1;
  EXPECT_ERROR_TEXT(save_checkpoint(p, ck),
                    "cannot save checkpoint '" + p + "': optimizer key '.' cannot be an HDF5 name");
  ck = t.checkpoint();
  ck.metadata[""] = 1;
  EXPECT_ERROR_TEXT(save_checkpoint(p, ck), "cannot save checkpoint '" + p + "': metadata has an empty key");
  // The failed saves left the old checkpoint as it was and no temporary.
  EXPECT_EQ(fs::file_size(p), before);
  EXPECT_EQ(load_checkpoint(p).step, 3);
  EXPECT_EQ(entries(), std::vector<std::string>{"a.h5"});
}

TEST_F(CheckpointTest, MismatchedModuleIsRefusedWithPyTorchsMessages) {
  save_checkpoint(file("lstm.h5"), {LSTM(LSTMOptions(5, 7))->state_dict(), {}, {}, 0, {}});
  Checkpoint ck = load_checkpoint(file("lstm.h5"));
  const std::string from = "from checkpoint '" + file("lstm.h5") + "'";

  LSTM wider(LSTMOptions(5, 8));
  Tensor before = native::clone(wider->named_parameter("weight_ih_l0"));
  EXPECT_ERROR_TEXT(
      restore(ck, wider),
      "cannot restore the model " + from + ": Error(s) in loading state_dict for LSTM:\n"
      "\tsize mismatch for weight_ih_l0: copying a param with shape torch.Size([28, 5]) from "
      "checkpoint, the shape in current model is torch.Size([32, 5]).\n"
      "\tsize mismatch for weight_hh_l0: copying a param with shape torch.Size([28, 7]) from "
      "checkpoint, the shape in current model is torch.Size([32, 8]).\n"
      "\tsize mismatch for bias_ih_l0: copying a param with shape torch.Size([28]) from "
      "checkpoint, the shape in current model is torch.Size([32]).\n"
      "\tsize mismatch for bias_hh_l0: copying a param with shape torch.Size([28]) from "
      "checkpoint, the shape in current model is torch.Size([32]).");
  expect_same_tensor(wider->named_parameter("weight_ih_l0"), before, "untouched");

  LSTM two_layers(LSTMOptions(5, 7).num_layers(2));
  EXPECT_ERROR_TEXT(restore(ck, two_layers),
                    "cannot restore the model " + from + ": Error(s) in loading state_dict "
                    "for LSTM:\n\tMissing key(s) in state_dict: \"weight_ih_l1\", \"weight_hh_l1\", "
                    "\"bias_ih_l1\", \"bias_hh_l1\". ");
  GRU gru(GRUOptions(5, 7).bias(false));
  testing::expect_error_containing_all(
      [&] { restore(ck, gru); },
      {"Error(s) in loading state_dict for GRU:", "Unexpected key(s) in state_dict: \"bias_ih_l0\", "
       "\"bias_hh_l0\". ", "size mismatch for weight_ih_l0: copying a param with shape "
       "torch.Size([28, 5]) from checkpoint, the shape in current model is torch.Size([21, 5])."});
}

TEST_F(CheckpointTest, RestoreIsAllOrNothing) {
  Trained t;
  save_checkpoint(file("a.h5"), t.checkpoint());
  Checkpoint ck = load_checkpoint(file("a.h5"));
  const std::string from = "from checkpoint '" + file("a.h5") + "'";

  // Same network and a schedule that loads, but the optimizer has two groups:
  // the model and schedule loads must be undone.
  Net net(100);
  optim::Adam two_groups({optim::ParamGroup({net.zeta}), optim::ParamGroup(net.lstm->parameters())});
  optim::Adam one_group(net.parameters());
  optim::StepLR sched(one_group, 2, 0.5);
  StateDict before = net.state_dict();
  std::vector<std::vector<std::byte>> before_bytes;
  for (const auto& [k, v] : before) before_bytes.push_back(bytes_of(v));
  EXPECT_ERROR_TEXT(restore(ck, net, &two_groups, sched),
                    "cannot restore the optimizer " + from + ": loaded state dict has a "
                    "different number of parameter groups");
  std::size_t i = 0;
  for (const auto& [k, v] : net.state_dict()) EXPECT_TRUE(bytes_of(v) == before_bytes[i++]) << k;
  EXPECT_EQ(sched.last_epoch(), 0);  // the schedule was put back too

  // One group of the wrong size.
  optim::Adam short_group(net.lstm->parameters());
  EXPECT_ERROR_TEXT(restore(ck, net, &short_group),
                    "cannot restore the optimizer " + from + ": loaded state dict contains a "
                    "parameter group that doesn't match the size of optimizer's group");
  // An SGD over the same parameters: Adam's options are not SGD's.
  optim::SGD sgd(net.parameters(), optim::SGDOptions(0.1));
  testing::expect_error_containing([&] { restore(ck, net, &sgd); },
                                   "cannot restore the optimizer " + from + ": SGD has no option");
  i = 0;
  for (const auto& [k, v] : net.state_dict()) EXPECT_TRUE(bytes_of(v) == before_bytes[i++]) << k;

  // A checkpoint without optimizer or schedule state.
  Checkpoint model_only = ck;
  model_only.optimizer = {};
  model_only.scheduler = {};
  optim::Adam adam(net.parameters());
  EXPECT_ERROR_TEXT(restore(model_only, net, &adam),
                    "cannot restore the optimizer: checkpoint '" + file("a.h5") + "' holds no optimizer state");
  optim::StepLR sched2(adam, 2);
  EXPECT_ERROR_TEXT(restore(model_only, net, nullptr, sched2),
                    "cannot restore the schedule: checkpoint '" + file("a.h5") + "' holds no schedule state");
  // A StepLR's state into a ReduceLROnPlateau.
  optim::ReduceLROnPlateau plateau(adam);
  testing::expect_error_containing([&] { restore(ck, net, &adam, plateau); },
                                   "cannot restore the schedule " + from + ": ");
  // And then it works.
  restore(ck, net, &adam, sched2);
  for (const auto& [k, v] : ck.model) expect_same_tensor(net.state_dict().at(k), v, k);
}

// ---- atomicity -----------------------------------------------------------------------------

// Names in `dir` that start with `prefix`.
std::vector<std::string> with_prefix(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

TEST_F(CheckpointTest, KilledMidSaveLeavesThePreviousCheckpointWhole) {
  // Checkpoint A (small), and three large versions (24 MB each) that a child
  // process saves over it in a loop; every version is recognisable by its step.
  const std::string target = file("ck.h5");
  Checkpoint a{{{"w", tensor({1, 2, 3})}}, {}, {}, 1, {{"version", -1}}};
  std::vector<Checkpoint> big;
  for (int v = 0; v < 3; ++v) {
    Tensor w = native::full({6 * 1000 * 1000}, 0.25 + v, TensorOptions(kFloat32));
    Tensor u = native::arange(v, v + 1000, 1, TensorOptions(kFloat64));
    big.push_back({{{"w", w}, {"u", u}}, {}, {}, 100 + v, {{"version", double(v)}}});
  }
  auto check_whole = [&](const Checkpoint& got, const std::string& when) {
    const Checkpoint* want = nullptr;
    if (got.step == a.step) want = &a;
    for (const Checkpoint& b : big)
      if (got.step == b.step) want = &b;
    ASSERT_NE(want, nullptr) << when << ": unknown step " << got.step;
    ASSERT_EQ(got.model.keys(), want->model.keys()) << when;
    for (const auto& [k, v] : want->model) expect_same_tensor(got.model.at(k), v, when + " " + k);
    EXPECT_EQ(got.metadata, want->metadata) << when;
  };

  // Each trial waits until the child has begun its (commits+1)-th save (its
  // temporaries are numbered), then `fraction` of one save's duration more,
  // and kills it: early in the first save, and at eight points spread over a
  // later save (writing, flushing, renaming, starting the next one). A save's
  // duration is measured on the child itself: the time between the starts of
  // its first and its (commits+1)-th save, over commits.
  struct Trial {
    int commits;
    double fraction;
  };
  std::vector<Trial> trials = {{0, 0.0}, {2, 0.3}};
  for (int j = 0; j < 8; ++j) trials.push_back({1, j / 8.0});
  int killed_mid_write = 0, killed_after_commit = 0;
  double longest_save_ms = 0;
  for (const Trial& trial : trials) {
    save_checkpoint(target, a);
    pid_t child = ::fork();
    ASSERT_GE(child, 0) << "fork failed";
    if (child == 0) {
      // The child only saves, in a loop, until it is killed.
      try {
        for (int i = 0; i < 1000; ++i) save_checkpoint(target, big[i % 3]);
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(0);
    }
    const std::string temp_prefix = fmt::format(".ck.h5.tmp-{}-", static_cast<long>(child));
    // The lowest and highest temporary numbers of the child seen so far, and
    // when the lowest was first seen.
    long first = -1, last = -1;
    using Clock = std::chrono::steady_clock;
    Clock::time_point start = Clock::now(), first_seen = start;
    while (Clock::now() - start < std::chrono::seconds(20)) {
      for (const std::string& name : with_prefix(dir_, temp_prefix)) {
        long n = std::stol(name.substr(temp_prefix.size()));
        if (first < 0) {
          first = n;
          first_seen = Clock::now();
        }
        last = std::max(last, n);
      }
      if (first >= 0 && last - first >= trial.commits) break;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    ASSERT_GE(first, 0) << "the child never started a save";
    if (trial.commits > 0) {
      auto one_save = (Clock::now() - first_seen) / trial.commits;
      longest_save_ms = std::max(
          longest_save_ms, std::chrono::duration<double, std::milli>(one_save).count());
      std::this_thread::sleep_for(
          std::chrono::duration_cast<Clock::duration>(one_save * trial.fraction));
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended by itself (status " << status << ") before it was killed";

    // A temporary left behind means the kill landed mid-save.
    std::vector<std::string> leftovers = with_prefix(dir_, temp_prefix);
    std::string when = fmt::format("after {} commits + {} of a save", trial.commits, trial.fraction);
    Checkpoint got = load_checkpoint(target);
    check_whole(got, when);
    if (trial.commits > 0) {
      EXPECT_NE(got.step, a.step) << when << ": the child had replaced A";
    }
    if (!leftovers.empty()) ++killed_mid_write;
    if (got.step != a.step) ++killed_after_commit;
    for (const std::string& name : leftovers) fs::remove(dir_ / name);
  }
  // At least one kill must have landed in the middle of a save, and at least
  // one after the child had replaced A, for the test to show anything.
  EXPECT_GE(killed_mid_write, 1);
  EXPECT_GE(killed_after_commit, 1);
  RecordProperty("killed_mid_write", killed_mid_write);
  RecordProperty("killed_after_commit", killed_after_commit);
  fmt::print("longest save: {:.0f} ms; {} of {} kills landed mid-save; {} found a child's "
             "checkpoint in place\n", longest_save_ms, killed_mid_write, trials.size(),
             killed_after_commit);
}

TEST_F(CheckpointTest, CudaTensorsSaveAndLoadOnEitherDevice) {
  LOOM_SKIP_WITHOUT_CUDA();
  Trained t;
  t.net.to(kCUDA);
  Checkpoint saved = t.checkpoint();
  save_checkpoint(file("g.h5"), saved);
  Checkpoint on_cpu = load_checkpoint(file("g.h5"));
  Checkpoint on_gpu = load_checkpoint(file("g.h5"), kCUDA);
  for (const auto& [key, value] : saved.model) {
    expect_same_tensor(on_cpu.model.at(key), value, key);
    EXPECT_TRUE(on_gpu.model.at(key).is_cuda()) << key;
    expect_same_tensor(on_gpu.model.at(key), value, key);
  }
}

}  // namespace
}  // namespace loom::nn
