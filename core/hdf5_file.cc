// HDF5 reading and writing on raw host arrays (see hdf5_file.h).
#include "core/hdf5_file.h"

#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <filesystem>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

#include "core/crc32.h"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <unistd.h>
#define LOOM_HAVE_FSYNC 1
#endif

namespace loom {

static_assert(std::is_same_v<hid_t, std::int64_t>, "Hdf5File stores hid_t as int64_t");
// The 'crc32' attribute is over the stored little-endian bytes, which are the
// host's bytes only on a little-endian host.
static_assert(std::endian::native == std::endian::little, "loom's HDF5 I/O assumes a little-endian host");

// The dataset attribute holding the CRC-32 of the stored values (see hdf5_file.h).
constexpr const char* kCrcAttribute = "crc32";

namespace {

namespace fs = std::filesystem;

// ---- HDF5 plumbing ---------------------------------------------------------------------------

// Silences HDF5's automatic error printing for the lifetime of the guard and
// clears the error stack, so that hdf5_detail() sees only this call's errors.
// The previous handler is restored afterwards.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    H5Eclear2(H5E_DEFAULT);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// The innermost description on HDF5's error stack ("truncated file: eof =
// ..."), or "" when the stack is empty.
std::string hdf5_detail() {
  std::string innermost;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        if (e->desc != nullptr && e->desc[0] != '\0') *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &innermost);
  H5Eclear2(H5E_DEFAULT);
  return innermost;
}

// " (HDF5: <detail>)" or "".
std::string detail_suffix() {
  std::string d = hdf5_detail();
  return d.empty() ? std::string() : " (HDF5: " + d + ")";
}

// True when HDF5's error stack holds a checksum failure: the Fletcher32
// filter's on a chunk of data ("data error detected by Fletcher32 checksum")
// or a metadata checksum's ("incorrect metadata checksum ..."). The stack is
// left as it is.
bool stack_has_checksum_error() {
  bool found = false;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        if (e->desc != nullptr && (std::strstr(e->desc, "checksum") != nullptr ||
                                   std::strstr(e->desc, "Fletcher32") != nullptr))
          *static_cast<bool*>(data) = true;
        return 0;
      },
      &found);
  return found;
}

// Throws "HDF5 file '<file>': checksum mismatch in <what>: the file is
// damaged (HDF5: ...)" when the error stack holds a checksum failure; returns
// (stack untouched) otherwise.
void fail_if_checksum_error(const std::string& file_path, const std::string& what) {
  if (stack_has_checksum_error())
    fail("HDF5 file '{}': checksum mismatch in {}: the file is damaged{}", file_path, what,
         detail_suffix());
}

// An owned HDF5 identifier, closed by the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, -1)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, -1);
      close_ = o.close_;
    }
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// "a/b/c" from "/a/b/c", "a//b/", ...; "" is the root.
std::string normalize(const std::string& path) {
  std::string out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      if (!out.empty()) out += '/';
      out.append(path, i, j - i);
    }
    i = j + 1;
  }
  return out;
}

// The HDF5 name for a normalized path ("/" for the root).
std::string h5name(const std::string& normalized) {
  return normalized.empty() ? std::string("/") : normalized;
}

// "'grad/input'" or "the root group", for messages.
std::string describe(const std::string& normalized) {
  return normalized.empty() ? std::string("the root group") : "'" + normalized + "'";
}

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "an integer";
    case H5T_FLOAT: return "a float";
    case H5T_STRING: return "a string";
    case H5T_BITFIELD: return "a bitfield";
    case H5T_OPAQUE: return "an opaque type";
    case H5T_COMPOUND: return "a compound";
    case H5T_REFERENCE: return "a reference";
    case H5T_ENUM: return "an enum";
    case H5T_VLEN: return "a variable-length sequence";
    case H5T_ARRAY: return "an array type";
    default: return "an unknown type";
  }
}

// IEEE binary16, little-endian: the HDF5 float type h5py writes and reads as
// numpy.float16 (sign bit 15, exponent bits 10-14, mantissa bits 0-9, bias 15).
// Made once, kept for the life of the process.
hid_t ieee_f16le() {
  static const hid_t type = [] {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
  }();
  return type;
}

// True when the 2-byte float type `t` is IEEE binary16.
bool is_ieee_f16(hid_t t) {
  std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  if (H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
  return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 && H5Tget_ebias(t) == 15;
}

// bfloat16 has no HDF5 (or numpy) type: its raw bits are stored as uint16 and
// the dataset carries the string attribute loom_dtype = "bfloat16". uint8
// tensors are stored as uint8 tagged loom_dtype = "uint8": an untagged uint8
// dataset is a bool (how loom has always stored bool).
constexpr const char* kDTypeAttr = "loom_dtype";

// Memory (native) type for a dtype, and the little-endian file type.
hid_t native_type(DType t) {
  switch (t) {
    case DType::Float32: return H5T_NATIVE_FLOAT;
    case DType::Float64: return H5T_NATIVE_DOUBLE;
    case DType::Int64: return H5T_NATIVE_INT64;
    case DType::Bool: return H5T_NATIVE_UINT8;
    case DType::BFloat16: return H5T_NATIVE_UINT16;
    case DType::Float16: return ieee_f16le();  // loom runs on little-endian hosts only
    case DType::Int32: return H5T_NATIVE_INT32;
    case DType::UInt8: return H5T_NATIVE_UINT8;
  }
  return -1;
}
hid_t file_type(DType t) {
  switch (t) {
    case DType::Float32: return H5T_IEEE_F32LE;
    case DType::Float64: return H5T_IEEE_F64LE;
    case DType::Int64: return H5T_STD_I64LE;
    case DType::Bool: return H5T_STD_U8LE;
    case DType::BFloat16: return H5T_STD_U16LE;
    case DType::Float16: return ieee_f16le();
    case DType::Int32: return H5T_STD_I32LE;
    case DType::UInt8: return H5T_STD_U8LE;
  }
  return -1;
}

// A group creation property list that keeps up to 65535 links in the group's
// object header (compact storage, covered by its checksum) instead of moving
// them to a fractal heap past 8: HDF5 1.10.8 crashes (a double free in
// H5G__link_release_table) on some damaged dense link storage. An invalid
// handle when HDF5 refuses.
Handle compact_links_gcpl() {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  if (gcpl.ok() && H5Pset_link_phase_change(gcpl.get(), 65535, 65535) < 0) gcpl.reset();
  return gcpl;
}

// The chunk shape for a dataset of `dims` (every dimension > 0) whose
// elements take `element_bytes`: whole trailing dimensions as long as they
// fit in about kChunkBytes, then part of the next one, and 1 for the rest.
// A dataset up to kChunkBytes is one chunk (one Fletcher32 checksum).
constexpr std::size_t kChunkBytes = std::size_t{4} << 20;
std::vector<hsize_t> chunk_shape(const std::vector<hsize_t>& dims, std::size_t element_bytes) {
  std::vector<hsize_t> chunk(dims.size(), 1);
  hsize_t room = std::max<hsize_t>(1, kChunkBytes / std::max<std::size_t>(element_bytes, 1));
  for (std::size_t d = dims.size(); d-- > 0;) {
    chunk[d] = std::min(dims[d], room);
    room = std::max<hsize_t>(1, room / chunk[d]);
  }
  return chunk;
}

// The value of string attribute `name` of object `obj`, or "" when it is
// absent or not a string.
std::string string_attr_or_empty(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return "";
  Handle attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return "";
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (!type.ok() || H5Tget_class(type.get()) != H5T_STRING) return "";
  // One string only: H5Aread fills one per element of the attribute's dataspace.
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!space.ok() || H5Sget_simple_extent_type(space.get()) == H5S_NULL ||
      H5Sget_simple_extent_npoints(space.get()) != 1)
    return "";
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
  std::string value;
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Tset_size(mem.get(), H5T_VARIABLE);
    char* p = nullptr;
    if (H5Aread(attr.get(), mem.get(), &p) < 0) return "";
    if (p != nullptr) {
      value = p;
      H5free_memory(p);
    }
  } else {
    std::size_t size = H5Tget_size(type.get());
    H5Tset_size(mem.get(), size + 1);
    H5Tset_strpad(mem.get(), H5T_STR_NULLTERM);
    std::string buf(size + 1, '\0');
    if (H5Aread(attr.get(), mem.get(), buf.data()) < 0) return "";
    value.assign(buf.c_str());
  }
  return value;
}

// Writes the fixed-length UTF-8 string attribute `name` = `value` (non-empty)
// on `obj`: in the checksummed object header, like set_attr_string's texts
// (a variable-length string would live in the unchecksummed global heap).
// False on failure.
bool put_string_attr(hid_t obj, const char* name, const char* value) {
  const std::size_t size = std::strlen(value);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (size == 0 || !type.ok() || !space.ok() || H5Tset_size(type.get(), size) < 0 ||
      H5Tset_strpad(type.get(), H5T_STR_NULLPAD) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
    return false;
  Handle attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return attr.ok() && H5Awrite(attr.get(), type.get(), value) >= 0;
}

// Syncs a file or folder to disk; best effort (errors are ignored: the data
// was written, only its durability across a power cut is at stake).
void fsync_path(const std::string& path) {
#ifdef LOOM_HAVE_FSYNC
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
#else
  (void)path;
#endif
}

}  // namespace

// ---- HostArray -------------------------------------------------------------------------------

std::string shape_string(std::span<const std::int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

HostArray HostArray::zeros(DType dtype, std::vector<std::int64_t> shape) {
  for (std::int64_t d : shape)
    LOOM_CHECK(d >= 0, "HostArray: negative dimension in shape {}", shape_string(shape));
  HostArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.bytes.assign(a.nbytes(), std::byte{0});
  return a;
}

std::int64_t HostArray::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

void HostArray::validate() const {
  for (std::int64_t d : shape)
    LOOM_CHECK(d >= 0, "HostArray: negative dimension in shape {}", shape_string(shape));
  LOOM_CHECK(bytes.size() == nbytes(), "HostArray: {} {} needs {} bytes, holds {}", dtype,
             shape_string(shape), nbytes(), bytes.size());
}

HostArray HostArray::to(DType target) const {
  validate();
  if (target == dtype) return *this;
  LOOM_CHECK(is_floating(dtype) && is_floating(target),
             "HostArray::to: cannot convert {} to {} (only between floating dtypes)", dtype, target);
  HostArray out = zeros(target, shape);
  const std::size_t n = static_cast<std::size_t>(numel());
  dispatch_floating_and_half(dtype, "HostArray::to", [&](auto from_tag) {
    using From = decltype(from_tag);
    dispatch_floating_and_half(target, "HostArray::to", [&](auto to_tag) {
      using To = decltype(to_tag);
      auto src = as<From>();
      auto dst = out.as<To>();
      for (std::size_t i = 0; i < n; ++i) dst[i] = convert<To>(src[i]);  // as Tensor::to
    });
  });
  return out;
}

// ---- Hdf5File: lifetime ------------------------------------------------------------------------

Hdf5File::Hdf5File(std::string path, std::string temp_path, std::int64_t id, bool writable)
    : path_(std::move(path)), temp_path_(std::move(temp_path)), id_(id), writable_(writable) {}

Hdf5File::Hdf5File(Hdf5File&& o) noexcept
    : path_(std::move(o.path_)),
      temp_path_(std::move(o.temp_path_)),
      id_(std::exchange(o.id_, -1)),
      writable_(o.writable_),
      committed_(o.committed_) {}

Hdf5File& Hdf5File::operator=(Hdf5File&& o) noexcept {
  if (this != &o) {
    close_noexcept();
    path_ = std::move(o.path_);
    temp_path_ = std::move(o.temp_path_);
    id_ = std::exchange(o.id_, -1);
    writable_ = o.writable_;
    committed_ = o.committed_;
  }
  return *this;
}

Hdf5File::~Hdf5File() { close_noexcept(); }

void Hdf5File::close_noexcept() noexcept {
  if (id_ >= 0) {
    QuietErrors quiet;
    H5Fclose(id_);
    id_ = -1;
  }
  if (writable_ && !committed_ && !temp_path_.empty()) {
    std::error_code ec;
    fs::remove(temp_path_, ec);
    temp_path_.clear();
  }
}

Hdf5File Hdf5File::open_read(const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) fail("cannot open HDF5 file '{}': no such file", path);
  if (fs::is_directory(st)) fail("cannot open HDF5 file '{}': it is a directory", path);
  QuietErrors quiet;
  htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 == 0) fail("cannot open HDF5 file '{}': not an HDF5 file", path);
  if (is_h5 < 0) fail("cannot open HDF5 file '{}': cannot read it{}", path, detail_suffix());
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0)
    fail("cannot open HDF5 file '{}': the file is truncated or damaged{}", path, detail_suffix());
  return Hdf5File(path, "", id, false);
}

Hdf5File Hdf5File::create_atomic(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail("cannot create HDF5 file '{}': folder '{}' does not exist", path, dir.string());
  if (target.filename().empty()) fail("cannot create HDF5 file '{}': no file name", path);
#ifdef LOOM_HAVE_FSYNC
  long pid = static_cast<long>(::getpid());
#else
  long pid = 0;
#endif
  std::string temp = (dir / fmt::format(".{}.tmp-{}-{}", target.filename().string(), pid,
                                        counter.fetch_add(1)))
                         .string();
  QuietErrors quiet;
  // The HDF5 1.10 file format: superblock version 3 and version-2 object
  // headers, every piece of metadata with a checksum (see hdf5_file.h).
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.ok() || H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110) < 0)
    fail("cannot create HDF5 file '{}': cannot select the HDF5 1.10 file format{}", path,
         detail_suffix());
  // The root group keeps its links compact too (see compact_links_gcpl()).
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  if (!fcpl.ok() || H5Pset_link_phase_change(fcpl.get(), 65535, 65535) < 0)
    fail("cannot create HDF5 file '{}': cannot set up its root group{}", path, detail_suffix());
  hid_t id = H5Fcreate(temp.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get());
  if (id < 0)
    fail("cannot create HDF5 file '{}': cannot create the temporary '{}'{}", path, temp,
         detail_suffix());
  return Hdf5File(path, temp, id, true);
}

void Hdf5File::commit() {
  LOOM_CHECK(writable_, "HDF5 file '{}': commit() on a file opened for reading", path_);
  LOOM_CHECK(!committed_, "HDF5 file '{}': commit() called twice", path_);
  require_open("commit");
  {
    QuietErrors quiet;
    herr_t rc = H5Fclose(id_);
    id_ = -1;
    if (rc < 0) {
      std::string why = detail_suffix();
      close_noexcept();  // removes the temporary
      fail("cannot write HDF5 file '{}': closing the temporary '{}' failed{}", path_, temp_path_,
           why);
    }
  }
  fsync_path(temp_path_);
  std::error_code ec;
  fs::rename(temp_path_, path_, ec);
  if (ec) {
    std::string temp = temp_path_;
    close_noexcept();
    fail("cannot write HDF5 file '{}': renaming '{}' over it failed: {}", path_, temp,
         ec.message());
  }
  committed_ = true;
  fs::path dir = fs::path(path_).parent_path();
  fsync_path(dir.empty() ? std::string(".") : dir.string());
  temp_path_.clear();
}

void Hdf5File::require_open(const char* what) const {
  LOOM_CHECK(id_ >= 0, "HDF5 file '{}': {}: the file is closed{}", path_, what,
             committed_ ? " (it was committed)" : "");
}

void Hdf5File::require_writable(const char* what) const {
  require_open(what);
  LOOM_CHECK(writable_, "HDF5 file '{}': {}: the file is open for reading only", path_, what);
}

// ---- Hdf5File: objects -----------------------------------------------------------------------

bool Hdf5File::has(const std::string& path) const {
  require_open("has");
  std::string p = normalize(path);
  if (p.empty()) return true;
  QuietErrors quiet;
  // H5Lexists fails on a path whose parent is missing, so walk the prefixes.
  std::size_t pos = 0;
  while (true) {
    std::size_t slash = p.find('/', pos);
    std::string prefix = p.substr(0, slash);
    htri_t exists = H5Lexists(id_, prefix.c_str(), H5P_DEFAULT);
    if (exists < 0) fail_if_checksum_error(path_, "the links to " + describe(prefix));
    if (exists <= 0) return false;
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  // The link may dangle (soft link); an object must open.
  hid_t obj = H5Oopen(id_, p.c_str(), H5P_DEFAULT);
  if (obj < 0) {
    fail_if_checksum_error(path_, "the object header of " + describe(p));
    return false;
  }
  H5Oclose(obj);
  return true;
}

namespace {
// H5I_GROUP / H5I_DATASET / ... for an existing path, H5I_BADID otherwise.
H5I_type_t object_kind(hid_t file, const std::string& normalized) {
  hid_t obj = H5Oopen(file, h5name(normalized).c_str(), H5P_DEFAULT);
  if (obj < 0) return H5I_BADID;
  H5I_type_t t = H5Iget_type(obj);
  H5Oclose(obj);
  return t;
}
}  // namespace

std::uint64_t Hdf5File::object_address(const std::string& path) const {
  require_open("object_address");
  std::string p = normalize(path);
  QuietErrors quiet;
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  haddr_t addr = HADDR_UNDEF;
  if (H5Oget_info_by_name3(id_, h5name(p).c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
      H5VLnative_token_to_addr(id_, info.token, &addr) < 0)
    fail("HDF5 file '{}': no object {}{}", path_, describe(p), detail_suffix());
  return addr;
#else
  H5O_info_t info;
  if (H5Oget_info_by_name2(id_, h5name(p).c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    fail("HDF5 file '{}': no object {}{}", path_, describe(p), detail_suffix());
  return info.addr;
#endif
}

bool Hdf5File::is_group(const std::string& path) const {
  if (!has(path)) return false;
  QuietErrors quiet;
  return object_kind(id_, normalize(path)) == H5I_GROUP;
}

bool Hdf5File::is_dataset(const std::string& path) const {
  if (!has(path)) return false;
  QuietErrors quiet;
  return object_kind(id_, normalize(path)) == H5I_DATASET;
}

std::vector<std::string> Hdf5File::list(const std::string& group) const {
  require_open("list");
  std::string g = normalize(group);
  if (!has(g)) fail("HDF5 file '{}': no group {}", path_, describe(g));
  QuietErrors quiet;
  Handle gid(H5Gopen2(id_, h5name(g).c_str(), H5P_DEFAULT), H5Gclose);
  if (!gid.ok()) {
    fail_if_checksum_error(path_, "the object header of group " + describe(g));
    fail("HDF5 file '{}': {} is not a group", path_, describe(g));
  }
  H5G_info_t info;
  if (H5Gget_info(gid.get(), &info) < 0) {
    fail_if_checksum_error(path_, "the links of group " + describe(g));
    fail("HDF5 file '{}': cannot list group {}{}", path_, describe(g), detail_suffix());
  }
  std::vector<std::string> names;
  names.reserve(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(gid.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0,
                                   H5P_DEFAULT);
    if (n < 0) {
      fail_if_checksum_error(path_, "the links of group " + describe(g));
      fail("HDF5 file '{}': cannot list group {}{}", path_, describe(g), detail_suffix());
    }
    std::string name(static_cast<std::size_t>(n) + 1, '\0');
    H5Lget_name_by_idx(gid.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(n));
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// ---- Hdf5File: datasets ----------------------------------------------------------------------

namespace {

// An open dataset with what read() needs to know about it.
struct OpenDataset {
  Handle dataset, type, space;
  DType dtype = DType::Float64;
  bool is_enum_bool = false;  // h5py's bool: an enum over int8
  std::vector<std::int64_t> shape;
};

OpenDataset open_dataset(hid_t file, const std::string& file_path, const std::string& path) {
  OpenDataset d;
  d.dataset = Handle(H5Dopen2(file, h5name(path).c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.dataset.ok()) {
    fail_if_checksum_error(file_path, "the object header of dataset " + describe(path));
    std::string why = detail_suffix();  // e.g. a failed metadata checksum
    H5Eclear2(H5E_DEFAULT);
    H5I_type_t kind = object_kind(file, path);
    if (kind == H5I_GROUP) fail("HDF5 file '{}': {} is a group, not a dataset", file_path,
                                describe(path));
    // A link that exists but does not open: the object's metadata is damaged.
    if (kind == H5I_BADID && H5Lexists(file, h5name(path).c_str(), H5P_DEFAULT) > 0) {
      H5Eclear2(H5E_DEFAULT);
      fail("HDF5 file '{}': cannot open {}: the file is damaged{}", file_path, describe(path), why);
    }
    H5Eclear2(H5E_DEFAULT);
    fail("HDF5 file '{}': no dataset {}", file_path, describe(path));
  }
  d.type = Handle(H5Dget_type(d.dataset.get()), H5Tclose);
  d.space = Handle(H5Dget_space(d.dataset.get()), H5Sclose);
  if (!d.type.ok() || !d.space.ok())
    fail("HDF5 file '{}': cannot read dataset {}{}", file_path, describe(path), detail_suffix());

  H5T_class_t cls = H5Tget_class(d.type.get());
  std::size_t size = H5Tget_size(d.type.get());
  auto unsupported = [&](const std::string& what) -> void {
    fail("HDF5 file '{}': dataset {} holds {}; loom reads float32, float64, float16, int64, int32, "
         "bool (uint8), uint8 (uint8 with loom_dtype = \"uint8\") and bfloat16 (uint16 with "
         "loom_dtype = \"bfloat16\")",
         file_path, describe(path), what);
  };
  if (cls == H5T_FLOAT) {
    if (size == 4) d.dtype = DType::Float32;
    else if (size == 8) d.dtype = DType::Float64;
    else if (size == 2 && is_ieee_f16(d.type.get())) d.dtype = DType::Float16;
    else unsupported(fmt::format("a {}-byte float", size));
  } else if (cls == H5T_INTEGER) {
    bool is_unsigned = H5Tget_sign(d.type.get()) == H5T_SGN_NONE;
    if (is_unsigned && size == 2 && string_attr_or_empty(d.dataset.get(), kDTypeAttr) == "bfloat16")
      d.dtype = DType::BFloat16;
    else if (is_unsigned && size == 1)
      d.dtype = string_attr_or_empty(d.dataset.get(), kDTypeAttr) == "uint8" ? DType::UInt8 : DType::Bool;
    else if (!is_unsigned && size == 4) d.dtype = DType::Int32;
    else if (is_unsigned && size >= 8) unsupported("uint64");
    else d.dtype = DType::Int64;
  } else if (cls == H5T_ENUM && size == 1) {
    d.dtype = DType::Bool;
    d.is_enum_bool = true;
  } else {
    unsupported(class_name(cls));
  }

  H5S_class_t sc = H5Sget_simple_extent_type(d.space.get());
  if (sc == H5S_NULL) fail("HDF5 file '{}': dataset {} has an empty (null) dataspace", file_path,
                           describe(path));
  if (sc == H5S_SIMPLE) {
    int rank = H5Sget_simple_extent_ndims(d.space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    if (rank < 0 || H5Sget_simple_extent_dims(d.space.get(), dims.data(), nullptr) < 0)
      fail("HDF5 file '{}': cannot read the shape of dataset {}{}", file_path, describe(path),
           detail_suffix());
    // A damaged or hostile file may declare any dimensions: refuse those whose
    // element count or byte size does not fit in 63 bits.
    std::uint64_t elements = 1;
    for (hsize_t dim : dims)
      if (dim > static_cast<hsize_t>(INT64_MAX) || __builtin_mul_overflow(elements, dim, &elements) ||
          elements > static_cast<std::uint64_t>(INT64_MAX) / 8)
        fail("HDF5 file '{}': dataset {} declares shape [{}], too large to be a tensor "
             "(damaged file?)",
             file_path, describe(path), fmt::join(dims, ", "));
    d.shape.assign(dims.begin(), dims.end());
  }
  return d;
}

// Throws unless every byte of the dataset is stored in the file: a damaged
// or hostile file can declare a huge shape and store nothing (HDF5 would
// then produce fill values, after allocating the whole array and iterating
// over every missing chunk), and a file written with missing chunks or a
// dataset never written is incomplete.
void check_stored(const OpenDataset& d, const std::string& file_path, const std::string& path,
                  std::int64_t numel) {
  if (numel == 0) return;
  Handle dcpl(H5Dget_create_plist(d.dataset.get()), H5Pclose);
  if (!dcpl.ok()) fail("HDF5 file '{}': cannot read dataset {}{}", file_path, describe(path), detail_suffix());
  H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_CHUNKED) {
    int rank = H5Pget_chunk(dcpl.get(), 0, nullptr);
    std::vector<hsize_t> chunk(static_cast<std::size_t>(std::max(rank, 0)));
    if (rank != static_cast<int>(d.shape.size()) || H5Pget_chunk(dcpl.get(), rank, chunk.data()) < 0)
      fail("HDF5 file '{}': dataset {} has a damaged chunk layout{}", file_path, describe(path),
           detail_suffix());
    std::uint64_t chunks = 1;
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      if (chunk[i] == 0) fail("HDF5 file '{}': dataset {} has a zero chunk size", file_path, describe(path));
      std::uint64_t along = (static_cast<std::uint64_t>(d.shape[i]) + chunk[i] - 1) / chunk[i];
      if (__builtin_mul_overflow(chunks, along, &chunks)) chunks = UINT64_MAX;
    }
    hsize_t stored = 0;
    if (H5Dget_num_chunks(d.dataset.get(), d.space.get(), &stored) < 0)
      fail("HDF5 file '{}': cannot read the chunk index of dataset {}{}", file_path, describe(path),
           detail_suffix());
    if (stored < chunks)
      fail("HDF5 file '{}': dataset {} is incomplete: {} of its {} chunks are stored (damaged "
           "file?)",
           file_path, describe(path), stored, chunks);
  } else if (layout == H5D_CONTIGUOUS) {
    std::uint64_t need = static_cast<std::uint64_t>(numel) * H5Tget_size(d.type.get());
    hsize_t have = H5Dget_storage_size(d.dataset.get());
    if (have < need)
      fail("HDF5 file '{}': dataset {} stores {} bytes, its shape and type need {} (damaged or "
           "never written)",
           file_path, describe(path), have, need);
  } else if (layout != H5D_COMPACT) {
    fail("HDF5 file '{}': dataset {} has an unsupported storage layout{}", file_path, describe(path),
         detail_suffix());
  }
}

}  // namespace

DType Hdf5File::dtype(const std::string& path) const {
  require_open("dtype");
  QuietErrors quiet;
  return open_dataset(id_, path_, normalize(path)).dtype;
}

std::vector<std::int64_t> Hdf5File::shape(const std::string& path) const {
  require_open("shape");
  QuietErrors quiet;
  return open_dataset(id_, path_, normalize(path)).shape;
}

HostArray Hdf5File::read(const std::string& path) const {
  require_open("read");
  std::string p = normalize(path);
  QuietErrors quiet;
  OpenDataset d = open_dataset(id_, path_, p);
  HostArray a;
  a.dtype = d.dtype;
  a.shape = d.shape;
  check_stored(d, path_, p, a.numel());
  try {
    a = HostArray::zeros(d.dtype, d.shape);
  } catch (const std::bad_alloc&) {
    fail("HDF5 file '{}': dataset {} of shape {} needs {} bytes, more memory than is available",
         path_, describe(p), shape_string(d.shape), a.nbytes());
  }
  if (a.numel() == 0) return a;
  // An enum is read in its own (native) type; everything else converts to the
  // native type of the dtype, which HDF5 does for any width and byte order.
  Handle mem;
  hid_t memtype = native_type(d.dtype);
  if (d.is_enum_bool) {
    mem = Handle(H5Tget_native_type(d.type.get(), H5T_DIR_ASCEND), H5Tclose);
    memtype = mem.get();
  }
  if (H5Dread(d.dataset.get(), memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.bytes.data()) < 0) {
    fail_if_checksum_error(path_, "dataset " + describe(p));
    fail("HDF5 file '{}': cannot read dataset {}{}", path_, describe(p), detail_suffix());
  }
  // The 'crc32' attribute, where loom wrote one: the values must be the bytes
  // it was computed over (the stored type is the host type, so no conversion
  // changed them).
  htri_t has_crc = H5Aexists(d.dataset.get(), kCrcAttribute);
  if (has_crc < 0) fail_if_checksum_error(path_, "the attributes of dataset " + describe(p));
  if (has_crc > 0 && !d.is_enum_bool && H5Tequal(d.type.get(), file_type(d.dtype)) > 0) {
    Handle attr(H5Aopen(d.dataset.get(), kCrcAttribute, H5P_DEFAULT), H5Aclose);
    if (!attr.ok())
      fail("HDF5 file '{}': cannot read the checksum of dataset {}{}", path_, describe(p),
           detail_suffix());
    // One integer, or H5Aread would write past `recorded` (a damaged file's
    // attribute may hold any number of values of any type).
    Handle aspace(H5Aget_space(attr.get()), H5Sclose);
    Handle atype(H5Aget_type(attr.get()), H5Tclose);
    if (!aspace.ok() || !atype.ok() || H5Sget_simple_extent_type(aspace.get()) == H5S_NULL ||
        H5Sget_simple_extent_npoints(aspace.get()) != 1 || H5Tget_class(atype.get()) != H5T_INTEGER)
      fail("HDF5 file '{}': the 'crc32' attribute of dataset {} is not one integer: the file is "
           "damaged",
           path_, describe(p));
    std::int64_t recorded = -1;
    if (H5Aread(attr.get(), H5T_NATIVE_INT64, &recorded) < 0)
      fail("HDF5 file '{}': cannot read the checksum of dataset {}{}", path_, describe(p),
           detail_suffix());
    const std::uint32_t actual = crc32(a.bytes);
    if (recorded != static_cast<std::int64_t>(actual))
      fail("HDF5 file '{}': checksum mismatch in dataset {}: the file is damaged (the values' "
           "CRC-32 is {:#010x}, its 'crc32' attribute says {:#x})",
           path_, describe(p), actual, recorded);
  }
  if (d.dtype == DType::Bool)
    for (std::byte& b : a.bytes) b = b != std::byte{0} ? std::byte{1} : std::byte{0};
  return a;
}

bool Hdf5File::checksummed(const std::string& path) const {
  require_open("checksummed");
  std::string p = normalize(path);
  QuietErrors quiet;
  OpenDataset d = open_dataset(id_, path_, p);
  std::int64_t n = 1;
  for (std::int64_t s : d.shape) n *= s;
  if (n == 0) return true;
  Handle dcpl(H5Dget_create_plist(d.dataset.get()), H5Pclose);
  if (!dcpl.ok())
    fail("HDF5 file '{}': cannot read the layout of dataset {}{}", path_, describe(p),
         detail_suffix());
  H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_CHUNKED) {
    unsigned flags = 0;
    std::size_t nvalues = 0;
    unsigned filter_config = 0;
    return H5Pget_filter_by_id2(dcpl.get(), H5Z_FILTER_FLETCHER32, &flags, &nvalues, nullptr, 0,
                                nullptr, &filter_config) >= 0 &&
           H5Aexists(d.dataset.get(), kCrcAttribute) > 0;
  }
  if (layout == H5D_COMPACT) return metadata_checksummed();
  return false;
}

bool Hdf5File::metadata_checksummed() const {
  require_open("metadata_checksummed");
  QuietErrors quiet;
  H5F_info2_t info;
  if (H5Fget_info2(id_, &info) < 0)
    fail("HDF5 file '{}': cannot read its superblock version{}", path_, detail_suffix());
  return info.super.version >= 2;
}

HostArray Hdf5File::read_as(const std::string& path, DType want) const {
  require_open("read_as");
  std::string p = normalize(path);
  DType have;
  {
    QuietErrors quiet;
    have = open_dataset(id_, path_, p).dtype;
  }
  if (have != want && !(is_floating(have) && is_floating(want)))
    fail("HDF5 file '{}': dataset {} holds {}, expected {}", path_, describe(p), have, want);
  return read(p).to(want);
}

void Hdf5File::write(const std::string& path, const HostArray& array) {
  require_writable("write");
  std::string p = normalize(path);
  LOOM_CHECK(!p.empty(), "HDF5 file '{}': cannot write a dataset at the root path", path_);
  try {
    array.validate();
  } catch (const Error& e) {
    fail("HDF5 file '{}': cannot write dataset {}: {}", path_, describe(p), e.what());
  }
  if (has(p)) fail("HDF5 file '{}': cannot write dataset {}: it already exists", path_,
                   describe(p));
  // The groups above it, made here so that they keep their links compact.
  if (std::size_t slash = p.rfind('/'); slash != std::string::npos) create_group(p.substr(0, slash));
  QuietErrors quiet;
  Handle space;
  if (array.shape.empty()) {
    space = Handle(H5Screate(H5S_SCALAR), H5Sclose);
  } else {
    std::vector<hsize_t> dims(array.shape.begin(), array.shape.end());
    space = Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                   H5Sclose);
  }
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!space.ok() || !lcpl.ok() || !dcpl.ok() ||
      H5Pset_create_intermediate_group(lcpl.get(), 1) < 0)
    fail("HDF5 file '{}': cannot write dataset {}{}", path_, describe(p), detail_suffix());
  // Checksums (see hdf5_file.h): data in Fletcher32-checked chunks; a scalar
  // (which HDF5 cannot chunk) inside its checksummed object header; an empty
  // array has no data to protect (its shape is in the header).
  herr_t layout_rc = 0;
  if (array.shape.empty()) {
    layout_rc = H5Pset_layout(dcpl.get(), H5D_COMPACT);
  } else if (array.numel() > 0) {
    std::vector<hsize_t> dims(array.shape.begin(), array.shape.end());
    std::vector<hsize_t> chunk = chunk_shape(dims, element_size(array.dtype));
    layout_rc = H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    if (layout_rc >= 0) layout_rc = H5Pset_fletcher32(dcpl.get());
  }
  if (layout_rc < 0)
    fail("HDF5 file '{}': cannot set up the checksummed layout of dataset {}{}", path_,
         describe(p), detail_suffix());
  Handle ds(H5Dcreate2(id_, p.c_str(), file_type(array.dtype), space.get(), lcpl.get(),
                       dcpl.get(), H5P_DEFAULT),
            H5Dclose);
  if (!ds.ok())
    fail("HDF5 file '{}': cannot create dataset {}{}", path_, describe(p), detail_suffix());
  if (array.dtype == DType::BFloat16 && !put_string_attr(ds.get(), kDTypeAttr, "bfloat16"))
    fail("HDF5 file '{}': cannot tag dataset {} as bfloat16{}", path_, describe(p), detail_suffix());
  if (array.dtype == DType::UInt8 && !put_string_attr(ds.get(), kDTypeAttr, "uint8"))
    fail("HDF5 file '{}': cannot tag dataset {} as uint8{}", path_, describe(p), detail_suffix());
  if (array.numel() > 0) {
    if (H5Dwrite(ds.get(), native_type(array.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                 array.bytes.data()) < 0)
      fail("HDF5 file '{}': cannot write dataset {}{}", path_, describe(p), detail_suffix());
    // The CRC-32 of the stored bytes (the file types are the little-endian
    // host types), in the dataset's checksummed object header.
    const std::int64_t crc = crc32(array.bytes);
    Handle aspace(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(ds.get(), kCrcAttribute, H5T_STD_I64LE, aspace.get(), H5P_DEFAULT,
                           H5P_DEFAULT),
                H5Aclose);
    if (!attr.ok() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &crc) < 0)
      fail("HDF5 file '{}': cannot write the checksum of dataset {}{}", path_, describe(p),
           detail_suffix());
  }
}

void Hdf5File::create_group(const std::string& path) {
  require_writable("create_group");
  std::string p = normalize(path);
  if (has(p)) {
    if (is_group(p)) return;
    fail("HDF5 file '{}': cannot create group {}: a dataset is there", path_, describe(p));
  }
  // Each missing level in turn, every group keeping all its links compact,
  // inside its checksummed object header (see hdf5_file.h).
  if (std::size_t slash = p.rfind('/'); slash != std::string::npos) create_group(p.substr(0, slash));
  QuietErrors quiet;
  Handle gcpl = compact_links_gcpl();
  if (!gcpl.ok())
    fail("HDF5 file '{}': cannot create group {}{}", path_, describe(p), detail_suffix());
  Handle g(H5Gcreate2(id_, p.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) fail("HDF5 file '{}': cannot create group {}{}", path_, describe(p),
                    detail_suffix());
}

// ---- Hdf5File: attributes --------------------------------------------------------------------

namespace {

Handle open_object(hid_t file, const std::string& file_path, const std::string& normalized) {
  Handle obj(H5Oopen(file, h5name(normalized).c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.ok()) {
    fail_if_checksum_error(file_path, "the object header of " + describe(normalized));
    H5Eclear2(H5E_DEFAULT);
    fail("HDF5 file '{}': no object {}", file_path, describe(normalized));
  }
  return obj;
}

// "attribute 'mode' of the root group in HDF5 file 'x.h5'", for messages.
std::string attr_where(const std::string& file_path, const std::string& object,
                       const std::string& name) {
  return fmt::format("attribute '{}' of {} in HDF5 file '{}'", name, describe(object), file_path);
}

// An open scalar attribute and its stored type.
struct OpenAttr {
  Handle attr, type;
  H5T_class_t cls = H5T_NO_CLASS;
};

OpenAttr open_attr(hid_t file, const std::string& file_path, const std::string& object,
                   const std::string& name) {
  Handle obj = open_object(file, file_path, object);
  htri_t exists = H5Aexists(obj.get(), name.c_str());
  if (exists < 0) fail_if_checksum_error(file_path, "the attributes of " + describe(object));
  if (exists <= 0) fail("HDF5 file '{}': {} has no attribute '{}'", file_path, describe(object),
                        name);
  OpenAttr a;
  a.attr = Handle(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.attr.ok()) fail("cannot read {}{}", attr_where(file_path, object, name), detail_suffix());
  a.type = Handle(H5Aget_type(a.attr.get()), H5Tclose);
  Handle space(H5Aget_space(a.attr.get()), H5Sclose);
  if (!a.type.ok() || !space.ok())
    fail("cannot read {}{}", attr_where(file_path, object, name), detail_suffix());
  a.cls = H5Tget_class(a.type.get());
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL || n != 1)
    fail("{} is not a scalar (it holds {} values)", attr_where(file_path, object, name),
         std::max<hssize_t>(n, 0));
  return a;
}

// Creates (replacing) a scalar attribute of file type `ftype` and writes `value`
// given in memory type `mtype`.
void put_attr(hid_t file, const std::string& file_path, const std::string& object,
              const std::string& name, hid_t ftype, hid_t mtype, const void* value) {
  Handle obj = open_object(file, file_path, object);
  if (H5Aexists(obj.get(), name.c_str()) > 0 && H5Adelete(obj.get(), name.c_str()) < 0)
    fail("cannot replace {}{}", attr_where(file_path, object, name), detail_suffix());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(obj.get(), name.c_str(), ftype, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), mtype, value) < 0)
    fail("cannot write {}{}", attr_where(file_path, object, name), detail_suffix());
}

}  // namespace

bool Hdf5File::has_attr(const std::string& object, const std::string& name) const {
  require_open("has_attr");
  std::string o = normalize(object);
  if (!has(o)) return false;
  QuietErrors quiet;
  Handle obj = open_object(id_, path_, o);
  htri_t exists = H5Aexists(obj.get(), name.c_str());
  if (exists < 0) fail_if_checksum_error(path_, "the attributes of " + describe(o));
  return exists > 0;
}

std::vector<std::string> Hdf5File::attr_names(const std::string& object) const {
  require_open("attr_names");
  std::string o = normalize(object);
  QuietErrors quiet;
  Handle obj = open_object(id_, path_, o);
  std::vector<std::string> names;
  herr_t rc = H5Aiterate2(
      obj.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names);
  if (rc < 0) fail("HDF5 file '{}': cannot list the attributes of {}{}", path_, describe(o),
                   detail_suffix());
  std::sort(names.begin(), names.end());
  return names;
}

std::string Hdf5File::attr_string(const std::string& object, const std::string& name) const {
  require_open("attr_string");
  std::string o = normalize(object);
  QuietErrors quiet;
  OpenAttr a = open_attr(id_, path_, o, name);
  if (a.cls != H5T_STRING)
    fail("{} is {}, expected a string", attr_where(path_, o, name), class_name(a.cls));
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(mem.get(), H5Tget_cset(a.type.get()));
  std::string value;
  if (H5Tis_variable_str(a.type.get()) > 0) {
    H5Tset_size(mem.get(), H5T_VARIABLE);
    char* p = nullptr;
    if (H5Aread(a.attr.get(), mem.get(), &p) < 0)
      fail("cannot read {}{}", attr_where(path_, o, name), detail_suffix());
    if (p != nullptr) {
      value = p;
      H5free_memory(p);
    }
  } else {
    std::size_t size = H5Tget_size(a.type.get());
    if (size == 0 || size > (std::size_t{1} << 30))
      fail("{} declares a string of {} bytes (damaged file?)", attr_where(path_, o, name), size);
    H5Tset_size(mem.get(), size + 1);  // room for a terminating NUL
    H5Tset_strpad(mem.get(), H5T_STR_NULLTERM);
    std::string buf(size + 1, '\0');
    if (H5Aread(a.attr.get(), mem.get(), buf.data()) < 0)
      fail("cannot read {}{}", attr_where(path_, o, name), detail_suffix());
    value.assign(buf.c_str());
    if (H5Tget_strpad(a.type.get()) == H5T_STR_SPACEPAD)
      value.erase(value.find_last_not_of(' ') + 1);
  }
  return value;
}

std::int64_t Hdf5File::attr_int(const std::string& object, const std::string& name) const {
  require_open("attr_int");
  std::string o = normalize(object);
  QuietErrors quiet;
  OpenAttr a = open_attr(id_, path_, o, name);
  if (a.cls != H5T_INTEGER)
    fail("{} is {}, expected an integer", attr_where(path_, o, name), class_name(a.cls));
  std::int64_t v = 0;
  if (H5Aread(a.attr.get(), H5T_NATIVE_INT64, &v) < 0)
    fail("cannot read {}{}", attr_where(path_, o, name), detail_suffix());
  return v;
}

double Hdf5File::attr_double(const std::string& object, const std::string& name) const {
  require_open("attr_double");
  std::string o = normalize(object);
  QuietErrors quiet;
  OpenAttr a = open_attr(id_, path_, o, name);
  if (a.cls != H5T_FLOAT && a.cls != H5T_INTEGER)
    fail("{} is {}, expected a float", attr_where(path_, o, name), class_name(a.cls));
  double v = 0;
  if (H5Aread(a.attr.get(), H5T_NATIVE_DOUBLE, &v) < 0)
    fail("cannot read {}{}", attr_where(path_, o, name), detail_suffix());
  return v;
}

void Hdf5File::set_attr_string(const std::string& object, const std::string& name,
                               std::string_view value) {
  require_writable("set_attr_string");
  QuietErrors quiet;
  // Fixed-length, so that the text lives in the (checksummed) object header;
  // a variable-length string lives in the global heap, which has no checksum
  // and whose damage crashes libhdf5 1.10 (H5HG_read).
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  std::string copy(value);
  if (copy.empty()) copy.push_back('\0');  // HDF5 strings hold at least one byte
  H5Tset_size(type.get(), copy.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  put_attr(id_, path_, normalize(object), name, type.get(), type.get(), copy.data());
}

void Hdf5File::set_attr_int(const std::string& object, const std::string& name,
                            std::int64_t value) {
  require_writable("set_attr_int");
  QuietErrors quiet;
  put_attr(id_, path_, normalize(object), name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void Hdf5File::set_attr_double(const std::string& object, const std::string& name,
                               double value) {
  require_writable("set_attr_double");
  QuietErrors quiet;
  put_attr(id_, path_, normalize(object), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

}  // namespace loom
