// Named tensors in HDF5 files: the bridge between Tensor and core/hdf5_file.h.
#pragma once

#include <map>
#include <string>

#include "core/hdf5_file.h"
#include "core/tensor.h"

namespace loom {

// A host copy of t (any device, any layout), in t's dtype.
HostArray to_host_array(const Tensor& t);
// A tensor holding `array`'s values, converted to options' dtype (when the array
// is floating and options asks for a floating dtype; otherwise kept) on options' device.
Tensor from_host_array(const HostArray& array, TensorOptions options = {});

// Writes each tensor as a dataset named by its key (slashes make groups), to
// a temporary file renamed over `path` only once everything is written: a
// failure never leaves a half-written file at `path`.
void save_tensors(const std::string& path, const std::map<std::string, Tensor>& tensors);
// Reads every dataset in the file (recursively; keys are slash-joined paths
// without the leading slash) onto `device`, keeping each dataset's dtype.
// Throws loom::Error naming `path` for a missing, non-HDF5 or damaged file,
// a dataset loom cannot read (Hdf5File::read), or a group reached twice
// (a link cycle).
std::map<std::string, Tensor> load_tensors(const std::string& path, Device device = kCPU);

}  // namespace loom
