// loom::save / loom::load, as libtorch's torch::save / torch::load for a model
// or an optimizer:
//
//   loom::save(model, "model.h5");      // model: a Module, a holder or a shared_ptr
//   loom::save(adam, "adam.h5");
//   loom::load(model, "model.h5");      // strict: every key must match
//   loom::load(adam, "adam.h5");
//
// The files are loom checkpoints (nn/checkpoint.h: HDF5, checksummed, written
// atomically) holding only the model's or only the optimizer's state, so
// nn::load_checkpoint and tools/torch_hdf5.py read them too. Unlike libtorch's
// .pt archives they are not TorchScript; PyTorch reads them through
// tools/torch_hdf5.py.
#pragma once

#include <concepts>
#include <memory>
#include <string>

#include "nn/module.h"
#include "optim/optimizer.h"

namespace loom {

// Writes `module`'s state_dict() to `path` (atomically; tensors on any device).
// Throws loom::Error "cannot save checkpoint '<path>': <why>" as
// nn::save_checkpoint.
void save(const nn::Module& module, const std::string& path);
// Loads a file written by save(module, ...) (or a whole checkpoint: its model
// part) into `module`, strictly, onto the device of the module's parameters.
// All or nothing: on any error the module is unchanged. Throws loom::Error with
// nn::load_checkpoint's or Module::load_state_dict's message.
void load(nn::Module& module, const std::string& path);

// Writes `optimizer`'s state_dict() to `path`, as above.
void save(const optim::Optimizer& optimizer, const std::string& path);
// Loads a file written by save(optimizer, ...) (or a checkpoint's optimizer
// part) into `optimizer`. Throws loom::Error naming the file when it holds no
// optimizer state, and Optimizer::load_state_dict's message when the state
// does not fit (the optimizer is then unchanged).
void load(optim::Optimizer& optimizer, const std::string& path);

// The same for a module held by a shared_ptr (libtorch's
// torch::save(std::shared_ptr<Net>, path)); throws loom::Error when it is null.
template <typename M>
  requires std::derived_from<M, nn::Module>
void save(const std::shared_ptr<M>& module, const std::string& path) {
  LOOM_CHECK(module != nullptr, "cannot save checkpoint '{}': the module is null", path);
  save(static_cast<const nn::Module&>(*module), path);
}
template <typename M>
  requires std::derived_from<M, nn::Module>
void load(const std::shared_ptr<M>& module, const std::string& path) {
  LOOM_CHECK(module != nullptr, "cannot load checkpoint '{}': the module is null", path);
  load(static_cast<nn::Module&>(*module), path);
}

}  // namespace loom
