// Test helpers that damage HDF5 files the way disks, copies and people do:
// they find where a dataset's values lie in the file (through HDF5's own API,
// not through loom) and flip bits, zero or overwrite bytes there, or delete
// an object. Header-only; tests/CMakeLists.txt gives loom_tests HDF5's include
// path. Every helper throws std::runtime_error when it cannot do its job, so
// that a test never passes on damage that was not done.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace loom::testing {

// One stretch of a file: `size` bytes from `offset`.
struct Extent {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// Where the stored values of dataset `dataset` lie in the file at `path`: one
// extent per allocated chunk (chunked layout, filtered size), or the
// contiguous block (H5Dget_offset). Empty for compact layout (the values are
// inside the object header) and for datasets without storage.
inline std::vector<Extent> data_extents(const std::string& path, const std::string& dataset) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) throw std::runtime_error("data_extents: cannot open " + path);
  hid_t ds = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
  if (ds < 0) {
    H5Fclose(file);
    throw std::runtime_error("data_extents: no dataset " + dataset + " in " + path);
  }
  std::vector<Extent> out;
  hid_t dcpl = H5Dget_create_plist(ds);
  H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_CHUNKED) {
    hid_t space = H5Dget_space(ds);
    hsize_t n = 0;
    H5Dget_num_chunks(ds, space, &n);
    for (hsize_t i = 0; i < n; ++i) {
      std::vector<hsize_t> coords(16);
      unsigned mask = 0;
      haddr_t addr = 0;
      hsize_t size = 0;
      if (H5Dget_chunk_info(ds, space, i, coords.data(), &mask, &addr, &size) >= 0)
        out.push_back({static_cast<std::uint64_t>(addr), static_cast<std::uint64_t>(size)});
    }
    H5Sclose(space);
  } else if (layout == H5D_CONTIGUOUS) {
    haddr_t addr = H5Dget_offset(ds);
    if (addr != HADDR_UNDEF) out.push_back({addr, H5Dget_storage_size(ds)});
  }
  H5Pclose(dcpl);
  H5Dclose(ds);
  H5Fclose(file);
  return out;
}

// The bytes of the file at `path` (for finding a value's position).
inline std::vector<unsigned char> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("read_file_bytes: cannot open " + path);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

// Replaces the bytes at `offset` with `bytes`; throws when that would not
// change the file (so damage is always real) or runs past its end.
inline void overwrite_bytes(const std::string& path, std::uint64_t offset,
                            const std::vector<unsigned char>& bytes) {
  std::vector<unsigned char> all = read_file_bytes(path);
  if (offset + bytes.size() > all.size()) throw std::runtime_error("overwrite_bytes: past the end");
  bool changed = false;
  for (std::size_t i = 0; i < bytes.size(); ++i) changed |= all[offset + i] != bytes[i];
  if (!changed) throw std::runtime_error("overwrite_bytes: the bytes are already there");
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("overwrite_bytes: cannot write " + path);
}

// Flips bit `bit` (0-7) of the byte at `offset`.
inline void flip_bit(const std::string& path, std::uint64_t offset, int bit) {
  std::vector<unsigned char> all = read_file_bytes(path);
  if (offset >= all.size()) throw std::runtime_error("flip_bit: past the end");
  overwrite_bytes(path, offset, {static_cast<unsigned char>(all[offset] ^ (1u << bit))});
}

// Deletes the link `object` (a dataset or group) from the file, as h5py's
// `del f[name]` does.
inline void delete_object(const std::string& path, const std::string& object) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) throw std::runtime_error("delete_object: cannot open " + path);
  herr_t rc = H5Ldelete(file, object.c_str(), H5P_DEFAULT);
  H5Fclose(file);
  if (rc < 0) throw std::runtime_error("delete_object: cannot delete " + object);
}

}  // namespace loom::testing
