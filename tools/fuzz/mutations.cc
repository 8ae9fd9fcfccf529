// Seeded mutations of HDF5 files (see mutations.h).
#include "tools/fuzz/mutations.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/hdf5_file.h"

namespace loom::fuzz {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A small deterministic generator (splitmix64).
class Rng {
 public:
  explicit Rng(std::uint64_t key) : state_(key) {}
  std::uint64_t next() { return splitmix64(state_); }
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  std::uint64_t state_;
};

const std::vector<std::int64_t> kInts = {0,
                                         1,
                                         -1,
                                         2,
                                         3,
                                         7,
                                         255,
                                         (1LL << 31) - 1,
                                         1LL << 31,
                                         1LL << 32,
                                         1LL << 40,
                                         1LL << 62,
                                         std::numeric_limits<std::int64_t>::max(),
                                         std::numeric_limits<std::int64_t>::min()};
const std::vector<double> kDoubles = {std::numeric_limits<double>::quiet_NaN(),
                                      std::numeric_limits<double>::infinity(),
                                      -std::numeric_limits<double>::infinity(),
                                      0.0,
                                      -0.0,
                                      1e308,
                                      -1e308,
                                      5e-324,
                                      0.5,
                                      1.5,
                                      2.0,
                                      -3.0,
                                      1e19};
const std::vector<std::string> kStrings = {"",
                                           "LSTM",
                                           "GRU",
                                           "RNN_TANH",
                                           "RNN_RELU",
                                           "batched",
                                           "packed",
                                           "unbatched",
                                           "loom-checkpoint",
                                           "rnn-reference-case/1",
                                           "x\n\ny",
                                           "a/b",
                                           "..",
                                           "\n",
                                           std::string(5000, 'k')};

// ---- byte-level mutations ---------------------------------------------------------------------

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  LOOM_CHECK(in.good(), "loom-fuzz-readers: cannot read seed '{}'", path);
  std::vector<char> bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  LOOM_CHECK(in.good(), "loom-fuzz-readers: cannot read seed '{}'", path);
  return bytes;
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  LOOM_CHECK(out.good(), "loom-fuzz-readers: cannot write '{}'", path);
}

// Offsets of HDF5 metadata signatures in `b`.
std::vector<std::size_t> signature_offsets(const std::vector<char>& b) {
  static const char* sigs[] = {"\x89HDF", "TREE", "HEAP", "SNOD", "OHDR", "OCHK", "FRHP",
                               "FHDB", "FSHD", "BTHD", "BTLF", "GCOL", "FSSE"};
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i + 4 <= b.size(); ++i) {
    const char c = b[i];
    if (c != '\x89' && (c < 'B' || c > 'T')) continue;  // no signature starts here
    for (const char* s : sigs)
      if (c == s[0] && b[i + 1] == s[1] && b[i + 2] == s[2] && b[i + 3] == s[3]) out.push_back(i);
  }
  return out;
}

std::string byte_mutation(std::vector<char>& b, Rng& r) {
  if (b.empty()) return "empty file left empty";
  std::vector<std::size_t> sigs = signature_offsets(b);
  auto position = [&]() -> std::size_t {
    if (!sigs.empty() && r.chance(0.5))
      return std::min(b.size() - 1, r.pick(sigs) + static_cast<std::size_t>(r.below(96)));
    return static_cast<std::size_t>(r.below(b.size()));
  };
  std::size_t pos = position();
  switch (r.below(8)) {
    case 0: {
      int n = 1 + static_cast<int>(r.below(8));
      for (int i = 0; i < n; ++i) b[std::min(b.size() - 1, pos + r.below(32))] ^= static_cast<char>(1 << r.below(8));
      return fmt::format("{} bit flip(s) near byte {}", n, pos);
    }
    case 1: {
      static const unsigned char vals[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe};
      int n = 1 + static_cast<int>(r.below(8));
      for (int i = 0; i < n && pos + i < b.size(); ++i)
        b[pos + i] = static_cast<char>(r.chance(0.5) ? vals[r.below(6)] : r.below(256));
      return fmt::format("{} byte(s) overwritten at {}", n, pos);
    }
    case 2: {
      std::size_t n = std::min<std::size_t>(b.size() - pos, 1 + r.below(r.chance(0.3) ? 4096 : 512));
      std::fill_n(b.begin() + static_cast<std::ptrdiff_t>(pos), n, '\0');
      return fmt::format("{} byte(s) zeroed at {}", n, pos);
    }
    case 3: {
      std::size_t n = std::min<std::size_t>(b.size() - pos, 1 + r.below(512));
      char fill = r.chance(0.3) ? '\xff' : '\0';
      bool random = fill == '\0';
      for (std::size_t i = 0; i < n; ++i) b[pos + i] = random ? static_cast<char>(r.below(256)) : fill;
      return fmt::format("{} byte(s) overwritten with {} at {}", n, random ? "random bytes" : "0xff", pos);
    }
    case 4: {
      std::size_t at = r.chance(0.2) ? b.size() - 1 - r.below(std::min<std::size_t>(b.size(), 64)) : pos;
      b.resize(at);
      return fmt::format("truncated to {} bytes", at);
    }
    case 5: {
      std::size_t n = 1 + r.below(16);
      std::vector<char> ins(n);
      for (char& c : ins) c = static_cast<char>(r.below(256));
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), ins.begin(), ins.end());
      return fmt::format("{} random byte(s) inserted at {}", n, pos);
    }
    case 6: {
      std::size_t n = std::min<std::size_t>(b.size() - pos, 1 + r.below(64));
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos), b.begin() + static_cast<std::ptrdiff_t>(pos + n));
      return fmt::format("{} byte(s) deleted at {}", n, pos);
    }
    default: {
      std::int64_t v = r.chance(0.8) ? r.pick(kInts) : static_cast<std::int64_t>(b.size() + r.below(64));
      std::size_t at = std::min(pos, b.size() >= 8 ? b.size() - 8 : 0);
      for (int i = 0; i < 8 && at + i < b.size(); ++i) b[at + i] = static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
      return fmt::format("8-byte value {} written at {}", v, at);
    }
  }
}

// ---- structured mutations (HDF5 C API) ----------------------------------------------------------

// One attribute of a seed: where, its name, and its value when it is a string.
struct SeedAttr {
  std::string object, name;
  enum Kind { String, Integer, Other } kind = Other;
  std::string text;  // String: the value
};

// What a seed file holds, read once (prepare_seed) and reused by every mutation.
struct Inventory {
  std::vector<std::string> datasets, groups;  // paths, groups without the root
  std::vector<SeedAttr> attributes;
};

void add_attrs(const Hdf5File& f, const std::string& object, Inventory& inv) {
  for (const std::string& a : f.attr_names(object)) {
    SeedAttr attr{object, a};
    try {
      attr.text = f.attr_string(object, a);
      attr.kind = SeedAttr::String;
    } catch (const Error&) {
      try {
        f.attr_int(object, a);
        attr.kind = SeedAttr::Integer;
      } catch (const Error&) {
      }
    }
    inv.attributes.push_back(attr);
  }
}

void walk(const Hdf5File& f, const std::string& group, Inventory& inv) {
  add_attrs(f, group, inv);
  for (const std::string& child : f.list(group)) {
    std::string path = group == "/" ? "/" + child : group + "/" + child;
    if (f.is_group(path)) {
      inv.groups.push_back(path);
      walk(f, path, inv);
    } else {
      inv.datasets.push_back(path);
      add_attrs(f, path, inv);
    }
  }
}

// An HDF5 id closed at scope exit.
struct Id {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Id() {
    if (id >= 0) close(id);
  }
};

std::string parent_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::vector<hsize_t> dataset_dims(hid_t file, const std::string& path) {
  Id ds{H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose};
  if (ds.id < 0) return {};
  Id sp{H5Dget_space(ds.id), H5Sclose};
  int rank = H5Sget_simple_extent_ndims(sp.id);
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(sp.id, dims.data(), nullptr);
  return dims;
}

// Replaces whatever is at `path` by a new dataset; `data` (in `mem_type`) may be null.
bool make_dataset(hid_t file, const std::string& path, hid_t type, hid_t space, hid_t dcpl,
                  hid_t mem_type = -1, const void* data = nullptr) {
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  Id lcpl{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
  H5Pset_create_intermediate_group(lcpl.id, 1);
  Id ds{H5Dcreate2(file, path.c_str(), type, space, lcpl.id, dcpl, H5P_DEFAULT), H5Dclose};
  if (ds.id < 0) return false;
  if (data != nullptr && H5Dwrite(ds.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) return false;
  return true;
}

std::string other_dtype(hid_t file, const std::string& path, Rng& r) {
  std::vector<hsize_t> dims = dataset_dims(file, path);
  Id space{dims.empty() ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
           H5Sclose};
  std::string what;
  hid_t type = -1;
  Id owned{-1, H5Tclose};
  switch (r.below(13)) {
    case 0: type = H5T_STD_I32LE; what = "int32"; break;
    case 1: type = H5T_STD_U64LE; what = "uint64"; break;
    case 2: type = H5T_STD_U16BE; what = "uint16 big-endian"; break;
    case 3: type = H5T_IEEE_F32BE; what = "float32 big-endian"; break;
    case 4: type = H5T_IEEE_F64BE; what = "float64 big-endian"; break;
    case 5: type = H5T_STD_I8LE; what = "int8"; break;
    case 6: owned.id = H5Tcopy(H5T_C_S1); H5Tset_size(owned.id, 7); type = owned.id; what = "7-byte string"; break;
    case 7: owned.id = H5Tcopy(H5T_C_S1); H5Tset_size(owned.id, H5T_VARIABLE); type = owned.id; what = "variable-length string"; break;
    case 8:
      owned.id = H5Tcreate(H5T_COMPOUND, 16);
      H5Tinsert(owned.id, "a", 0, H5T_IEEE_F64LE);
      H5Tinsert(owned.id, "b", 8, H5T_IEEE_F64LE);
      type = owned.id; what = "compound"; break;
    case 9: {
      hsize_t adims[1] = {2};
      owned.id = H5Tarray_create2(H5T_IEEE_F64LE, 1, adims);
      type = owned.id; what = "array of 2 float64"; break;
    }
    case 10: owned.id = H5Tcreate(H5T_OPAQUE, 8); type = owned.id; what = "opaque"; break;
    case 11: {
      owned.id = H5Tenum_create(H5T_STD_I8LE);
      signed char v0 = 0, v1 = 1;
      H5Tenum_insert(owned.id, "FALSE", &v0);
      H5Tenum_insert(owned.id, "TRUE", &v1);
      type = owned.id; what = "bool enum"; break;
    }
    default: type = H5T_STD_REF_OBJ; what = "object reference"; break;
  }
  bool ok = make_dataset(file, path, type, space.id, H5P_DEFAULT);
  return fmt::format("dataset '{}' -> dtype {}{}", path, what, ok ? "" : " (failed)");
}

std::string other_shape(hid_t file, const std::string& path, Rng& r) {
  std::vector<hsize_t> dims = dataset_dims(file, path);
  switch (r.below(6)) {
    case 0: dims.push_back(1 + r.below(3)); break;
    case 1: if (!dims.empty()) dims.pop_back(); break;
    case 2: if (!dims.empty()) dims[r.below(dims.size())] += 1; break;
    case 3: if (!dims.empty()) { auto& d = dims[r.below(dims.size())]; d = d > 1 ? d - 1 : 2; } break;
    case 4: std::reverse(dims.begin(), dims.end()); if (dims.size() < 2) dims.push_back(2); break;
    default: dims.assign(32, 1); break;
  }
  hsize_t n = 1;
  for (hsize_t d : dims)
    if (d != 0 && n > (hsize_t{1} << 20) / d) n = hsize_t{1} << 21;  // (an earlier mutation made it huge)
    else n *= d;
  if (n > (hsize_t{1} << 20)) dims = {2, 3}, n = 6;
  std::vector<double> data(static_cast<std::size_t>(n));
  for (double& v : data) v = static_cast<double>(static_cast<std::int64_t>(r.below(2000)) - 1000) / 100.0;
  Id space{dims.empty() ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
           H5Sclose};
  bool ok = make_dataset(file, path, H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5T_NATIVE_DOUBLE,
                         n > 0 ? data.data() : nullptr);
  std::vector<unsigned long long> shown(dims.begin(), dims.end());
  return fmt::format("dataset '{}' -> float64 shape [{}]{}", path, fmt::join(shown, ", "), ok ? "" : " (failed)");
}

std::string huge_dims(hid_t file, const std::string& path, Rng& r) {
  static const std::vector<std::vector<hsize_t>> shapes = {
      {(1ULL << 31) + 1},
      {1ULL << 33},
      {1ULL << 40},
      {1ULL << 62},
      {(1ULL << 63) + 5},
      {1ULL << 32, 1ULL << 32},
      {1ULL << 20, 1ULL << 20, 1ULL << 20, 1ULL << 20},
      {3, 1ULL << 61},
      {1ULL << 16, 4},
      {200000, 3000},
  };
  std::vector<hsize_t> dims = r.pick(shapes);
  std::vector<hsize_t> chunk(dims.size(), 1);
  Id space{H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
  Id dcpl{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
  H5Pset_chunk(dcpl.id, static_cast<int>(chunk.size()), chunk.data());
  hid_t type = r.chance(0.5) ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
  bool ok = space.id >= 0 && make_dataset(file, path, type, space.id, dcpl.id);
  std::vector<unsigned long long> shown(dims.begin(), dims.end());
  return fmt::format("dataset '{}' -> huge chunked shape [{}]{}", path, fmt::join(shown, ", "), ok ? "" : " (failed)");
}

std::string empty_dataset(hid_t file, const std::string& path, Rng& r) {
  std::vector<hsize_t> dims = dataset_dims(file, path);
  Id space{-1, H5Sclose};
  std::string what;
  switch (r.below(4)) {
    case 0: space.id = H5Screate(H5S_NULL); what = "a null dataspace"; break;
    case 1: { hsize_t d = 0; space.id = H5Screate_simple(1, &d, nullptr); what = "shape [0]"; break; }
    case 2:
      if (dims.empty()) dims.push_back(0);
      dims[r.below(dims.size())] = 0;
      space.id = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
      what = "a zero dimension";
      break;
    default: space.id = H5Screate(H5S_SCALAR); what = "a scalar (unwritten)"; break;
  }
  bool ok = make_dataset(file, path, H5T_IEEE_F64LE, space.id, H5P_DEFAULT);
  return fmt::format("dataset '{}' -> {}{}", path, what, ok ? "" : " (failed)");
}

std::string extreme_values(hid_t file, const std::string& path, Rng& r) {
  Id ds{H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose};
  if (ds.id < 0) return fmt::format("values of '{}' (failed: no dataset)", path);
  Id type{H5Dget_type(ds.id), H5Tclose};
  Id space{H5Dget_space(ds.id), H5Sclose};
  hssize_t n = H5Sget_simple_extent_npoints(space.id);
  if (n <= 0 || n > (1 << 20)) return fmt::format("values of '{}' (skipped: {} elements)", path, n);
  bool all = r.chance(0.3);
  if (H5Tget_class(type.id) == H5T_FLOAT) {
    std::vector<double> v(static_cast<std::size_t>(n));
    H5Dread(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    double x = r.pick(kDoubles);
    if (all) std::fill(v.begin(), v.end(), x);
    else v[r.below(v.size())] = x;
    bool ok = H5Dwrite(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0;
    return fmt::format("{} of '{}' set to {}{}", all ? "all values" : "one value", path, x, ok ? "" : " (failed)");
  }
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  H5Dread(ds.id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  std::int64_t x = r.pick(kInts);
  if (all) std::fill(v.begin(), v.end(), x);
  else v[r.below(v.size())] = x;
  // HDF5 clamps out-of-range values into smaller integer types.
  bool ok = H5Dwrite(ds.id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0;
  return fmt::format("{} of '{}' set to {}{}", all ? "all values" : "one value", path, x, ok ? "" : " (failed)");
}

// Creates (replacing) attribute `name` on `object` with a type/value chosen by `r`.
std::string set_attribute(hid_t file, const std::string& object, const std::string& name, Rng& r,
                          int kind) {
  Id obj{H5Oopen(file, object.c_str(), H5P_DEFAULT), H5Oclose};
  if (obj.id < 0) return fmt::format("attribute '{}' of '{}' (failed: no object)", name, object);
  H5Adelete(obj.id, name.c_str());
  std::string what;
  bool ok = false;
  auto scalar = [&](hid_t type, const void* value) {
    Id space{H5Screate(H5S_SCALAR), H5Sclose};
    Id a{H5Acreate2(obj.id, name.c_str(), type, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
    ok = a.id >= 0 && H5Awrite(a.id, type, value) >= 0;
  };
  switch (kind) {
    case 0: { std::int64_t v = r.pick(kInts); scalar(H5T_NATIVE_INT64, &v); what = fmt::format("int64 {}", v); break; }
    case 1: { double v = r.pick(kDoubles); scalar(H5T_NATIVE_DOUBLE, &v); what = fmt::format("float64 {}", v); break; }
    case 2: {
      std::string s = r.pick(kStrings);
      Id t{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(t.id, H5T_VARIABLE);
      H5Tset_cset(t.id, H5T_CSET_UTF8);
      const char* p = s.c_str();
      scalar(t.id, &p);
      what = fmt::format("string \"{}\"", s.size() > 20 ? s.substr(0, 20) + "..." : s);
      break;
    }
    case 3: {
      std::string s = r.pick(kStrings);
      Id t{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(t.id, std::max<std::size_t>(s.size(), 1));
      H5Tset_strpad(t.id, r.chance(0.5) ? H5T_STR_NULLPAD : H5T_STR_SPACEPAD);
      std::string buf = s.empty() ? std::string(1, ' ') : s;
      scalar(t.id, buf.data());
      what = fmt::format("fixed-length string of {} bytes", buf.size());
      break;
    }
    case 4: {
      hsize_t d = r.chance(0.5) ? 3 : 0;
      Id space{H5Screate_simple(1, &d, nullptr), H5Sclose};
      Id a{H5Acreate2(obj.id, name.c_str(), H5T_NATIVE_INT64, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      std::int64_t v[3] = {1, 2, 3};
      ok = a.id >= 0 && (d == 0 || H5Awrite(a.id, H5T_NATIVE_INT64, v) >= 0);
      what = fmt::format("int64 array of {}", d);
      break;
    }
    case 5: {
      Id space{H5Screate(H5S_NULL), H5Sclose};
      Id a{H5Acreate2(obj.id, name.c_str(), H5T_NATIVE_INT64, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      ok = a.id >= 0;
      what = "null dataspace";
      break;
    }
    default: {
      Id t{H5Tcreate(H5T_COMPOUND, 8), H5Tclose};
      H5Tinsert(t.id, "x", 0, H5T_NATIVE_DOUBLE);
      double v = 1;
      scalar(t.id, &v);
      what = "compound";
      break;
    }
  }
  return fmt::format("attribute '{}' of '{}' -> {}{}", name, object, what, ok ? "" : " (failed)");
}

// The same attribute class with another value; a "keys" list gets line edits.
std::string attribute_value(const SeedAttr& attr, hid_t file, Rng& r) {
  const std::string& object = attr.object;
  const std::string& name = attr.name;
  const std::string& text = attr.text;
  if (attr.kind != SeedAttr::String)
    return set_attribute(file, object, name, r, attr.kind == SeedAttr::Integer ? 0 : 1);
  if (name != "keys") return set_attribute(file, object, name, r, 2);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    std::size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::string what;
  std::size_t i = r.below(lines.size());
  switch (r.below(5)) {
    case 0: lines.push_back(lines[i]); what = "a key listed twice"; break;
    case 1: lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i)); what = "a key dropped"; break;
    case 2: std::swap(lines[i], lines[r.below(lines.size())]); what = "two keys swapped"; break;
    case 3: lines.push_back(r.chance(0.5) ? "ghost" : ""); what = "an extra key"; break;
    default: lines[i] += "x"; what = "a key renamed"; break;
  }
  std::string joined = fmt::format("{}", fmt::join(lines, "\n"));
  Id obj{H5Oopen(file, object.c_str(), H5P_DEFAULT), H5Oclose};
  H5Adelete(obj.id, name.c_str());
  Id t{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(t.id, H5T_VARIABLE);
  H5Tset_cset(t.id, H5T_CSET_UTF8);
  Id space{H5Screate(H5S_SCALAR), H5Sclose};
  Id a{H5Acreate2(obj.id, name.c_str(), t.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  const char* p = joined.c_str();
  bool ok = a.id >= 0 && H5Awrite(a.id, t.id, &p) >= 0;
  return fmt::format("attribute '{}' of '{}': {}{}", name, object, what, ok ? "" : " (failed)");
}

std::string add_object(hid_t file, const Inventory& inv, Rng& r) {
  std::vector<std::string> groups = inv.groups;
  groups.push_back("");
  std::string where = r.pick(groups) + "/extra" + std::to_string(r.below(3));
  if (r.chance(0.5)) {
    Id lcpl{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
    H5Pset_create_intermediate_group(lcpl.id, 1);
    Id g{H5Gcreate2(file, where.c_str(), lcpl.id, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    return fmt::format("extra group '{}'{}", where, g.id >= 0 ? "" : " (failed)");
  }
  hsize_t d = 2;
  double v[2] = {1, 2};
  Id space{H5Screate_simple(1, &d, nullptr), H5Sclose};
  bool ok = make_dataset(file, where, H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5T_NATIVE_DOUBLE, v);
  return fmt::format("extra dataset '{}'{}", where, ok ? "" : " (failed)");
}

std::string link_mutation(hid_t file, const Inventory& inv, const std::string& self, Rng& r) {
  std::vector<std::string> objects = inv.datasets;
  objects.insert(objects.end(), inv.groups.begin(), inv.groups.end());
  std::string at = r.chance(0.6) && !objects.empty() ? r.pick(objects)
                                                     : r.pick(inv.groups.empty() ? std::vector<std::string>{""} : inv.groups) + "/linked";
  H5Ldelete(file, at.c_str(), H5P_DEFAULT);
  herr_t rc = -1;
  std::string what;
  switch (r.below(5)) {
    case 0: rc = H5Lcreate_soft("/no/such/object", file, at.c_str(), H5P_DEFAULT, H5P_DEFAULT); what = "a dangling soft link"; break;
    case 1: rc = H5Lcreate_soft("/", file, at.c_str(), H5P_DEFAULT, H5P_DEFAULT); what = "a soft link to the root (a cycle)"; break;
    case 2: rc = H5Lcreate_hard(file, parent_of(at).c_str(), file, at.c_str(), H5P_DEFAULT, H5P_DEFAULT); what = "a hard link to its parent group (a cycle)"; break;
    case 3: rc = H5Lcreate_external("/no/such/file.h5", "/", file, at.c_str(), H5P_DEFAULT, H5P_DEFAULT); what = "an external link to a missing file"; break;
    default: {
      std::string target = r.chance(0.5) ? self : std::string("/dev/zero");
      rc = H5Lcreate_external(target.c_str(), "/", file, at.c_str(), H5P_DEFAULT, H5P_DEFAULT);
      what = "an external link to " + (target == self ? std::string("the file itself") : target);
      break;
    }
  }
  return fmt::format("'{}' -> {}{}", at, what, rc >= 0 ? "" : " (failed)");
}

std::string swap_kind(hid_t file, const Inventory& inv, Rng& r) {
  if (!inv.groups.empty() && r.chance(0.4)) {
    std::string g = r.pick(inv.groups);
    hsize_t d = 1;
    double v = 0;
    Id space{H5Screate_simple(1, &d, nullptr), H5Sclose};
    bool ok = make_dataset(file, g, H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5T_NATIVE_DOUBLE, &v);
    return fmt::format("group '{}' -> a dataset{}", g, ok ? "" : " (failed)");
  }
  if (inv.datasets.empty()) return "no dataset to swap";
  std::string ds = r.pick(inv.datasets);
  H5Ldelete(file, ds.c_str(), H5P_DEFAULT);
  Id g{H5Gcreate2(file, ds.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
  return fmt::format("dataset '{}' -> an empty group{}", ds, g.id >= 0 ? "" : " (failed)");
}

std::string structured_mutation(const Inventory& inv, hid_t file, const std::string& self, Rng& r) {
  const bool has_ds = !inv.datasets.empty(), has_attr = !inv.attributes.empty();
  for (;;) {
    switch (r.below(12)) {
      case 0: {
        std::vector<std::string> objects = inv.datasets;
        objects.insert(objects.end(), inv.groups.begin(), inv.groups.end());
        if (objects.empty()) break;
        std::string p = r.pick(objects);
        herr_t rc = H5Ldelete(file, p.c_str(), H5P_DEFAULT);
        return fmt::format("'{}' deleted{}", p, rc >= 0 ? "" : " (failed)");
      }
      case 1: {
        if (!has_attr) break;
        const SeedAttr& a = r.pick(inv.attributes);
        herr_t rc = H5Adelete_by_name(file, a.object.c_str(), a.name.c_str(), H5P_DEFAULT);
        return fmt::format("attribute '{}' of '{}' deleted{}", a.name, a.object, rc >= 0 ? "" : " (failed)");
      }
      case 2: if (has_ds) return other_dtype(file, r.pick(inv.datasets), r); break;
      case 3: if (has_ds) return other_shape(file, r.pick(inv.datasets), r); break;
      case 4: if (has_ds) return huge_dims(file, r.pick(inv.datasets), r); break;
      case 5: if (has_ds) return empty_dataset(file, r.pick(inv.datasets), r); break;
      case 6:
      case 7: if (has_ds) return extreme_values(file, r.pick(inv.datasets), r); break;
      case 8: {
        if (!has_attr) break;
        const SeedAttr& a = r.pick(inv.attributes);
        return set_attribute(file, a.object, a.name, r, static_cast<int>(r.below(7)));
      }
      case 9: {
        if (!has_attr) break;
        return attribute_value(r.pick(inv.attributes), file, r);
      }
      case 10: return r.chance(0.5) ? add_object(file, inv, r) : link_mutation(file, inv, self, r);
      default: return swap_kind(file, inv, r);
    }
  }
}

// Silences HDF5's error printing while a mutation runs.
struct Quiet {
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  Quiet() {
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~Quiet() { H5Eset_auto2(H5E_DEFAULT, func, data); }
};

// The inventory of each seed file, read on first use.
const Inventory& inventory(const std::string& seed_file) {
  static std::map<std::string, Inventory> cache;
  auto it = cache.find(seed_file);
  if (it != cache.end()) return it->second;
  Hdf5File seed = Hdf5File::open_read(seed_file);
  Inventory inv;
  walk(seed, "/", inv);
  return cache.emplace(seed_file, std::move(inv)).first->second;
}

}  // namespace

void prepare_seed(const std::string& seed_file) { inventory(seed_file); }

std::uint64_t mutation_key(std::uint64_t seed, std::uint64_t reader_tag, std::uint64_t index) {
  std::uint64_t s = seed;
  std::uint64_t a = splitmix64(s);
  s = a ^ (reader_tag * 0x9e3779b97f4a7c15ULL);
  std::uint64_t b = splitmix64(s);
  s = b ^ index;
  return splitmix64(s);
}

std::string mutate(const std::string& seed_file, const std::string& out_path, std::uint64_t key) {
  Rng r(key);
  // 1 to 3 mutations: structured ones first (they need a readable file), then byte-level ones.
  int count = r.chance(0.7) ? 1 : r.chance(0.67) ? 2 : 3;
  int structured = 0;
  for (int i = 0; i < count; ++i) structured += r.chance(0.55) ? 1 : 0;
  std::vector<std::string> done;
  std::filesystem::copy_file(seed_file, out_path, std::filesystem::copy_options::overwrite_existing);
  if (structured > 0) {
    const Inventory& inv = inventory(seed_file);
    Quiet quiet;
    hid_t file = H5Fopen(out_path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    LOOM_CHECK(file >= 0, "loom-fuzz-readers: cannot open the copy '{}'", out_path);
    for (int i = 0; i < structured; ++i) done.push_back(structured_mutation(inv, file, out_path, r));
    H5Fclose(file);
  }
  if (count > structured) {
    std::vector<char> bytes = read_bytes(out_path);
    for (int i = structured; i < count; ++i) done.push_back(byte_mutation(bytes, r));
    write_bytes(out_path, bytes);
  }
  return fmt::format("{}", fmt::join(done, "; "));
}

}  // namespace loom::fuzz
