// Regression tests for what tools/fuzz_readers.cc (loom-fuzz-readers) found in
// loom's file readers. Each file in tests/data/damaged/ is an input the
// fuzzer produced (seed 1; the index is in its comment) that the readers
// mishandled before the fix named in the test; each must now be refused with
// a loom::Error naming the file and the problem. Also: files loom writes use
// the HDF5 1.10 format, whose metadata checksums turn damage into a refusal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/hdf5_file.h"
#include "core/tensor_io.h"
#include "nn/checkpoint.h"
#include "nn/reference_case.h"
#include "testing.h"

namespace loom {
namespace {

using testing::expect_error_containing_all;
using testing::source_path;

std::string damaged(const std::string& name) { return source_path("tests/data/damaged/" + name); }

void expect_refused(const std::function<void()>& read, const std::string& path,
                    const std::string& problem) {
  expect_error_containing_all(read, {path, problem});
}

void load(const std::string& path) { load_tensors(path); }
void load_ck(const std::string& path) { nn::load_checkpoint(path); }
void run_case(const std::string& path) {
  nn::run_reference_case(path, kCPU, kFloat64, nn::ReferenceTolerance::for_dtype(kFloat64));
}

// Index 45 (8 bytes overwritten in a symbol table): a group whose child is
// the group itself. load_tensors recursed until the stack overflowed (SIGSEGV).
TEST(DamagedFiles, TensorFileWithALinkCycleIsRefused) {
  std::string f = damaged("tensors_link_cycle.h5");
  expect_refused([&] { load(f); }, f, "is reached twice (a link cycle");
}

// Index 107 (8 bytes overwritten in a dataspace message): a shape whose element
// count overflows 64 bits. Reading threw std::length_error, not loom::Error.
TEST(DamagedFiles, TensorFileWithAnOverflowingShapeIsRefused) {
  std::string f = damaged("tensors_shape_overflow.h5");
  expect_refused([&] { load(f); }, f, "too large to be a tensor");
}

// Index 68: a dataset re-declared as 2^31 + 1 chunked elements with no chunk
// stored. Reading allocated 8 GB of fill values (std::bad_alloc).
TEST(DamagedFiles, TensorFileWithMissingChunksIsRefusedBeforeAllocating) {
  std::string f = damaged("tensors_huge_chunked.h5");
  expect_refused([&] { load(f); }, f, "is incomplete: 0 of its 2147483649 chunks are stored");
}

// Index 128: an Adam state tensor re-declared as [200000, 3000] with one
// element per chunk and none stored. Loading ran past the fuzzer's 10 s limit
// (HDF5 walks 600 million missing chunks).
TEST(DamagedFiles, CheckpointWithMissingChunksIsRefusedQuickly) {
  std::string f = damaged("checkpoint_missing_chunks.h5");
  expect_refused([&] { load_ck(f); }, "cannot load checkpoint '" + f + "'",
                 "'optimizer/tensors/state.0.exp_avg' is incomplete: 0 of its 600000000 chunks");
}

// Index 171 (5 bytes overwritten in h0's dataspace): the layer refused the
// initial state with a message that did not say which file held it.
TEST(DamagedFiles, ReferenceCaseRefusalsNameTheFile) {
  std::string f = damaged("reference_state_shape.h5");
  expect_refused([&] { run_case(f); }, "reference case '" + f + "'", "Expected hidden[0] size");
}

// Index 187: proj_size = 2^32 on a GRU case. The module was built from the
// attributes first (a damaged hidden_size of 2^40 would allocate terabytes);
// now the sizes are checked against the stored parameters beforehand.
TEST(DamagedFiles, ReferenceCaseSizesAreCheckedAgainstTheStoredParameters) {
  std::string f = damaged("reference_proj_size.h5");
  expect_refused([&] { run_case(f); }, f,
                 "params/weight_hh_l0 has shape [9, 3], but the attributes (mode GRU, input_size 2, "
                 "hidden_size 3, proj_size 4294967296) imply [3 * 3, 4294967296]");
}

class WrittenFormat : public testing::TempDirTest {};

std::vector<char> bytes_of_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Files loom writes have a version-3 superblock (HDF5 1.10 format: checksummed
// superblock, object headers and B-trees), and damage to an object header is
// caught by its checksum. The old format (superblock 0, what h5py writes by
// default) has no metadata checksums; damage there reached libhdf5 1.10
// crashes (H5HG_read on a damaged global heap, invalid frees of damaged
// dense-link heaps), which the fuzzer found in files loom wrote before.
TEST_F(WrittenFormat, MetadataCarriesChecksumsThatCatchDamage) {
  std::string path = file("t.h5");
  save_tensors(path, {{"a", randn({3, 4})}, {"g/b", tensor_int64({1, 2}, {2})}});
  std::vector<char> b = bytes_of_file(path);
  ASSERT_GT(b.size(), 16u);
  EXPECT_EQ(std::memcmp(b.data(), "\x89HDF\r\n\x1a\n", 8), 0);
  EXPECT_EQ(static_cast<int>(b[8]), 3) << "superblock version";

  // Flip one byte inside every object header (signature "OHDR") in turn.
  int headers = 0;
  for (std::size_t i = 0; i + 4 <= b.size(); ++i) {
    if (std::memcmp(b.data() + i, "OHDR", 4) != 0) continue;
    ++headers;
    std::vector<char> copy = b;
    copy[i + 8] ^= 0x40;
    std::string broken = file("broken" + std::to_string(headers) + ".h5");
    std::ofstream(broken, std::ios::binary).write(copy.data(), static_cast<std::streamsize>(copy.size()));
    expect_refused([&] { load(broken); }, broken, "checksum");
  }
  EXPECT_GE(headers, 3) << "root group, group g and the datasets each have an object header";
}

// String attributes are fixed-length (kept in the checksummed object header,
// not the unchecksummed global heap) and read back as written.
TEST_F(WrittenFormat, StringAttributesRoundTrip) {
  std::string path = file("s.h5");
  {
    Hdf5File f = Hdf5File::create_atomic(path);
    f.set_attr_string("/", "empty", "");
    f.set_attr_string("/", "text", "lstm.weight_ih_l0\nlstm.bias\n\xc3\xa9");
    f.commit();
  }
  Hdf5File f = Hdf5File::open_read(path);
  EXPECT_EQ(f.attr_string("/", "empty"), "");
  EXPECT_EQ(f.attr_string("/", "text"), "lstm.weight_ih_l0\nlstm.bias\n\xc3\xa9");
}

}  // namespace
}  // namespace loom
