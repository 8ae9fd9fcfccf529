#include "core/tensor_io.h"

#include <cstring>

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
void collect(const Hdf5File& file, const std::string& group, Device device,
             std::map<std::string, Tensor>& out) {
  for (const std::string& child : file.list(group)) {
    std::string path = group == "/" ? child : group + "/" + child;
    if (file.is_group(path)) collect(file, path, device, out);
    else out[path] = from_host_array(file.read(path), TensorOptions(file.dtype(path)).device(device));
  }
}
}  // namespace

std::map<std::string, Tensor> load_tensors(const std::string& path, Device device) {
  Hdf5File file = Hdf5File::open_read(path);
  std::map<std::string, Tensor> out;
  collect(file, "/", device, out);
  return out;
}

}  // namespace loom
