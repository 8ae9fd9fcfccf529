// classify_packed: sequence classification on variable-length sequences with
// a PackedSequence and a bidirectional GRU.
//
// The task: each sequence (length 5..40) holds distractor symbols and, at
// random places, marker symbols of K kinds (K = 3 by default), several of
// each. The label is the kind that occurs most often (ties are never drawn).
// No single position tells the answer: the model has to count across the
// whole sequence and remember the counts.
//
// The model: Embedding -> pack_padded_sequence (unsorted lengths) ->
// bidirectional GRU -> [h_n forward ; h_n backward] of the last layer ->
// Linear -> cross_entropy. Padding never enters the GRU: a packed batch runs
// each step only on the sequences still alive. Adam, gradient clipping.
// It prints the training loss as it falls, then the accuracy on a held-out
// set against chance (the share of the most frequent label in that set).
//
//   build/bin/classify-packed                 # ~10 s on a 2-core CPU
//   build/bin/classify-packed --help
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "cli.h"
#include "core/generator.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/packed_sequence.h"
#include "nn/rnn.h"
#include "optim/optim.h"

using namespace loom;

// Symbols: 0 is padding, 1..K the markers, K+1 .. K+distractors the rest.
struct Task {
  std::int64_t markers = 3, distractors = 8, min_len = 5, max_len = 40;
  std::int64_t vocab() const { return 1 + markers + distractors; }
};

// A batch of sequences padded to the longest, time-major.
struct Batch {
  Tensor tokens;                       // Int64 [T, N], 0 past each length
  std::vector<std::int64_t> lengths;   // [N], in batch order (unsorted)
  std::vector<std::int64_t> labels;    // [N], 0..K-1
};

Batch make_batch(const Task& task, std::int64_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::int64_t> length(task.min_len, task.max_len);
  std::uniform_int_distribution<std::int64_t> distractor(task.markers + 1, task.markers + task.distractors);
  Batch b;
  std::vector<std::vector<std::int64_t>> seqs;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::int64_t> s(static_cast<std::size_t>(length(rng)));
    for (auto& tok : s) tok = distractor(rng);
    // How many of each marker kind: the label's kind (uniform) occurs once or
    // twice more than the most frequent other kind; markers fill at most
    // about a third of the sequence (only the label's kind, once, when even
    // that does not fit).
    std::uniform_int_distribution<std::int64_t> kind(0, task.markers - 1), extra(1, 2);
    const std::int64_t room = std::max<std::int64_t>(1, static_cast<std::int64_t>(s.size()) / 3);
    std::uniform_int_distribution<std::int64_t> count(0, room / task.markers);
    const std::int64_t winner = kind(rng);
    std::vector<std::int64_t> counts(static_cast<std::size_t>(task.markers), 0);
    std::int64_t most = 0, total = 0;
    for (std::int64_t k = 0; k < task.markers; ++k)
      if (k != winner) most = std::max(most, counts[k] = count(rng));
    counts[winner] = most + extra(rng);
    for (auto c : counts) total += c;
    if (total > static_cast<std::int64_t>(s.size())) {
      std::fill(counts.begin(), counts.end(), 0);
      counts[winner] = 1;
    }
    // Put them at distinct random places.
    std::vector<std::size_t> places(s.size());
    for (std::size_t p = 0; p < places.size(); ++p) places[p] = p;
    std::shuffle(places.begin(), places.end(), rng);
    std::size_t next = 0;
    for (std::int64_t k = 0; k < task.markers; ++k)
      for (std::int64_t c = 0; c < counts[k]; ++c) s[places[next++]] = 1 + k;
    b.labels.push_back(winner);
    b.lengths.push_back(static_cast<std::int64_t>(s.size()));
    seqs.push_back(std::move(s));
  }
  const std::int64_t T = *std::max_element(b.lengths.begin(), b.lengths.end());
  std::vector<std::int64_t> padded(static_cast<std::size_t>(T * n), 0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::size_t t = 0; t < seqs[i].size(); ++t) padded[t * n + i] = seqs[i][t];
  b.tokens = tensor_int64(padded, {T, n});
  return b;
}

class Classifier : public nn::Module {
 public:
  Classifier(std::int64_t vocab, std::int64_t embed, std::int64_t hidden, std::int64_t layers,
             std::int64_t classes) {
    embedding = register_module("embedding", nn::Embedding(vocab, embed));
    gru = register_module(
        "gru", nn::GRU(nn::GRUOptions(embed, hidden).num_layers(layers).bidirectional(true)));
    head = register_module("head", nn::Linear(2 * hidden, classes));
  }
  // tokens Int64 [T, N] (on the model's device), lengths [N] -> logits [N, classes].
  Tensor forward(const Tensor& tokens, const std::vector<std::int64_t>& lengths) {
    nn::PackedSequence packed =
        nn::pack_padded_sequence(embedding->forward(tokens), lengths, /*batch_first=*/false,
                                 /*enforce_sorted=*/false);
    auto [output, h_n] = gru->forward(packed);  // h_n [2 * layers, N, hidden], batch order
    const std::int64_t L = h_n.size(0);
    Tensor summary = cat({h_n.select(0, L - 2), h_n.select(0, L - 1)}, 1);  // last layer, both directions
    return head->forward(summary);
  }
  std::string type() const override { return "Classifier"; }
  nn::Embedding embedding{nullptr};
  nn::GRU gru{nullptr};
  nn::Linear head{nullptr};
};

// Fraction of the batch whose argmax matches the label.
double accuracy(const Tensor& logits, const std::vector<std::int64_t>& labels) {
  std::vector<std::int64_t> predicted = argmax(logits, 1).to_vector<std::int64_t>();
  std::int64_t right = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) right += predicted[i] == labels[i];
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

int main(int argc, char** argv) {
  std::int64_t steps = 250, batch = 64, hidden = 32, embed = 16, layers = 1, test_size = 1000, seed = 1;
  double lr = 0.01, clip = 1.0;
  std::string device_name = "auto";
  Task task;
  cli::Parser cli("classify-packed",
                  "Trains a bidirectional GRU over packed variable-length sequences to name the marker\n"
                  "symbol that occurs most often in each, and reports accuracy on a held-out set.");
  cli.add("steps", "training steps (batches)", &steps);
  cli.add("batch", "sequences per batch", &batch);
  cli.add("hidden", "GRU hidden size", &hidden);
  cli.add("embed", "embedding size", &embed);
  cli.add("layers", "GRU layers", &layers);
  cli.add("lr", "Adam learning rate", &lr);
  cli.add("clip", "clip_grad_norm_ max norm", &clip);
  cli.add("min-len", "shortest sequence", &task.min_len);
  cli.add("max-len", "longest sequence", &task.max_len);
  cli.add("markers", "number of marker kinds (classes)", &task.markers);
  cli.add("test-size", "held-out sequences", &test_size);
  cli.add("seed", "seed of the data and of the initial weights", &seed);
  cli.add("device", "auto, cpu, cuda or cuda:N", &device_name);
  if (!cli.parse(argc, argv)) return cli.exit_code();
  if (steps < 1 || batch < 1 || hidden < 1 || embed < 1 || layers < 1 || test_size < 1)
    return cli.error("--steps, --batch, --hidden, --embed, --layers and --test-size must be at least 1");
  if (task.min_len < 1 || task.max_len < task.min_len)
    return cli.error(fmt::format("need 1 <= --min-len <= --max-len, got {} and {}", task.min_len, task.max_len));
  if (task.markers < 2 || task.markers > 64)
    return cli.error(fmt::format("--markers must be in 2..64, got {}", task.markers));
  if (!(lr > 0) || !(clip > 0) || !std::isfinite(lr) || !std::isfinite(clip))
    return cli.error("--lr and --clip must be positive and finite");
  const std::optional<Device> picked = cli.device(device_name);
  if (!picked) return 2;
  const Device device = *picked;

  try {
    manual_seed(static_cast<std::uint64_t>(seed));
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    Batch test = make_batch(task, test_size, rng);  // drawn first: the same set for any --steps

    Classifier model(task.vocab(), embed, hidden, layers, task.markers);
    model.to(device);
    optim::Adam adam(model.parameters(), optim::AdamOptions(lr));
    fmt::print("classify-packed: {} sequences of length {}..{}, {} classes, on {}\n", batch, task.min_len,
               task.max_len, task.markers, device.str());
    fmt::print("{}\n", model.str());

    auto start = std::chrono::steady_clock::now();
    double running_loss = 0, running_acc = 0;
    std::int64_t running = 0;
    const std::int64_t report_every = std::max<std::int64_t>(1, steps / 10);
    for (std::int64_t step = 1; step <= steps; ++step) {
      Batch b = make_batch(task, batch, rng);
      Tensor logits = model.forward(b.tokens.to(device), b.lengths);
      Tensor loss = cross_entropy(logits, tensor_int64(b.labels, {batch}, device));
      adam.zero_grad();
      loss.backward();
      optim::clip_grad_norm_(model.parameters(), clip);
      adam.step();
      running_loss += loss.item();
      running_acc += accuracy(logits, b.labels);
      ++running;
      if (step % report_every == 0 || step == steps) {
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        fmt::print("step {:5d}  train loss {:.4f}  train accuracy {:5.1f}%  ({:.1f} s)\n", step,
                   running_loss / running, 100 * running_acc / running, seconds);
        running_loss = running_acc = 0;
        running = 0;
      }
    }

    model.eval();
    NoGradGuard no_grad;
    double test_acc = accuracy(model.forward(test.tokens.to(device), test.lengths), test.labels);
    std::vector<std::int64_t> per_class(static_cast<std::size_t>(task.markers), 0);
    for (std::int64_t label : test.labels) ++per_class[label];
    double chance = static_cast<double>(*std::max_element(per_class.begin(), per_class.end())) /
                    static_cast<double>(test_size);
    fmt::print("test accuracy: {:.1f}% on {} held-out sequences (chance: {:.1f}%, the most frequent label): {}\n",
               100 * test_acc, test_size, 100 * chance,
               test_acc > chance + 0.05 ? "above chance" : "NOT clearly above chance");
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "classify-packed: error: %s\n", e.what());
    return 1;
  }
}
