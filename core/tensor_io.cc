#include "core/tensor_io.h"

#include <cstring>
#include <set>

#include "core/native.h"

namespace loom {

HostArray to_host_array(const Tensor& t) {
  Tensor host = native::contiguous(native::to(t, kCPU));
  HostArray a = HostArray::zeros(t.dtype(), t.shape());
  if (a.nbytes() > 0) std::memcpy(a.bytes.data(), host.data_ptr(), a.nbytes());
  return a;
}

Tensor from_host_array(const HostArray& array, TensorOptions options) {
  array.validate();
  Tensor host = empty(array.shape, TensorOptions(array.dtype));
  if (array.nbytes() > 0) std::memcpy(host.data_ptr(), array.bytes.data(), array.nbytes());
  DType want = is_floating(array.dtype) && is_floating(options.dtype_) ? options.dtype_ : array.dtype;
  return native::to(native::to(host, want), options.device_);
}

void save_tensors(const std::string& path, const std::map<std::string, Tensor>& tensors) {
  Hdf5File file = Hdf5File::create_atomic(path);
  for (const auto& [name, t] : tensors) {
    LOOM_CHECK(t.defined(), "save_tensors: tensor '{}' is undefined", name);
    file.write(name, to_host_array(t));
  }
  file.commit();
}

namespace {
// Reads the datasets under `group` into `out`. `seen` holds the addresses of
// the groups already walked: a group reached a second time (a hard or soft
// link cycle, or a group linked at two places) is refused, so a damaged file
// cannot make the walk recurse forever.
void collect(const Hdf5File& file, const std::string& group, Device device,
             std::map<std::string, Tensor>& out, std::set<std::uint64_t>& seen) {
  if (!seen.insert(file.object_address(group)).second)
    fail("HDF5 file '{}': {} is reached twice (a link cycle or a group linked at two "
         "places); loom reads each group once",
         file.path(), group == "/" ? std::string("the root group") : "group '" + group + "'");
  for (const std::string& child : file.list(group)) {
    std::string path = group == "/" ? child : group + "/" + child;
    if (file.is_group(path)) collect(file, path, device, out, seen);
    else out[path] = from_host_array(file.read(path), TensorOptions(file.dtype(path)).device(device));
  }
}
}  // namespace

std::map<std::string, Tensor> load_tensors(const std::string& path, Device device) {
  try {
    Hdf5File file = Hdf5File::open_read(path);
    std::map<std::string, Tensor> out;
    std::set<std::uint64_t> seen;
    collect(file, "/", device, out, seen);
    return out;
  } catch (const Error& e) {
    // Messages from below the file layer (tensor allocation, ...) do not name it.
    if (std::string(e.what()).find(path) != std::string::npos) throw;
    fail("cannot load tensors from '{}': {}", path, e.what());
  }
}

}  // namespace loom
