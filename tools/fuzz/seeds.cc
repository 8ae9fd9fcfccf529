// Seed files for loom-fuzz-readers (see seeds.h).
#include "tools/fuzz/seeds.h"

#include <limits>
#include <memory>

#include "autograd/functions.h"
#include "core/generator.h"
#include "core/hdf5_file.h"
#include "core/native.h"
#include "core/tensor_io.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "nn/packed_sequence.h"
#include "nn/rnn.h"
#include "tools/fuzz/seed_net.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"

namespace loom::fuzz {

const char* reader_name(Reader r) {
  switch (r) {
    case Reader::Checkpoint: return "checkpoint";
    case Reader::Tensors: return "tensors";
    case Reader::Reference: return "reference";
  }
  return "?";
}

Reader reader_from_name(const std::string& name) {
  for (Reader r : kAllReaders)
    if (name == reader_name(r)) return r;
  fail("unknown reader '{}' (checkpoint, tensors or reference)", name);
}

namespace {

std::string write_checkpoint_seed(const std::string& dir) {
  manual_seed(1);
  SeedNet net;
  optim::Adam adam(net.parameters(), optim::AdamOptions(0.01).amsgrad(true));
  optim::CosineAnnealingLR sched(adam, 10);
  Tensor x = randn({4, 2, 3}), target = randn({4, 2, 2});
  for (int step = 0; step < 2; ++step) {
    adam.zero_grad();
    mse_loss(net.forward(x), target).backward();
    adam.step();
    sched.step();
  }
  std::string path = dir + "/seed-checkpoint.h5";
  nn::save_checkpoint(path, {net.state_dict(), adam.state_dict(), sched.state_dict(), 2,
                             {{"epoch", 1.0}}});
  return path;
}

std::string write_tensors_seed(const std::string& dir) {
  manual_seed(2);
  std::map<std::string, Tensor> tensors;
  tensors["weights"] = randn({3, 4});
  tensors["bias64"] = randn({5}, TensorOptions(kFloat64));
  tensors["count"] = tensor_int64({7}, {});
  tensors["ids"] = tensor_int64({1, -2, 3, 4}, {2, 2});
  tensors["mask"] = native::compare(native::CompareOp::Gt, randn({6}), zeros({6}));
  tensors["empty"] = zeros({0, 3});
  tensors["group/inner/x"] = randn({2, 1, 2});
  tensors["special"] = tensor({std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity(), -0.0},
                              TensorOptions(kFloat64));
  std::string path = dir + "/seed-tensors.h5";
  save_tensors(path, tensors);
  return path;
}

// Writes one rnn-reference-case/1 file (../shared/FIXTURES.md layout) for
// `module` run on `input` (and `lengths` when packed), with loom's own results
// as the expected values.
void write_case(const std::string& path, const std::string& mode, nn::RNNBase& module,
                const nn::RNNOptions& o, const Tensor& input, const std::vector<std::int64_t>& lengths,
                bool with_h0) {
  const bool lstm = mode == "LSTM", packed = !lengths.empty();
  const std::int64_t D = o.bidirectional_ ? 2 : 1, N = input.size(o.batch_first_ ? 0 : 1);
  const std::int64_t L = input.size(o.batch_first_ ? 1 : 0);
  const std::int64_t H_out = o.proj_size_ > 0 ? o.proj_size_ : o.hidden_size_;
  Tensor x = input.detach().requires_grad_();
  Tensor h0 = with_h0 ? randn({D * o.num_layers_, N, H_out}, TensorOptions(kFloat64)).requires_grad_()
                      : Tensor();
  Tensor c0 = with_h0 && lstm
                  ? randn({D * o.num_layers_, N, o.hidden_size_}, TensorOptions(kFloat64)).requires_grad_()
                  : Tensor();
  Tensor output, h_n, c_n;
  if (packed) {
    nn::PackedSequence seq = nn::pack_padded_sequence(x, lengths, o.batch_first_, false);
    nn::PackedSequence out;
    if (lstm) {
      std::optional<nn::LSTMImpl::State> state;
      if (with_h0) state = nn::LSTMImpl::State{h0, c0};
      auto [po, s] = static_cast<nn::LSTMImpl&>(module).forward(seq, state);
      out = po, h_n = std::get<0>(s), c_n = std::get<1>(s);
    } else {
      std::tie(out, h_n) = static_cast<nn::GRUImpl&>(module).forward(seq, h0);
    }
    output = std::get<0>(nn::pad_packed_sequence(out, o.batch_first_, 0.0, L));
  } else if (lstm) {
    std::optional<nn::LSTMImpl::State> state;
    if (with_h0) state = nn::LSTMImpl::State{h0, c0};
    auto [po, s] = static_cast<nn::LSTMImpl&>(module).forward(x, state);
    output = po, h_n = std::get<0>(s), c_n = std::get<1>(s);
  } else {
    std::tie(output, h_n) = static_cast<nn::GRUImpl&>(module).forward(x, h0);
  }
  Tensor g_out = randn(output.shape(), TensorOptions(kFloat64));
  Tensor g_h = randn(h_n.shape(), TensorOptions(kFloat64));
  Tensor g_c = lstm ? randn(c_n.shape(), TensorOptions(kFloat64)) : Tensor();
  Tensor loss = sum(output * g_out) + sum(h_n * g_h);
  if (lstm) loss = loss + sum(c_n * g_c);
  loss.backward();

  Hdf5File f = Hdf5File::create_atomic(path);
  f.set_attr_string("/", "format", "rnn-reference-case/1");
  f.set_attr_string("/", "mode", mode);
  f.set_attr_string("/", "layout", packed ? "packed" : "batched");
  f.set_attr_string("/", "source", "loom-fuzz-readers seed");
  f.set_attr_int("/", "input_size", o.input_size_);
  f.set_attr_int("/", "hidden_size", o.hidden_size_);
  f.set_attr_int("/", "num_layers", o.num_layers_);
  f.set_attr_int("/", "proj_size", o.proj_size_);
  f.set_attr_int("/", "bias", o.bias_ ? 1 : 0);
  f.set_attr_int("/", "batch_first", o.batch_first_ ? 1 : 0);
  f.set_attr_int("/", "bidirectional", o.bidirectional_ ? 1 : 0);
  f.set_attr_double("/", "dropout", o.dropout_);
  auto put = [&](const std::string& name, const Tensor& t) { f.write(name, to_host_array(t.detach())); };
  put("input", x);
  if (packed) put("lengths", tensor_int64(lengths, {static_cast<std::int64_t>(lengths.size())}));
  if (with_h0) put("h0", h0);
  if (c0.defined()) put("c0", c0);
  put("output", output);
  put("h_n", h_n);
  if (lstm) put("c_n", c_n);
  put("grad_output", g_out);
  put("grad_h_n", g_h);
  if (lstm) put("grad_c_n", g_c);
  put("grad/input", x.grad());
  if (with_h0) put("grad/h0", h0.grad());
  if (c0.defined()) put("grad/c0", c0.grad());
  for (auto& [name, param] : module.named_parameters()) {
    put("params/" + name, param);
    put("grad/params/" + name, param.grad());
  }
  f.commit();
}

std::vector<std::string> write_reference_seeds(const std::string& dir) {
  std::vector<std::string> paths;
  {
    manual_seed(3);
    nn::RNNOptions o(3, 4);
    o.num_layers(2);
    nn::LSTM lstm(o);
    lstm->to(kFloat64);
    lstm->eval();
    paths.push_back(dir + "/seed-reference-lstm->h5");
    write_case(paths.back(), "LSTM", lstm, o, randn({4, 2, 3}, TensorOptions(kFloat64)), {}, true);
  }
  {
    manual_seed(4);
    nn::RNNOptions o(2, 3);
    o.bidirectional(true).batch_first(true);
    nn::GRU gru(o);
    gru->to(kFloat64);
    gru->eval();
    paths.push_back(dir + "/seed-reference-gru-packed.h5");
    write_case(paths.back(), "GRU", gru, o, randn({3, 5, 2}, TensorOptions(kFloat64)), {5, 2, 4},
               false);
  }
  return paths;
}

}  // namespace

std::vector<std::string> write_seeds(Reader reader, const std::string& dir) {
  switch (reader) {
    case Reader::Checkpoint: return {write_checkpoint_seed(dir)};
    case Reader::Tensors: return {write_tensors_seed(dir)};
    case Reader::Reference: return write_reference_seeds(dir);
  }
  return {};
}

}  // namespace loom::fuzz
