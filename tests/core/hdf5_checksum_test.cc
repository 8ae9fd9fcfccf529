// Tests for the checksums of core/hdf5_file.h (and so of core/tensor_io.h):
// what is written (HDF5 1.10 format, Fletcher32 on chunked data, compact
// scalars, checked through HDF5's own API), that h5py-style files without
// checksums still read, and that damage inside a dataset's values (bit flip,
// zeroed block, overwritten block; located with H5Dget_chunk_info) or inside a
// scalar's object header is refused with a loom::Error naming the file and
// the dataset.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/hdf5_file.h"
#include "core/tensor_io.h"
#include "hdf5_damage.h"
#include "testing.h"

namespace loom {
namespace {

class Hdf5ChecksumTest : public testing::TempDirTest {};

// float64 [n] with values 0.5 + i, none of whose 16-bit words is 0x0000 or
// 0xFFFF in the damaged areas below (Fletcher32's blind spot, see hdf5_file.h).
HostArray ramp(std::vector<std::int64_t> shape) {
  HostArray a = HostArray::zeros(DType::Float64, std::move(shape));
  auto v = a.as<double>();
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.5 + 1.1 * static_cast<double>(i);
  return a;
}

// Writes a file holding one dataset of every kind.
void write_kinds(const std::string& path) {
  Hdf5File f = Hdf5File::create_atomic(path);
  f.write("w", ramp({4, 64}));
  f.write("g/f32", HostArray::from<float>({3}, {1.5f, -2.25f, 3.0f}));
  f.write("i", HostArray::from<std::int64_t>({2}, {7, -9}));
  f.write("mask", HostArray::from<bool>({3}, {true, false, true}));
  f.write("s", HostArray::from<double>({}, {0.123456789012345}));
  f.write("empty", HostArray::zeros(DType::Float32, {0, 5}));
  f.write("big", ramp({3, 700000}));  // 16.8 MB: several chunks
  f.commit();
}

// Layout and filters of a dataset, read through HDF5 itself.
struct RawLayout {
  H5D_layout_t layout = H5D_LAYOUT_ERROR;
  bool fletcher32 = false;
  std::vector<hsize_t> chunk;
};

RawLayout raw_layout(const std::string& path, const std::string& name) {
  RawLayout r;
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t ds = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  hid_t dcpl = H5Dget_create_plist(ds);
  r.layout = H5Pget_layout(dcpl);
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0, config = 0;
    std::size_t n = 0;
    if (H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &n, nullptr, 0, nullptr, &config) ==
        H5Z_FILTER_FLETCHER32)
      r.fletcher32 = true;
  }
  if (r.layout == H5D_CHUNKED) {
    r.chunk.resize(static_cast<std::size_t>(H5Pget_chunk(dcpl, 0, nullptr)));
    H5Pget_chunk(dcpl, static_cast<int>(r.chunk.size()), r.chunk.data());
  }
  H5Pclose(dcpl);
  H5Dclose(ds);
  H5Fclose(file);
  return r;
}

unsigned superblock_version(const std::string& path) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  H5F_info2_t info;
  H5Fget_info2(file, &info);
  H5Fclose(file);
  return info.super.version;
}

TEST_F(Hdf5ChecksumTest, EveryDatasetIsWrittenWithAChecksum) {
  write_kinds(file("k.h5"));
  // HDF5's own view: 1.10 format, Fletcher32 on every chunked dataset.
  EXPECT_EQ(superblock_version(file("k.h5")), 3u);
  for (const char* name : {"w", "g/f32", "i", "mask", "big"}) {
    RawLayout r = raw_layout(file("k.h5"), name);
    EXPECT_EQ(r.layout, H5D_CHUNKED) << name;
    EXPECT_TRUE(r.fletcher32) << name;
  }
  EXPECT_EQ(raw_layout(file("k.h5"), "w").chunk, (std::vector<hsize_t>{4, 64}));  // one chunk
  EXPECT_EQ(raw_layout(file("k.h5"), "big").chunk, (std::vector<hsize_t>{1, 524288}));  // 4 MiB
  EXPECT_EQ(testing::data_extents(file("k.h5"), "big").size(), 6u);
  // The CRC-32 of the stored bytes, as zlib computes it (see crc32_test.cc).
  for (const char* name : {"w", "g/f32", "i", "mask", "s", "big"}) {
    Hdf5File f = Hdf5File::open_read(file("k.h5"));
    ASSERT_TRUE(f.has_attr(name, "crc32")) << name;
  }
  EXPECT_FALSE(Hdf5File::open_read(file("k.h5")).has_attr("empty", "crc32"));
  EXPECT_EQ(Hdf5File::open_read(file("k.h5")).attr_int("g/f32", "crc32"),
            // zlib.crc32(numpy.array([1.5, -2.25, 3.0], '<f4').tobytes())
            0x9e842318);
  EXPECT_EQ(raw_layout(file("k.h5"), "s").layout, H5D_COMPACT);
  EXPECT_FALSE(raw_layout(file("k.h5"), "s").fletcher32);
  EXPECT_TRUE(testing::data_extents(file("k.h5"), "empty").empty());

  // loom's view agrees, and the values round-trip.
  Hdf5File f = Hdf5File::open_read(file("k.h5"));
  EXPECT_TRUE(f.metadata_checksummed());
  for (const char* name : {"w", "g/f32", "i", "mask", "s", "empty", "big"})
    EXPECT_TRUE(f.checksummed(name)) << name;
  EXPECT_EQ(f.read("big").bytes, ramp({3, 700000}).bytes);
  EXPECT_EQ(f.read("w").bytes, ramp({4, 64}).bytes);
  EXPECT_EQ(f.read("s").as<double>()[0], 0.123456789012345);
  EXPECT_EQ(f.read("mask").as<bool>()[1], false);
  EXPECT_EQ(f.shape("empty"), (std::vector<std::int64_t>{0, 5}));
}

TEST_F(Hdf5ChecksumTest, GroupsKeepTheirLinksInTheirObjectHeaders) {
  {
    Hdf5File f = Hdf5File::create_atomic(file("many.h5"));
    for (int i = 0; i < 40; ++i) f.write("g/sub/x" + std::to_string(i), ramp({2}));
    f.commit();
  }
  hid_t h = H5Fopen(file("many.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  for (const char* group : {"/", "g", "g/sub"}) {
    hid_t g = H5Gopen2(h, group, H5P_DEFAULT);
    H5G_info_t info;
    ASSERT_GE(H5Gget_info(g, &info), 0);
    EXPECT_EQ(info.storage_type, H5G_STORAGE_TYPE_COMPACT) << group;
    if (std::string(group) == "g/sub") EXPECT_EQ(info.nlinks, 40u);
    H5Gclose(g);
  }
  H5Fclose(h);
  EXPECT_EQ(Hdf5File::open_read(file("many.h5")).list("g/sub").size(), 40u);
}

TEST_F(Hdf5ChecksumTest, FilesWithoutChecksumsStillRead) {
  // What h5py writes by default: the earliest file format, contiguous data.
  {
    hid_t h = H5Fcreate(file("plain.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[1] = {3};
    hid_t space = H5Screate_simple(1, dims, nullptr);
    hid_t ds = H5Dcreate2(h, "x", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double v[3] = {1, 2, 3};
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(space);
    H5Fclose(h);
  }
  Hdf5File f = Hdf5File::open_read(file("plain.h5"));
  EXPECT_FALSE(f.metadata_checksummed());
  EXPECT_FALSE(f.checksummed("x"));
  EXPECT_EQ(f.read("x").as<double>()[2], 3.0);
}

// Copies k.h5 to `name`, applies `damage` to it, and expects reading dataset
// `dataset` to fail with the file's and the dataset's names; the other
// datasets must still read (damage is found where it is).
void expect_damage_refused(const std::string& clean, const std::string& copy,
                           const std::string& dataset,
                           const std::function<void(const std::string&)>& damage) {
  std::filesystem::copy_file(clean, copy);
  damage(copy);
  Hdf5File f = Hdf5File::open_read(copy);
  testing::expect_error_containing_all([&] { f.read(dataset); },
                                       {"HDF5 file '" + copy + "': checksum mismatch in ",
                                        "'" + dataset + "'", "the file is damaged"});
  for (const char* other : {"w", "g/f32", "i", "s"})
    if (other != dataset) EXPECT_NO_THROW(f.read(other)) << other;
}

TEST_F(Hdf5ChecksumTest, DamageInsideDataIsRefused) {
  write_kinds(file("k.h5"));
  const testing::Extent w = testing::data_extents(file("k.h5"), "w").at(0);
  ASSERT_EQ(w.size, 4u * 64u * 8u + 4u);  // the values and the 4-byte Fletcher32 sum
  // One bit in the middle of the values.
  expect_damage_refused(file("k.h5"), file("flip.h5"), "w",
                        [&](const std::string& p) { testing::flip_bit(p, w.offset + 1001, 3); });
  // 16 bytes zeroed.
  expect_damage_refused(file("k.h5"), file("zero.h5"), "w", [&](const std::string& p) {
    testing::overwrite_bytes(p, w.offset + 512, std::vector<unsigned char>(16, 0));
  });
  // 64 bytes overwritten with other bytes.
  expect_damage_refused(file("k.h5"), file("over.h5"), "w", [&](const std::string& p) {
    std::vector<unsigned char> junk(64);
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<unsigned char>(37 * i + 11);
    testing::overwrite_bytes(p, w.offset + 100, junk);
  });
  // The stored checksum itself.
  expect_damage_refused(file("k.h5"), file("sum.h5"), "w",
                        [&](const std::string& p) { testing::flip_bit(p, w.offset + w.size - 2, 0); });
  // The whole chunk zeroed, its Fletcher32 sum included: Fletcher32 of zeros
  // is 0, so only the 'crc32' attribute tells.
  expect_damage_refused(file("k.h5"), file("whole.h5"), "w", [&](const std::string& p) {
    testing::overwrite_bytes(p, w.offset, std::vector<unsigned char>(w.size, 0));
  });
  {
    Hdf5File f = Hdf5File::open_read(file("whole.h5"));
    testing::expect_error_containing([&] { f.read("w"); }, "(the values' CRC-32 is 0x");
  }
  // One bit in the fifth chunk of a large dataset.
  const testing::Extent big4 = testing::data_extents(file("k.h5"), "big").at(4);
  expect_damage_refused(file("k.h5"), file("big.h5"), "big",
                        [&](const std::string& p) { testing::flip_bit(p, big4.offset + 12345, 6); });
  // Small datasets of the other dtypes.
  for (const char* name : {"g/f32", "i", "mask"}) {
    const testing::Extent e = testing::data_extents(file("k.h5"), name).at(0);
    std::string copy = file(std::string("small_") + (name[0] == 'g' ? "f32" : name) + ".h5");
    expect_damage_refused(file("k.h5"), copy, name,
                          [&](const std::string& p) { testing::flip_bit(p, e.offset + 1, 0); });
  }
}

TEST_F(Hdf5ChecksumTest, DamageInsideAScalarsObjectHeaderIsRefused) {
  write_kinds(file("k.h5"));
  // The compact scalar's 8 bytes lie inside its object header: find them.
  const double value = 0.123456789012345;
  unsigned char pattern[8];
  std::memcpy(pattern, &value, 8);
  std::vector<unsigned char> bytes = testing::read_file_bytes(file("k.h5"));
  auto at = std::search(bytes.begin(), bytes.end(), pattern, pattern + 8);
  ASSERT_NE(at, bytes.end());
  ASSERT_EQ(std::search(at + 1, bytes.end(), pattern, pattern + 8), bytes.end());  // only once
  const auto offset = static_cast<std::uint64_t>(at - bytes.begin());
  expect_damage_refused(file("k.h5"), file("s.h5"), "s",
                        [&](const std::string& p) { testing::flip_bit(p, offset + 2, 5); });
}

TEST_F(Hdf5ChecksumTest, TensorFilesAreChecksummedToo) {
  save_tensors(file("t.h5"), {{"a/x", testing::random_tensor({5, 7}, 3)},
                              {"y", testing::random_tensor({}, 4, kFloat32)}});
  {
    Hdf5File f = Hdf5File::open_read(file("t.h5"));
    EXPECT_TRUE(f.metadata_checksummed());
    EXPECT_TRUE(f.checksummed("a/x"));
    EXPECT_TRUE(f.checksummed("y"));
  }
  EXPECT_EQ(load_tensors(file("t.h5")).size(), 2u);
  testing::flip_bit(file("t.h5"), testing::data_extents(file("t.h5"), "a/x").at(0).offset + 17, 1);
  testing::expect_error_containing_all([&] { load_tensors(file("t.h5")); },
                                       {"HDF5 file '" + file("t.h5") + "'",
                                        "checksum mismatch in dataset 'a/x'"});
}

}  // namespace
}  // namespace loom
