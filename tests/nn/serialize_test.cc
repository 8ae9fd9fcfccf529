// Tests for nn/serialize.h (loom::save / loom::load, libtorch's torch::save /
// torch::load): model and optimizer round trips bit for bit, resumed training
// equal to uninterrupted training, the holder / shared_ptr / Module spellings,
// and refusal of wrong files with the module left unchanged.
#include "nn/serialize.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "optim/adam.h"
#include "testing.h"

namespace loom {
namespace {

class SerializeTest : public testing::TempDirTest {};

struct Net : nn::Module {
  Net() : Module("Net") {
    lstm = register_module("lstm", nn::LSTM(nn::LSTMOptions(3, 4)));
    fc = register_module("fc", nn::Linear(4, 2));
  }
  Tensor forward(const Tensor& x) { return fc->forward(std::get<0>(lstm->forward(x))); }
  nn::LSTM lstm{nullptr};
  nn::Linear fc{nullptr};
};

std::vector<double> flat(const std::vector<Tensor>& ts) {
  std::vector<double> all;
  for (const Tensor& t : ts) {
    std::vector<double> v = t.to_vector<double>();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

// One Adam step on a fixed batch drawn from `seed`.
void train_step(Net& net, optim::Adam& adam, std::uint64_t seed) {
  manual_seed(seed);
  Tensor x = randn({5, 2, 3});
  adam.zero_grad();
  Tensor loss = net.forward(x).pow(2).mean();
  loss.backward();
  adam.step();
}

TEST_F(SerializeTest, ModelAndOptimizerResumeExactlyAsUninterruptedTraining) {
  manual_seed(1);
  auto net = std::make_shared<Net>();
  optim::Adam adam(net->parameters(), optim::AdamOptions(1e-2));
  for (std::uint64_t s = 0; s < 3; ++s) train_step(*net, adam, 100 + s);
  save(net, file("net.h5"));
  save(adam, file("adam.h5"));
  for (std::uint64_t s = 3; s < 6; ++s) train_step(*net, adam, 100 + s);

  manual_seed(99);  // a different initialisation, overwritten by the load
  auto resumed = std::make_shared<Net>();
  optim::Adam adam2(resumed->parameters(), optim::AdamOptions(1e-2));
  load(resumed, file("net.h5"));
  load(adam2, file("adam.h5"));
  for (std::uint64_t s = 3; s < 6; ++s) train_step(*resumed, adam2, 100 + s);
  EXPECT_EQ(flat(resumed->parameters()), flat(net->parameters()));  // bit for bit
}

TEST_F(SerializeTest, HolderAndModuleSpellings) {
  manual_seed(2);
  nn::Linear a(3, 2), b(3, 2);
  save(a, file("a.h5"));  // a holder
  load(b, file("a.h5"));
  EXPECT_EQ(flat(b->parameters()), flat(a->parameters()));
  nn::Linear c(3, 2);
  load(*c, file("a.h5"));  // a Module&
  EXPECT_EQ(flat(c->parameters()), flat(a->parameters()));
  // The file is an ordinary checkpoint holding only the model.
  nn::Checkpoint ck = nn::load_checkpoint(file("a.h5"));
  EXPECT_EQ(ck.model.size(), 2u);
  EXPECT_TRUE(ck.optimizer.empty());
}

TEST_F(SerializeTest, WrongFilesAreRefusedAndLeaveTheModuleUnchanged) {
  manual_seed(3);
  nn::Linear small(3, 2), big(5, 2);
  save(small, file("small.h5"));
  const std::vector<double> before = flat(big->parameters());
  EXPECT_THROW(load(big, file("small.h5")), Error);  // size mismatch (Module::load_state_dict's message)
  EXPECT_EQ(flat(big->parameters()), before);
  EXPECT_THROW(load(big, file("missing.h5")), Error);
  // An optimizer file holds no model, and a model file no optimizer.
  optim::Adam adam(small->parameters());
  save(adam, file("adam.h5"));
  EXPECT_THROW(load(small, file("adam.h5")), Error);
  EXPECT_ERROR_TEXT(load(adam, file("small.h5")),
                    "cannot load optimizer state: checkpoint '" + file("small.h5") + "' holds none");
  std::shared_ptr<Net> null;
  EXPECT_ERROR_TEXT(save(null, file("x.h5")), "cannot save checkpoint '" + file("x.h5") + "': the module is null");
  EXPECT_ERROR_TEXT(load(null, file("x.h5")), "cannot load checkpoint '" + file("x.h5") + "': the module is null");
}

}  // namespace
}  // namespace loom
