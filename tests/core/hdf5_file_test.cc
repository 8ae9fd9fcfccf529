// Tests for core/hdf5_file.h: round trips, attributes, atomic writes, refusal
// of broken files, and reading the shared PyTorch reference cases.
#include "core/hdf5_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "testing.h"

namespace loom {
namespace {

namespace fs = std::filesystem;

class Hdf5FileTest : public testing::TempDirTest {};

TEST_F(Hdf5FileTest, HostArrayHelpers) {
  HostArray a = HostArray::from<double>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(a.dtype, DType::Float64);
  EXPECT_EQ(a.numel(), 6);
  EXPECT_EQ(a.dim(), 2);
  EXPECT_EQ(a.nbytes(), 48u);
  EXPECT_EQ(a.as<double>()[4], 5.0);
  EXPECT_THROW(a.as<float>(), Error);
  EXPECT_THROW((HostArray::from<double>({2, 2}, {1, 2, 3})), Error);
  HostArray s = HostArray::zeros(DType::Int64, {});
  EXPECT_EQ(s.numel(), 1);
  HostArray f = a.to(DType::Float32);
  EXPECT_EQ(f.dtype, DType::Float32);
  EXPECT_EQ(f.as<float>()[5], 6.0f);
  EXPECT_THROW(a.to(DType::Int64), Error);
  HostArray broken = a;
  broken.bytes.pop_back();
  EXPECT_THROW(broken.validate(), Error);
  EXPECT_EQ(shape_string(a.shape), "[2, 3]");
}

TEST_F(Hdf5FileTest, RoundTripEveryDtypeAndNestedGroups) {
  const std::string path = file("round.h5");
  HostArray f32 = HostArray::from<float>({2, 2}, {1.5f, -2.25f, 3e-8f, 1e30f});
  HostArray f64 = HostArray::from<double>({3}, {0.1, -1e-300, 12345.678901234567});
  HostArray i64 = HostArray::from<std::int64_t>({2, 1, 2}, {-1, 0, 9007199254740993LL, -7});
  HostArray b = HostArray::from<bool>({5}, {true, false, false, true, true});
  HostArray scalar = HostArray::from<double>({}, {42.5});
  HostArray empty = HostArray::zeros(DType::Float64, {0, 3});
  {
    Hdf5File w = Hdf5File::create_atomic(path);
    EXPECT_TRUE(w.writable());
    w.write("f32", f32);
    w.write("/f64", f64);
    w.write("ints/i64", i64);
    w.write("masks/b", b);
    w.write("scalar", scalar);
    w.write("empty", empty);
    w.write("grad/params/weight_ih_l0", f64);
    w.write("grad/params/weight_hh_l0", f32);
    EXPECT_THROW(w.write("f32", f32), Error);  // already exists
    w.commit();
    EXPECT_FALSE(w.writable());
    testing::expect_error_containing_all([&] { w.write("late", f64); }, {"closed"});
  }
  Hdf5File r = Hdf5File::open_read(path);
  EXPECT_FALSE(r.writable());
  auto same = [](const HostArray& x, const HostArray& y) {
    EXPECT_EQ(x.dtype, y.dtype);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.bytes, y.bytes);
  };
  same(r.read("f32"), f32);
  same(r.read("f64"), f64);
  same(r.read("ints/i64"), i64);
  same(r.read("masks/b"), b);
  same(r.read("scalar"), scalar);
  same(r.read("empty"), empty);
  same(r.read("/grad/params/weight_ih_l0"), f64);
  EXPECT_EQ(r.dtype("masks/b"), DType::Bool);
  EXPECT_EQ(r.shape("ints/i64"), (std::vector<std::int64_t>{2, 1, 2}));

  EXPECT_EQ(r.list("/"), (std::vector<std::string>{"empty", "f32", "f64", "grad", "ints",
                                                     "masks", "scalar"}));
  EXPECT_EQ(r.list("grad"), (std::vector<std::string>{"params"}));
  EXPECT_EQ(r.list("grad/params"),
            (std::vector<std::string>{"weight_hh_l0", "weight_ih_l0"}));
  EXPECT_TRUE(r.has("grad/params/weight_ih_l0"));
  EXPECT_TRUE(r.has("/"));
  EXPECT_FALSE(r.has("grad/params/nope"));
  EXPECT_FALSE(r.has("nope/deeper/still"));
  EXPECT_FALSE(r.has("f32/under_a_dataset"));
  EXPECT_TRUE(r.is_group("grad/params"));
  EXPECT_FALSE(r.is_group("f32"));
  EXPECT_TRUE(r.is_dataset("f32"));
  EXPECT_FALSE(r.is_dataset("grad"));

  // float32 <-> float64 on request, nothing else.
  HostArray up = r.read_as("f32", DType::Float64);
  ASSERT_EQ(up.dtype, DType::Float64);
  EXPECT_EQ(up.as<double>()[1], -2.25);
  EXPECT_EQ(up.as<double>()[2], static_cast<double>(3e-8f));
  HostArray down = r.read_as("f64", DType::Float32);
  ASSERT_EQ(down.dtype, DType::Float32);
  EXPECT_EQ(down.as<float>()[0], 0.1f);
  same(r.read_as("ints/i64", DType::Int64), i64);
  testing::expect_error_containing_all([&] { r.read_as("ints/i64", DType::Float64); },
               {"round.h5", "'ints/i64'", "int64", "float64"});

  // Missing objects and wrong kinds name the file and the object.
  testing::expect_error_containing_all([&] { r.read("grad/input"); }, {"round.h5", "no dataset 'grad/input'"});
  testing::expect_error_containing_all([&] { r.read("grad"); }, {"round.h5", "'grad' is a group"});
  testing::expect_error_containing_all([&] { r.list("f32"); }, {"round.h5", "'f32' is not a group"});
  testing::expect_error_containing_all([&] { r.list("nope"); }, {"round.h5", "no group 'nope'"});
  testing::expect_error_containing_all([&] { r.commit(); }, {"round.h5", "reading"});
}

TEST_F(Hdf5FileTest, Attributes) {
  const std::string path = file("attrs.h5");
  {
    Hdf5File w = Hdf5File::create_atomic(path);
    w.set_attr_string("/", "format", "rnn-reference-case/1");
    w.set_attr_string("", "unicode", "h\xC3\xA9llo \xE2\x9C\x93");  // UTF-8 "héllo ✓"
    w.set_attr_string("/", "empty", "");
    w.set_attr_int("/", "hidden_size", 20);
    w.set_attr_int("/", "big", -(std::int64_t{1} << 60));
    w.set_attr_double("/", "dropout", 0.25);
    w.set_attr_int("/", "replaced", 1);
    w.set_attr_string("/", "replaced", "now a string");
    w.write("params/weight_ih_l0", HostArray::zeros(DType::Float64, {4, 3}));
    w.set_attr_string("params/weight_ih_l0", "note", "on a dataset");
    w.create_group("meta/inner");
    w.create_group("meta/inner");  // idempotent
    w.set_attr_double("meta/inner", "x", -1.5);
    testing::expect_error_containing_all([&] { w.set_attr_int("missing", "a", 1); }, {"attrs.h5", "no object 'missing'"});
    testing::expect_error_containing_all([&] { w.create_group("params/weight_ih_l0"); }, {"a dataset is there"});
    w.commit();
  }
  Hdf5File r = Hdf5File::open_read(path);
  EXPECT_EQ(r.attr_string("/", "format"), "rnn-reference-case/1");
  EXPECT_EQ(r.attr_string("/", "unicode"), "h\xC3\xA9llo \xE2\x9C\x93");
  EXPECT_EQ(r.attr_string("/", "empty"), "");
  EXPECT_EQ(r.attr_int("/", "hidden_size"), 20);
  EXPECT_EQ(r.attr_int("/", "big"), -(std::int64_t{1} << 60));
  EXPECT_EQ(r.attr_double("/", "dropout"), 0.25);
  EXPECT_EQ(r.attr_double("/", "hidden_size"), 20.0);  // integers read as reals
  EXPECT_EQ(r.attr_string("/", "replaced"), "now a string");
  EXPECT_EQ(r.attr_string("params/weight_ih_l0", "note"), "on a dataset");
  EXPECT_EQ(r.attr_double("/meta/inner", "x"), -1.5);
  EXPECT_TRUE(r.has_attr("/", "format"));
  EXPECT_FALSE(r.has_attr("/", "nope"));
  EXPECT_FALSE(r.has_attr("missing/object", "format"));
  EXPECT_EQ(r.attr_names("/"), (std::vector<std::string>{"big", "dropout", "empty", "format",
                                                          "hidden_size", "replaced", "unicode"}));
  EXPECT_EQ(r.list("meta"), (std::vector<std::string>{"inner"}));

  testing::expect_error_containing_all([&] { r.attr_int("/", "format"); },
               {"attribute 'format'", "attrs.h5", "a string, expected an integer"});
  testing::expect_error_containing_all([&] { r.attr_string("/", "hidden_size"); },
               {"attribute 'hidden_size'", "an integer, expected a string"});
  testing::expect_error_containing_all([&] { r.attr_int("/", "dropout"); }, {"'dropout'", "a float, expected an integer"});
  testing::expect_error_containing_all([&] { r.attr_double("/", "format"); }, {"a string, expected a float"});
  testing::expect_error_containing_all([&] { r.attr_string("/", "nope"); }, {"attrs.h5", "no attribute 'nope'"});
  testing::expect_error_containing_all([&] { r.attr_string("ghost", "format"); }, {"attrs.h5", "no object 'ghost'"});
  testing::expect_error_containing_all([&] { r.read("params/weight_ih_l0/x"); }, {"no dataset 'params/weight_ih_l0/x'"});
}

TEST_F(Hdf5FileTest, AtomicWriteLeavesNothingWithoutCommit) {
  const std::string path = file("atomic.h5");
  {
    Hdf5File w = Hdf5File::create_atomic(path);
    w.write("x", HostArray::from<double>({2}, {1, 2}));
    EXPECT_FALSE(fs::exists(path)) << "the target must not appear before commit()";
    EXPECT_EQ(entries().size(), 1u) << "one temporary while writing";
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(entries().empty()) << "the temporary must be removed";

  // An exception thrown while writing leaves nothing either.
  try {
    Hdf5File w = Hdf5File::create_atomic(path);
    w.write("x", HostArray::from<double>({2}, {1, 2}));
    throw std::runtime_error("crash while writing");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(entries().empty());

  // Moving the object carries the obligation along.
  {
    Hdf5File a = Hdf5File::create_atomic(path);
    Hdf5File b = std::move(a);
    b.write("y", HostArray::from<double>({1}, {7}));
    b.commit();
  }
  EXPECT_EQ(entries(), (std::vector<std::string>{"atomic.h5"}));
}

TEST_F(Hdf5FileTest, AtomicWriteKeepsTheOldFileUntilCommit) {
  const std::string path = file("keep.h5");
  {
    Hdf5File w = Hdf5File::create_atomic(path);
    w.write("v", HostArray::from<double>({1}, {1.0}));
    w.set_attr_string("/", "version", "old");
    w.commit();
  }
  {
    Hdf5File w = Hdf5File::create_atomic(path);
    w.write("v", HostArray::from<double>({1}, {2.0}));
    w.set_attr_string("/", "version", "new");
    // Abandoned: the old file must still be there, whole.
  }
  {
    Hdf5File r = Hdf5File::open_read(path);
    EXPECT_EQ(r.attr_string("/", "version"), "old");
    EXPECT_EQ(r.read("v").as<double>()[0], 1.0);
  }
  EXPECT_EQ(entries(), (std::vector<std::string>{"keep.h5"}));
  {
    Hdf5File w = Hdf5File::create_atomic(path);
    w.write("v", HostArray::from<double>({1}, {2.0}));
    w.set_attr_string("/", "version", "new");
    w.commit();
    testing::expect_error_containing_all([&] { w.commit(); }, {"keep.h5", "twice"});
  }
  Hdf5File r = Hdf5File::open_read(path);
  EXPECT_EQ(r.attr_string("/", "version"), "new");
  EXPECT_EQ(r.read("v").as<double>()[0], 2.0);
  EXPECT_EQ(entries(), (std::vector<std::string>{"keep.h5"}));
}

TEST_F(Hdf5FileTest, RefusesMissingTruncatedAndForeignFiles) {
  const std::string missing = file("missing.h5");
  testing::expect_error_containing_all([&] { Hdf5File::open_read(missing); },
               {"cannot open HDF5 file '" + missing + "'", "no such file"});
  testing::expect_error_containing_all([&] { Hdf5File::open_read(dir_.string()); }, {"cannot open HDF5 file", "directory"});
  testing::expect_error_containing_all([&] { Hdf5File::create_atomic(file("no/such/folder/x.h5")); },
               {"cannot create HDF5 file", "does not exist"});

  // A valid file, then its first half.
  const std::string whole = file("whole.h5");
  {
    Hdf5File w = Hdf5File::create_atomic(whole);
    std::vector<double> v(4096);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
    w.write("data", HostArray::from<double>({4096}, v));
    w.set_attr_string("/", "format", "x");
    w.commit();
  }
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 4096u * 8);
  const std::string half = file("half.h5");
  std::ofstream(half, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
  testing::expect_error_containing_all([&] { Hdf5File::open_read(half); },
               {"cannot open HDF5 file '" + half + "'", "truncated or damaged"});

  const std::string text = file("notes.h5");
  std::ofstream(text) << "this is not an HDF5 file\n";
  testing::expect_error_containing_all([&] { Hdf5File::open_read(text); },
               {"cannot open HDF5 file '" + text + "'", "not an HDF5 file"});
  const std::string empty = file("empty.h5");
  std::ofstream(empty).close();
  testing::expect_error_containing_all([&] { Hdf5File::open_read(empty); }, {"not an HDF5 file"});
}

// The shared PyTorch reference cases (../shared/fixtures), written by h5py.
// The expected values below were read independently with h5py 3.7 / HDF5
// 1.10.8 (`/usr/bin/python3 -c "import h5py; f = h5py.File(...); ..."`).
TEST_F(Hdf5FileTest, ReadsSharedPyTorchCases) {
  const std::string shared = loom::testing::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: shared fixtures not checked";
  const std::string dir = shared + "/fixtures/";

  {
    Hdf5File f = Hdf5File::open_read(dir + "lstm_basic.h5");
    // From h5py: format 'rnn-reference-case/1', mode 'LSTM', hidden_size 20,
    // num_layers 2, proj_size 0, dropout 0.0, source 'torch 1.13.0a0'.
    EXPECT_EQ(f.attr_string("/", "format"), "rnn-reference-case/1");
    EXPECT_EQ(f.attr_string("/", "mode"), "LSTM");
    EXPECT_EQ(f.attr_int("/", "hidden_size"), 20);
    EXPECT_EQ(f.attr_int("/", "num_layers"), 2);
    EXPECT_EQ(f.attr_int("/", "proj_size"), 0);
    EXPECT_EQ(f.attr_double("/", "dropout"), 0.0);
    EXPECT_EQ(f.attr_string("/", "source"), "torch 1.13.0a0");
    // From h5py: grad/params/weight_ih_l0 (80, 10) float64; input (5, 3, 10);
    // params/weight_ih_l0[0, 0] = -0.15296856112597607, input[0, 0, 0] =
    // 0.7025131678119307.
    EXPECT_EQ(f.shape("grad/params/weight_ih_l0"), (std::vector<std::int64_t>{80, 10}));
    HostArray x = f.read("input");
    EXPECT_EQ(x.dtype, DType::Float64);
    EXPECT_EQ(x.shape, (std::vector<std::int64_t>{5, 3, 10}));
    EXPECT_EQ(x.as<double>()[0], 0.7025131678119307);
    EXPECT_EQ(f.read("params/weight_ih_l0").as<double>()[0], -0.15296856112597607);
    EXPECT_EQ(f.read_as("input", DType::Float32).as<float>()[0], 0.7025131678119307f);
    // From h5py: list(f['params']).
    EXPECT_EQ(f.list("params"),
              (std::vector<std::string>{"bias_hh_l0", "bias_hh_l1", "bias_ih_l0", "bias_ih_l1",
                                        "weight_hh_l0", "weight_hh_l1", "weight_ih_l0",
                                        "weight_ih_l1"}));
    testing::expect_error_containing_all([&] { f.attr_int("/", "mode"); }, {"lstm_basic.h5", "'mode'", "a string"});
    testing::expect_error_containing_all([&] { f.read("lengths"); }, {"lstm_basic.h5", "no dataset 'lengths'"});
  }
  {
    Hdf5File f = Hdf5File::open_read(dir + "lstm_packed_bf.h5");
    // From h5py: mode 'LSTM', layout 'packed', hidden_size 7, batch_first 1,
    // lengths int64 [6, 2, 5, 1], input (4, 6, 4), top-level keys as below.
    EXPECT_EQ(f.attr_string("/", "mode"), "LSTM");
    EXPECT_EQ(f.attr_string("/", "layout"), "packed");
    EXPECT_EQ(f.attr_int("/", "hidden_size"), 7);
    EXPECT_EQ(f.attr_int("/", "batch_first"), 1);
    HostArray len = f.read("lengths");
    ASSERT_EQ(len.dtype, DType::Int64);
    EXPECT_EQ(std::vector<std::int64_t>(len.as<std::int64_t>().begin(),
                                        len.as<std::int64_t>().end()),
              (std::vector<std::int64_t>{6, 2, 5, 1}));
    EXPECT_EQ(f.shape("input"), (std::vector<std::int64_t>{4, 6, 4}));
    EXPECT_EQ(f.list("/"), (std::vector<std::string>{"c0", "c_n", "grad", "grad_c_n",
                                                      "grad_h_n", "grad_output", "h0", "h_n",
                                                      "input", "lengths", "output", "params"}));
    EXPECT_EQ(f.list("grad"), (std::vector<std::string>{"c0", "h0", "input", "params"}));
  }
  {
    Hdf5File f = Hdf5File::open_read(dir + "gru_basic.h5");
    // From h5py: mode 'GRU', hidden_size 10, input_size 6.
    EXPECT_EQ(f.attr_string("/", "mode"), "GRU");
    EXPECT_EQ(f.attr_int("/", "hidden_size"), 10);
    EXPECT_EQ(f.attr_int("/", "input_size"), 6);
  }
  {
    Hdf5File f = Hdf5File::open_read(dir + "lstm_proj_bidir.h5");
    // From h5py: proj_size 3, bidirectional 1, weight_hr_l1_reverse (3, 8).
    EXPECT_EQ(f.attr_int("/", "proj_size"), 3);
    EXPECT_EQ(f.attr_int("/", "bidirectional"), 1);
    EXPECT_EQ(f.shape("params/weight_hr_l1_reverse"), (std::vector<std::int64_t>{3, 8}));
  }
}

}  // namespace
}  // namespace loom
