// Named tensors in HDF5 files: the bridge between Tensor and core/hdf5_file.h.
//
// Integrity (see hdf5_file.h, "Checksums"): save_tensors writes the HDF5 1.10
// format, whose metadata carries checksums, with each tensor protected: one
// with elements is chunked with the Fletcher32 filter, a 0-dim tensor is a
// compact dataset inside its checksummed object header, an empty one has no
// data. load_tensors verifies them as it reads (a damaged file throws
// loom::Error "HDF5 file '<path>': checksum mismatch in dataset '<name>': the
// file is damaged ..."); files without checksums (h5py's defaults, older loom
// files) are read as they are.
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

// Writes each tensor as a dataset named by its key (slashes make groups), with
// checksums (above), to a temporary file renamed over `path` only once
// everything is written: a failure never leaves a half-written file at `path`.
void save_tensors(const std::string& path, const std::map<std::string, Tensor>& tensors);
// Reads every dataset in the file (recursively; keys are slash-joined paths
// without the leading slash) onto `device`, keeping each dataset's dtype;
// checksums are verified where the file has them. Throws loom::Error naming
// `path` for a missing, non-HDF5 or damaged file, a dataset loom cannot read
// (Hdf5File::read), or a group reached twice (a link cycle).
std::map<std::string, Tensor> load_tensors(const std::string& path, Device device = kCPU);

}  // namespace loom
