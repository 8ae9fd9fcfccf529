// Checkpoints in HDF5 (see checkpoint.h for the layout).
#include "nn/checkpoint.h"

#include <functional>
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

// An optim::StateDict as <group>/tensors/* and <group>/scalars/*.
void write_optim(Hdf5File& file, const std::string& group, const optim::StateDict& dict) {
  file.create_group(group + "/tensors");
  file.create_group(group + "/scalars");
  for (const auto& [key, value] : dict.tensors) {
    check_key(group, key, true);
    write_tensor(file, group + "/tensors", key, value);
  }
  for (const auto& [key, value] : dict.scalars) {
    check_key(group, key, true);
    file.write(group + "/scalars/" + key, scalar_array(value));
  }
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

Tensor read_tensor(const Hdf5File& file, const std::string& path, Device device) {
  HostArray array = file.read(path);
  return from_host_array(array, TensorOptions(array.dtype).device(device));
}

double read_scalar(const Hdf5File& file, const std::string& path) {
  HostArray array = file.read(path);
  LOOM_CHECK(array.dtype == DType::Float64 && array.shape.empty(),
             "'{}' should be a float64 scalar, found {} {}", path, array.dtype,
             shape_string(array.shape));
  return array.as<double>()[0];
}

// Throws unless every child of `group` is one of `allowed` (one layout level).
void check_children(const Hdf5File& file, const std::string& group,
                    const std::set<std::string>& allowed) {
  for (const std::string& child : file.list(group))
    LOOM_CHECK(allowed.count(child), "unexpected object '{}{}' (a loom checkpoint has only {})",
               group == "/" ? "" : group + "/", child, fmt::join(allowed, ", "));
}

// Every child of `group` must be a dataset; returns their names.
std::vector<std::string> datasets_in(const Hdf5File& file, const std::string& group) {
  std::vector<std::string> names = file.list(group);
  for (const std::string& name : names)
    LOOM_CHECK(file.is_dataset(group + "/" + name), "'{}/{}' is not a dataset", group, name);
  return names;
}

optim::StateDict read_optim(const Hdf5File& file, const std::string& group, Device device) {
  optim::StateDict dict;
  if (!file.has(group)) return dict;
  LOOM_CHECK(file.is_group(group), "'{}' is not a group", group);
  check_children(file, group, {"scalars", "tensors"});
  if (file.has(group + "/tensors")) {
    LOOM_CHECK(file.is_group(group + "/tensors"), "'{}/tensors' is not a group", group);
    for (const std::string& key : datasets_in(file, group + "/tensors"))
      dict.tensors[key] = read_tensor(file, group + "/tensors/" + key, device);
  }
  if (file.has(group + "/scalars")) {
    LOOM_CHECK(file.is_group(group + "/scalars"), "'{}/scalars' is not a group", group);
    for (const std::string& key : datasets_in(file, group + "/scalars"))
      dict.scalars[key] = read_scalar(file, group + "/scalars/" + key);
  }
  return dict;
}

void check_format(const Hdf5File& file) {
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
  LOOM_CHECK(version == kCheckpointVersion,
             "checkpoint version {} is not supported (this loom reads version {})", version,
             kCheckpointVersion);
  LOOM_CHECK(file.has_attr("/", "step"), "the root group has no 'step' attribute");
}

StateDict read_model(const Hdf5File& file, Device device) {
  LOOM_CHECK(file.is_group("model"), "no group 'model'");
  LOOM_CHECK(file.has_attr("model", "keys"),
             "group 'model' has no 'keys' attribute (the state_dict's key order)");
  std::vector<std::string> keys = split_lines(file.attr_string("model", "keys"));
  std::vector<std::string> stored = datasets_in(file, "model");
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
  for (const std::string& key : keys) model.insert(key, read_tensor(file, "model/" + key, device));
  return model;
}

bool is_empty(const optim::StateDict& dict) { return dict.tensors.empty() && dict.scalars.empty(); }

// A copy of the module's state (new storage), to roll a failed restore back.
StateDict snapshot(const Module& module) {
  StateDict out;
  for (const auto& [key, value] : module.state_dict()) out.insert(key, native::clone(value));
  return out;
}

// Loads `load` and rethrows its loom::Error as "cannot restore the <part> ...".
void load_part(const char* part, const std::function<void()>& load) {
  try {
    load();
  } catch (const Error& e) {
    fail("cannot restore the {} from the checkpoint: {}", part, e.what());
  }
}

// restore() with an optional schedule given as its two state_dict functions.
void restore_all(const Checkpoint& ck, Module& module, optim::Optimizer* optimizer,
                 const std::function<optim::StateDict()>& sched_save,
                 const std::function<void(const optim::StateDict&)>& sched_load) {
  LOOM_CHECK(optimizer == nullptr || !is_empty(ck.optimizer),
             "cannot restore the optimizer: the checkpoint holds no optimizer state");
  LOOM_CHECK(!sched_load || !is_empty(ck.scheduler),
             "cannot restore the schedule: the checkpoint holds no schedule state");
  // Only a later part's refusal needs the model put back.
  const bool later_parts = optimizer != nullptr || sched_load;
  StateDict model_backup = later_parts ? snapshot(module) : StateDict();
  optim::StateDict sched_backup;
  if (sched_save) sched_backup = sched_save();

  // Each load below changes nothing when it throws.
  load_part("model", [&] { module.load_state_dict(ck.model); });
  if (!later_parts) return;
  bool sched_loaded = false;
  try {
    if (sched_load) {
      load_part("schedule", [&] { sched_load(ck.scheduler); });
      sched_loaded = true;
    }
    if (optimizer != nullptr) load_part("optimizer", [&] { optimizer->load_state_dict(ck.optimizer); });
  } catch (...) {
    module.load_state_dict(model_backup);
    if (sched_loaded) sched_load(sched_backup);
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
    for (const auto& [key, value] : checkpoint.metadata) check_key("metadata", key, true);

    Hdf5File file = Hdf5File::create_atomic(path);
    file.set_attr_string("/", "format", kCheckpointFormat);
    file.set_attr_int("/", "version", kCheckpointVersion);
    file.set_attr_int("/", "step", checkpoint.step);

    file.create_group("model");
    std::string keys;
    for (const auto& [key, value] : checkpoint.model) {
      if (!keys.empty()) keys += '\n';
      keys += key;
    }
    file.set_attr_string("model", "keys", keys);
    for (const auto& [key, value] : checkpoint.model) write_tensor(file, "model", key, value);

    write_optim(file, "optimizer", checkpoint.optimizer);
    write_optim(file, "scheduler", checkpoint.scheduler);
    file.create_group("metadata");
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
    check_format(file);
    check_children(file, "/", {"metadata", "model", "optimizer", "scheduler"});
    Checkpoint ck;
    ck.step = file.attr_int("/", "step");
    ck.model = read_model(file, device);
    ck.optimizer = read_optim(file, "optimizer", device);
    ck.scheduler = read_optim(file, "scheduler", device);
    if (file.has("metadata")) {
      LOOM_CHECK(file.is_group("metadata"), "'metadata' is not a group");
      for (const std::string& key : datasets_in(file, "metadata"))
        ck.metadata[key] = read_scalar(file, "metadata/" + key);
    }
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
