#include "nn/serialize.h"

#include <utility>

#include "nn/checkpoint.h"

namespace loom {

namespace {

// The device of the module's first parameter or buffer (CPU when it has none).
Device device_of(const nn::Module& module) {
  for (const Tensor& p : module.parameters()) return p.device();
  for (const Tensor& b : module.buffers()) return b.device();
  return kCPU;
}

}  // namespace

void save(const nn::Module& module, const std::string& path) {
  nn::Checkpoint checkpoint;
  checkpoint.model = module.state_dict();
  nn::save_checkpoint(path, checkpoint);
}

void load(nn::Module& module, const std::string& path) {
  nn::restore(nn::load_checkpoint(path, device_of(module)), module);
}

void save(const optim::Optimizer& optimizer, const std::string& path) {
  nn::Checkpoint checkpoint;
  checkpoint.optimizer = optimizer.state_dict();
  nn::save_checkpoint(path, checkpoint);
}

void load(optim::Optimizer& optimizer, const std::string& path) {
  nn::Checkpoint checkpoint = nn::load_checkpoint(path);
  LOOM_CHECK(!checkpoint.optimizer.empty(), "cannot load optimizer state: checkpoint '{}' holds none", path);
  optimizer.load_state_dict(checkpoint.optimizer);
}

}  // namespace loom
