// Checkpoints: a module's state_dict, an optimizer's and a schedule's state,
// a GradScaler's state, the step and a few named numbers, in one HDF5 file
// written atomically.
//
//   nn::save_checkpoint("run/last.h5", {model.state_dict(), adam.state_dict(),
//                                       sched.state_dict(), step, {{"epoch", 3}}});
//   nn::Checkpoint ck = nn::load_checkpoint("run/last.h5");
//   nn::restore(ck, model, &adam, sched);   // all or nothing
//   // with loss scaling: Checkpoint::grad_scaler = scaler.state_dict() and
//   nn::restore(ck, model, &adam, sched, scaler);
//   step = ck.step;
//
// File layout (version 2). Readable with h5py; tools/torch_hdf5.py converts
// the model group to and from a PyTorch state_dict (.pt).
//
//   /                        attributes: format = "loom-checkpoint" (string),
//                            version = 2 (int64), step (int64)
//   /model                   group; attribute keys = the state_dict's keys in
//                            their order, joined by "\n"
//   /model/<key>             one dataset per tensor under PyTorch's dotted
//                            name ("lstm.weight_ih_l0"), in its own dtype and
//                            shape (float32, float64, int64, bool as uint8)
//   /optimizer/tensors/<k>   the optimizer StateDict's tensors
//                            ("param_groups.0.params" int64, "state.0.exp_avg")
//   /optimizer/scalars/<k>   its scalars as scalar float64 datasets
//                            ("param_groups.0.lr", "state.0.step")
//   /scheduler/tensors/<k>, /scheduler/scalars/<k>   the schedule's, likewise
//   /grad_scaler/tensors/<k>, /grad_scaler/scalars/<k>   a GradScaler's state
//                            (scalars "scale", "growth_factor", "backoff_factor",
//                            "growth_interval", "_growth_tracker"); written
//                            only when Checkpoint::grad_scaler is not empty, so
//                            a file without one reads as before
//   /metadata/<k>            Checkpoint::metadata as scalar float64 datasets
//   each of the groups optimizer/tensors, optimizer/scalars, scheduler/tensors,
//   scheduler/scalars, grad_scaler/tensors, grad_scaler/scalars and metadata: attribute keys = its entries' names
//   joined by "\n" (so no key may contain a newline)
//
// Values round-trip bit for bit (dtypes are kept, scalars are float64, NaN and
// infinities included). Only /model is required: a file without /optimizer,
// /scheduler, /grad_scaler or /metadata (such as torch_hdf5.py writes) loads
// them empty.
//
// Damage is detected, not loaded (version 2). The file is written through
// core/hdf5_file.h, so all its metadata carries HDF5's checksums (HDF5 1.10
// format: superblock v3, version-2 object headers, links kept in the groups'
// headers) and every dataset is protected: a tensor with elements is chunked
// with the Fletcher32 filter and carries a 'crc32' attribute (the CRC-32 of
// its bytes, which also catches a chunk zeroed whole); a scalar (every
// optimizer / schedule / metadata scalar, a 0-dim tensor) has compact layout,
// its value inside its checksummed object header; an empty tensor has no
// data. Reading a version-2 file refuses a dataset without
// such protection, a checksum mismatch ("checksum mismatch in dataset
// 'model/w'"), and an entry listed in a 'keys' attribute whose dataset is
// gone ("optimizer state entry 'state.0.step' is missing"), each with the
// file's name. Restoring then requires every entry the optimizer and the
// schedule need (Optimizer::load_state_dict, LRScheduler::load_state_dict).
// Key lists are variable-length strings, which HDF5 keeps unchecksummed in
// its global heap: damage there makes the list disagree with the datasets,
// which is refused too.
//
// Version 1 (before checksums: HDF5's default file format, contiguous
// datasets, no 'keys' on the optimizer, schedule and metadata groups) still
// loads, with a one-line warning on stderr, once per file per process, that
// it carries no checksums; saving it again writes version 2.
//
// Atomicity: save_checkpoint writes a temporary file beside the target
// (".<name>.tmp-<pid>-<n>" in the same folder) and renames it over the target
// only once everything is written and flushed, so the target is always either
// the previous checkpoint or the new one, whole, even when the process is
// killed mid-save. A process killed mid-save leaves its temporary behind:
// loom never reads such files and does not delete them (another process may be
// writing one); delete ".<name>.tmp-*" files whose process is gone at will.
// A save that fails with an exception removes its temporary itself.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/device.h"
#include "nn/module.h"
#include "optim/grad_scaler.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"

namespace loom::nn {

// Everything a training run needs to resume. Empty optimizer / scheduler
// dicts mean "not saved".
struct Checkpoint {
  StateDict model;                    // Module::state_dict(), in its order
  optim::StateDict optimizer;         // Optimizer::state_dict()
  optim::StateDict scheduler;         // LRScheduler / ReduceLROnPlateau::state_dict()
  std::int64_t step = 0;              // e.g. optimizer steps taken
  std::map<std::string, double> metadata;  // anything else: epoch, best loss, ...
  std::string source;                 // the file load_checkpoint read ("" otherwise), for messages
  optim::StateDict grad_scaler;       // GradScaler::state_dict() (empty: none); last, so
                                      // that brace-initialised checkpoints keep their order
};

// The format attribute's value, the version this loom writes (with checksums)
// and the older version it still reads (without, with a warning).
inline constexpr const char* kCheckpointFormat = "loom-checkpoint";
inline constexpr std::int64_t kCheckpointVersion = 2;
inline constexpr std::int64_t kCheckpointVersionWithoutChecksums = 1;

// Writes `checkpoint` to `path` atomically (see the top of this file): on
// success `path` holds the new checkpoint; on any failure it still holds
// whatever it held before. Tensors may live on any device (copied to the host).
// Throws loom::Error "cannot save checkpoint '<path>': <why>" for a missing
// folder, an undefined tensor, a key that cannot be an HDF5 name (empty, ".",
// containing '/'), a key containing a newline, or a failed write.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads a checkpoint written by save_checkpoint (or by tools/torch_hdf5.py),
// version 2 or 1, with every tensor on `device` in its stored dtype and the
// model's keys in their saved order; sets Checkpoint::source to `path`. A
// version-1 file prints the no-checksums warning (see above). Throws
// loom::Error "cannot load checkpoint '<path>': <why>" when the file is
// missing, is not HDF5, is truncated or damaged (a checksum mismatch names
// the dataset or object; a listed entry whose dataset is gone is named, e.g.
// "grad scaler state entry 'scale' is missing"), is an HDF5 file of another kind (no format
// attribute, another format, another version), or its layout is broken (a
// listed entry without its dataset, a version-2 dataset without a checksum,
// ...).
Checkpoint load_checkpoint(const std::string& path, Device device = kCPU);

// Loads the checkpoint into `module` (strict: every key must match) and, when
// given, into `optimizer`: all or nothing. When a part refuses (missing or
// unexpected keys, size mismatches, a different parameter-group layout, a
// missing optimizer / schedule state entry: Module::load_state_dict's and
// Optimizer::load_state_dict's messages, prefixed "cannot restore the
// optimizer from checkpoint '<source>': "), the
// parts already loaded are put back as they were and the error is rethrown,
// so nothing has changed (to that end it holds a copy of the module's state
// while it runs). Throws loom::Error when `optimizer` is given but the
// checkpoint holds no optimizer state.
void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer = nullptr);
// The same, also restoring a schedule (throws when the checkpoint holds no
// schedule state). The optimizer is loaded after the schedule, so its lrs are
// the saved ones.
void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::LRScheduler& scheduler);
void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::ReduceLROnPlateau& scheduler);
// The same three, also restoring a GradScaler (GradScaler::load_state_dict,
// loaded after the schedule and before the optimizer, part of the all or
// nothing). Throws loom::Error "cannot restore the grad scaler: checkpoint
// '<source>' holds no grad scaler state" when the checkpoint has none and the
// scaler is enabled, and "cannot restore the grad scaler from checkpoint
// '<source>': grad scaler state entry '_growth_tracker' is missing" for a
// missing entry. A disabled scaler loads nothing (PyTorch's no-op).
void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::GradScaler& grad_scaler);
void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::LRScheduler& scheduler, optim::GradScaler& grad_scaler);
void restore(const Checkpoint& checkpoint, Module& module, optim::Optimizer* optimizer,
             optim::ReduceLROnPlateau& scheduler, optim::GradScaler& grad_scaler);

}  // namespace loom::nn
