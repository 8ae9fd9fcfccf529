// Checkpoints in HDF5 (see checkpoint.h for the layout).
#include "nn/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "core/tensor_io.h"

namespace loom::nn {
namespace {

// Removes the "HDF5 file '<path>': "-style prefix of a message from
// core/hdf5_file.cc: the checkpoint message names the file already.
std::string without_file_prefix(const std::string& message, const std::string& path) {
  for (const char* lead : {"cannot open HDF5 file '", "cannot create HDF5 file '",
                           "cannot write HDF5 file '", "HDF5 file '"}) {
    std::string prefix = std::string(lead) + path + "': ";
    if (message.rfind(prefix, 0) == 0) return message.substr(prefix.size());
  }
  return message;
}

// Throws unless `key` can be a dataset name inside `group`.
void check_key(const std::string& group, const std::string& key, bool newline_allowed) {
  if (key.empty()) fail("{} has an empty key", group);
  if (key == "." || key == "..") fail("{} key '{}' cannot be an HDF5 name", group, key);
  if (key.find('/') != std::string::npos)
    fail("{} key '{}' contains '/', which HDF5 would read as a group", group, key);
  if (!newline_allowed && key.find('\n') != std::string::npos)
    fail("{} key '{}' contains a newline", group, key);
}

HostArray scalar_array(double value) { return HostArray::from<double>({}, {value}); }

void write_tensor(Hdf5File& file, const std::string& group, const std::string& key,
                  const Tensor& value) {
  LOOM_CHECK(value.defined(), "{} tensor '{}' is undefined", group, key);
  file.write(group + "/" + key, to_host_array(value));
}

// The keys of a map joined by "\n": a group's 'keys' attribute.
template <typename Map>
std::string joined_keys(const Map& map) {
  std::string keys;
  for (const auto& [key, value] : map) {
    if (!keys.empty()) keys += '\n';
    keys += key;
  }
  return keys;
}

// An optim::StateDict as <group>/tensors/* and <group>/scalars/*, each
// subgroup listing its entries in its 'keys' attribute.
void write_optim(Hdf5File& file, const std::string& group, const optim::StateDict& dict) {
  file.create_group(group + "/tensors");
  file.create_group(group + "/scalars");
  file.set_attr_string(group + "/tensors", "keys", joined_keys(dict.tensors));
  file.set_attr_string(group + "/scalars", "keys", joined_keys(dict.scalars));
  for (const auto& [key, value] : dict.tensors) write_tensor(file, group + "/tensors", key, value);
  for (const auto& [key, value] : dict.scalars)
    file.write(group + "/scalars/" + key, scalar_array(value));
}

// ---- reading -----------------------------------------------------------------------------

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  while (true) {
    std::size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

// One checkpoint being read: the file, its format version and the device.
// Version 2 files must protect every dataset with a checksum (see
// checkpoint.h) and list every group's entries in its 'keys' attribute.
struct Reader {
  const Hdf5File& file;
  std::int64_t version;
  Device device;

  bool checksums() const { return version >= 2; }

  HostArray read(const std::string& path) const {
    if (checksums())
      LOOM_CHECK(file.checksummed(path),
                 "dataset '{}' carries no checksum (a version-{} checkpoint protects every "
                 "dataset: Fletcher32 and a crc32 attribute on chunked data, compact scalars)",
                 path, version);
    return file.read(path);
  }

  Tensor tensor(const std::string& path) const {
    HostArray array = read(path);
    return from_host_array(array, TensorOptions(array.dtype).device(device));
  }

  double scalar(const std::string& path) const {
    HostArray array = read(path);
    LOOM_CHECK(array.dtype == DType::Float64 && array.shape.empty(),
               "'{}' should be a float64 scalar, found {} {}", path, array.dtype,
               shape_string(array.shape));
    return array.as<double>()[0];
  }

  // The names of the datasets in `group`. Version 2: exactly those its 'keys'
  // attribute lists; a listed one that is missing is "<what> '<key>' is
  // missing". Version 1: every child, which must be a dataset.
  std::vector<std::string> entries(const std::string& group, const std::string& what) const {
    std::vector<std::string> stored = file.list(group);
    if (!checksums()) {
      for (const std::string& name : stored)
        LOOM_CHECK(file.is_dataset(group + "/" + name), "'{}/{}' is not a dataset", group, name);
      return stored;
    }
    LOOM_CHECK(file.has_attr(group, "keys"),
               "group '{}' has no 'keys' attribute (the list of its entries)", group);
    std::vector<std::string> keys = split_lines(file.attr_string(group, "keys"));
    std::set<std::string> listed;
    for (const std::string& key : keys) {
      LOOM_CHECK(listed.insert(key).second,
                 "key '{}' appears twice in the 'keys' attribute of group '{}'", key, group);
      LOOM_CHECK(file.is_dataset(group + "/" + key),
                 "{} '{}' is missing: group '{}' lists it in its 'keys' attribute, but there is "
                 "no dataset '{}/{}'",
                 what, key, group, group, key);
    }
    for (const std::string& name : stored)
      LOOM_CHECK(listed.count(name),
                 "'{}/{}' is not listed in the 'keys' attribute of group '{}'", group, name, group);
    return keys;
  }
};

// Throws unless every child of `group` is one of `allowed` (one layout level).
void check_children(const Hdf5File& file, const std::string& group,
                    const std::set<std::string>& allowed) {
  for (const std::string& child : file.list(group))
    LOOM_CHECK(allowed.count(child), "unexpected object '{}{}' (a loom checkpoint has only {})",
               group == "/" ? "" : group + "/", child, fmt::join(allowed, ", "));
}

// `group` ("optimizer", "scheduler") as an optim::StateDict; `what` names its
// entries in messages ("optimizer state entry").
optim::StateDict read_optim(const Reader& r, const std::string& group, const std::string& what) {
  const Hdf5File& file = r.file;
  optim::StateDict dict;
  if (!file.has(group)) return dict;
  LOOM_CHECK(file.is_group(group), "'{}' is not a group", group);
  check_children(file, group, {"scalars", "tensors"});
  for (const char* sub : {"tensors", "scalars"}) {
    const std::string path = group + "/" + sub;
    if (!file.has(path)) {
      LOOM_CHECK(!r.checksums(), "no group '{}' (a version-{} checkpoint has both '{}/tensors' "
                 "and '{}/scalars')", path, r.version, group, group);
      continue;
    }
    LOOM_CHECK(file.is_group(path), "'{}' is not a group", path);
    const bool tensors = std::string_view(sub) == "tensors";
    for (const std::string& key : r.entries(path, what)) {
      if (tensors) dict.tensors[key] = r.tensor(path + "/" + key);
      else dict.scalars[key] = r.scalar(path + "/" + key);
    }
  }
  return dict;
}

// Checks the root's attributes; returns the format version (1 or 2).
std::int64_t check_format(const Hdf5File& file) {
  if (!file.has_attr("/", "format"))
    fail("not a loom checkpoint: the root group has no 'format' attribute (expected format = "
         "\"{}\")",
         kCheckpointFormat);
  std::string format = file.attr_string("/", "format");
  if (format != kCheckpointFormat)
    fail("not a loom checkpoint: its format attribute is \"{}\", expected \"{}\"", format,
         kCheckpointFormat);
  LOOM_CHECK(file.has_attr("/", "version"), "the root group has no 'version' attribute");
  std::int64_t version = file.attr_int("/", "version");
  LOOM_CHECK(version == kCheckpointVersion || version == kCheckpointVersionWithoutChecksums,
             "checkpoint version {} is not supported (this loom reads versions {} and {})",
             version, kCheckpointVersionWithoutChecksums, kCheckpointVersion);
  if (version >= 2)
    LOOM_CHECK(file.metadata_checksummed(),
               "a version-{} checkpoint must be in an HDF5 format whose metadata carries "
               "checksums (superblock version 2 or later; h5py: libver=('v110', 'v110'))",
               version);
  LOOM_CHECK(file.has_attr("/", "step"), "the root group has no 'step' attribute");
  return version;
}

// Prints, once per file per process, that a version-1 checkpoint carries no
// checksums.
void warn_no_checksums(const std::string& path) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) key = path;
  std::lock_guard<std::mutex> lock(mutex);
  if (!warned.insert(key).second) return;
  fmt::print(stderr,
             "warning: checkpoint '{}' is format version 1, which carries no checksums: damage to "
             "its data cannot be detected (saving it again writes version {}, with checksums)\n",
             path, kCheckpointVersion);
  std::fflush(stderr);
}

StateDict read_model(const Reader& r) {
  const Hdf5File& file = r.file;
  LOOM_CHECK(file.is_group("model"), "no group 'model'");
  LOOM_CHECK(file.has_attr("model", "keys"),
             "group 'model' has no 'keys' attribute (the state_dict's key order)");
  std::vector<std::string> keys = split_lines(file.attr_string("model", "keys"));
  std::vector<std::string> stored = file.list("model");
  for (const std::string& name : stored)
    LOOM_CHECK(file.is_dataset("model/" + name), "'model/{}' is not a dataset", name);
  std::set<std::string> listed;
  for (const std::string& key : keys) {
    LOOM_CHECK(listed.insert(key).second, "key '{}' appears twice in the 'keys' attribute of "
               "group 'model'", key);
    LOOM_CHECK(file.is_dataset("model/" + key),
               "key '{}' is listed in the 'keys' attribute of group 'model', but there is no "
               "dataset 'model/{}'",
               key, key);
  }
  for (const std::string& name : stored)
    LOOM_CHECK(listed.count(name), "dataset 'model/{}' is not listed in the 'keys' attribute of "
               "group 'model'", name);
  StateDict model;
  for (const std::string& key : keys) model.insert(key, r.tensor("model/" + key));
  return model;
}

bool is_empty(const optim::StateDict& dict) { return dict.tensors.empty() && dict.scalars.empty(); }

// A copy of the module's state (new storage), to roll a failed restore back.
StateDict snapshot(const Module& module) {
  StateDict out;
  for (const auto& [key, value] : module.state_dict()) out.insert(key, native::clone(value));
  return out;
}

// "checkpoint 'run/last.h5'" for a loaded checkpoint, "the checkpoint" for
// one built in memory.
std::string which(const Checkpoint& ck) {
  return ck.source.empty() ? std::string("the checkpoint") : fmt::format("checkpoint '{}'", ck.source);
}

// Loads `load` and rethrows its loom::Error as "cannot restore the <part>
// from checkpoint '<file>': ...".
void load_part(const Checkpoint& ck, const char* part, const std::function<void()>& load) {
  try {
    load();
  } catch (const Error& e) {
    fail("cannot restore the {} from {}: {}", part, which(ck), e.what());
  }
}

// restore() with an optional schedule given as its two state_dict functions
// and an optional GradScaler (an enabled one; a disabled one loads nothing).
void restore_all(const Checkpoint& ck, Module& module, optim::Optimizer* optimizer,
                 const std::function<optim::StateDict()>& sched_save,
                 const std::function<void(const optim::StateDict&)>& sched_load,
                 optim::GradScaler* scaler = nullptr) {
  if (scaler != nullptr && !scaler->is_enabled()) scaler = nullptr;
  LOOM_CHECK(optimizer == nullptr || !is_empty(ck.optimizer),
             "cannot restore the optimizer: {} holds no optimizer state", which(ck));
  LOOM_CHECK(!sched_load || !is_empty(ck.scheduler),
             "cannot restore the schedule: {} holds no schedule state", which(ck));
  LOOM_CHECK(scaler == nullptr || !is_empty(ck.grad_scaler),
             "cannot restore the grad scaler: {} holds no grad scaler state", which(ck));
  // Only a later part's refusal needs the model put back.
  const bool later_parts = optimizer != nullptr || sched_load || scaler != nullptr;
  StateDict model_backup = later_parts ? snapshot(module) : StateDict();
  optim::StateDict sched_backup;
  if (sched_save) sched_backup = sched_save();
  optim::StateDict scaler_backup;
  if (scaler != nullptr) scaler_backup = scaler->state_dict();

  // Each load below changes nothing when it throws.
  load_part(ck, "model", [&] { module.load_state_dict(ck.model); });
  if (!later_parts) return;
  bool sched_loaded = false, scaler_loaded = false;
  try {
    if (sched_load) {
      load_part(ck, "schedule", [&] { sched_load(ck.scheduler); });
      sched_loaded = true;
    }
    if (scaler != nullptr) {
      load_part(ck, "grad scaler", [&] { scaler->load_state_dict(ck.grad_scaler); });
      scaler_loaded = true;
    }
    if (optimizer != nullptr) load_part(ck, "optimizer", [&] { optimizer->load_state_dict(ck.optimizer); });
  } catch (...) {
    module.load_state_dict(model_backup);
    if (sched_loaded) sched_load(sched_backup);
    if (scaler_loaded) scaler->load_state_dict(scaler_backup);
    throw;
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  try {
    // Check the names before a temporary file is made.
    for (const auto& [key, value] : checkpoint.model) {
      check_key("model", key, false);
      LOOM_CHECK(value.defined(), "model tensor '{}' is undefined", key);
    }
    for (const auto& [key, value] : checkpoint.metadata) check_key("metadata", key, false);
    for (const auto* part : {&checkpoint.optimizer, &checkpoint.scheduler, &checkpoint.grad_scaler}) {
      const char* group = part == &checkpoint.optimizer   ? "optimizer"
                          : part == &checkpoint.scheduler ? "scheduler"
                                                          : "grad_scaler";
      for (const auto& [key, value] : part->tensors) {
        check_key(group, key, false);
        LOOM_CHECK(value.defined(), "{} tensor '{}' is undefined", group, key);
      }
      for (const auto& [key, value] : part->scalars) check_key(group, key, false);
    }

    Hdf5File file = Hdf5File::create_atomic(path);
    file.set_attr_string("/", "format", kCheckpointFormat);
    file.set_attr_int("/", "version", kCheckpointVersion);
    file.set_attr_int("/", "step", checkpoint.step);

    file.create_group("model");
    file.set_attr_string("model", "keys", joined_keys(checkpoint.model));
    for (const auto& [key, value] : checkpoint.model) write_tensor(file, "model", key, value);

    write_optim(file, "optimizer", checkpoint.optimizer);
    write_optim(file, "scheduler", checkpoint.scheduler);
    if (!is_empty(checkpoint.grad_scaler)) write_optim(file, "grad_scaler", checkpoint.grad_scaler);
    file.create_group("metadata");
    file.set_attr_string("metadata", "keys", joined_keys(checkpoint.metadata));
    for (const auto& [key, value] : checkpoint.metadata)
      file.write("metadata/" + key, scalar_array(value));
    file.commit();
  } catch (const Error& e) {
    fail("cannot save checkpoint '{}': {}", path, without_file_prefix(e.what(), path));
  }
}

Checkpoint load_checkpoint(const std::string& path, Device device) {
  try {
    Hdf5File file = Hdf5File::open_read(path);
    const Reader r{file, check_format(file), device};
    check_children(file, "/", {"grad_scaler", "metadata", "model", "optimizer", "scheduler"});
    Checkpoint ck;
    ck.step = file.attr_int("/", "step");
    ck.model = read_model(r);
    ck.optimizer = read_optim(r, "optimizer", "optimizer state entry");
    ck.scheduler = read_optim(r, "scheduler", "schedule state entry");
    ck.grad_scaler = read_optim(r, "grad_scaler", "grad scaler state entry");
    if (file.has("metadata")) {
      LOOM_CHECK(file.is_group("metadata"), "'metadata' is not a group");
      for (const std::string& key : r.entries("metadata", "metadata entry"))
        ck.metadata[key] = r.scalar("metadata/" + key);
    }
    ck.source = path;
    if (!r.checksums()) warn_no_checksums(path);
    return ck;
  } catch (const Error& e) {
    fail("cannot load checkpoint '{}': {}", path, without_file_prefix(e.what(), path));
  }
}

void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer) {
  restore_all(checkpoint, module, optimizer, nullptr, nullptr);
}

void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::LRScheduler& scheduler) {
  restore_all(
      checkpoint, module, optimizer, [&] { return scheduler.state_dict(); },
      [&](const optim::StateDict& d) { scheduler.load_state_dict(d); });
}

void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::ReduceLROnPlateau& scheduler) {
  restore_all(
      checkpoint, module, optimizer, [&] { return scheduler.state_dict(); },
      [&](const optim::StateDict& d) { scheduler.load_state_dict(d); });
}

}  // namespace loom::nn

namespace loom::nn {

void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::GradScaler& grad_scaler) {
  restore_all(checkpoint, module, optimizer, nullptr, nullptr, &grad_scaler);
}

void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::LRScheduler& scheduler, optim::GradScaler& grad_scaler) {
  restore_all(
      checkpoint, module, optimizer, [&] { return scheduler.state_dict(); },
      [&](const optim::StateDict& d) { scheduler.load_state_dict(d); }, &grad_scaler);
}

void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::ReduceLROnPlateau& scheduler, optim::GradScaler& grad_scaler) {
  restore_all(
      checkpoint, module, optimizer, [&] { return scheduler.state_dict(); },
      [&](const optim::StateDict& d) { scheduler.load_state_dict(d); }, &grad_scaler);
}

}  // namespace loom::nn
