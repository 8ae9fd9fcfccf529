// word_lm: a word-level language model trained the AWD-LSTM way (Merity,
// Keskar & Socher 2017, "Regularizing and Optimizing LSTM Language Models") on
// Genesis and Exodus (King James Version, examples/data), in C++ with loom.
//
// The text is cut into words by examples/word_data.h's rule (lowercased,
// punctuation marks as tokens of their own, <eos> at each line's end); words
// seen fewer than --min-count times in the training part become <unk>. The
// token sequence is split into contiguous blocks: the first 80% for training,
// the next 10% for validation, the last 10% for testing.
//
// The model (examples/awd_lstm.h), and where each regulariser sits:
//   embedding dropout (--dropoute): whole rows of the embedding table are
//     dropped for the whole batch and the rest scaled by 1 / (1 - p);
//   locked dropout (one mask per sequence, shared by all steps) on the
//     embedding output (--dropouti), between the LSTM layers (--dropouth) and
//     on the last layer's output (--dropout);
//   weight drop (DropConnect) on every layer's W_hh (--wdrop), nn::LSTM's
//     weight_drop option: one mask per forward pass;
//   --layers separate one-layer nn::LSTMs, sizes emb -> hidden -> ... -> emb,
//     the last one as wide as the embedding, so that the softmax weight IS the
//     embedding table (tied weights) with a bias of its own;
//   the loss: cross-entropy + alpha * mean(dropped last output^2) (AR)
//     + beta * mean((h_t - h_{t-1})^2) over the undropped last output (TAR).
// Training: variable-length BPTT (examples/word_data.h: nominal --bptt with
// probability 0.95, else half, then N(nominal, 5^2); the learning rate of a
// step is scaled by length / bptt), the state carried between spans
// (detached) and reset each epoch, gradient-norm clipping, SGD with weight
// decay. After each epoch the validation perplexity is measured; NT-ASGD: when
// it is worse than the best of the evaluations before the last --nonmono ones
// (the paper's Algorithm 1 and its code), training switches to optim::ASGD
// (t0 = 0, lambd = 0: the plain average of every iterate since the switch);
// --asgd-at E switches after epoch E at the latest (default 5 of 6 epochs: a
// run this short seldom stalls, and the last epoch then shows the averaging;
// --asgd-at 0 leaves the switch to the trigger alone, as the paper does).
// From then on evaluation uses the averaged parameters (swapped in, evaluated,
// swapped back). The best validation model so far is saved with loom::save;
// at the end it is loaded and evaluated on validation and test, next to the
// perplexity of the unigram baseline (training counts, add-one smoothing).
// `word_lm --help` lists the options.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "awd_lstm.h"
#include "cli.h"
#include "core/generator.h"
#include "nn/serialize.h"
#include "nt_asgd.h"
#include "optim/optim.h"
#include "progress_bar.h"
#include "text_data.h"
#include "word_data.h"

// OpenBLAS's thread count (--threads); null when the BLAS is another one.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

using namespace loom;
using loom::examples::BpttSpan;
using loom::examples::WordStreams;
using loom::examples::WordVocab;
using loom::examples::AwdLstmLM;
using loom::examples::AwdLstmOptions;
using loom::examples::AwdLstmOutput;
using loom::examples::LstmState;

#ifdef LOOM_SOURCE_DIR
static const char* const kDefaultData = LOOM_SOURCE_DIR "/examples/data/kjv_genesis_exodus.txt";
#else
static const char* const kDefaultData = "examples/data/kjv_genesis_exodus.txt";
#endif

// ---- settings --------------------------------------------------------------------

struct Settings {
  std::int64_t epochs = 6;         // passes over the training text
  std::int64_t batch = 20;         // parallel streams
  std::int64_t bptt = 35;          // nominal span length of variable-length BPTT
  std::int64_t emb = 64;           // embedding size = the last LSTM layer's size (tied softmax)
  std::int64_t hidden = 192;       // size of the LSTM layers before the last
  std::int64_t layers = 2;         // LSTM layers (at least 2; AWD-LSTM has 3)
  double lr = 30;                  // SGD's learning rate, and ASGD's
  double clip = 0.25;              // maximum total gradient norm
  double wdecay = 1.2e-6;          // L2 weight decay
  double dropout = 0.4;            // locked dropout on the last layer's output
  double dropouth = 0.25;          // locked dropout between LSTM layers
  double dropouti = 0.4;           // locked dropout on the embedding output
  double dropoute = 0.1;           // embedding dropout (whole words)
  double wdrop = 0.3;              // weight drop on W_hh
  double alpha = 2;                // AR coefficient
  double beta = 1;                 // TAR coefficient
  std::int64_t nonmono = 2;        // the NT-ASGD trigger's window
  std::int64_t asgd_at = 5;        // switch to ASGD after this epoch at the latest (0: the trigger only)
  std::int64_t min_count = 2;      // words seen fewer times in training become <unk>
  std::int64_t eval_batch = 10;    // streams for validation and test
  std::int64_t max_tokens = 0;     // use only the text's first N tokens (0: all)
  std::int64_t seed = 1;           // weights, dropout masks, BPTT lengths
  std::int64_t threads = 0;        // OpenBLAS threads (0: the library's default)
  std::int64_t log_every = 20;     // a progress line every N steps when not on a terminal
  std::string device = "auto";     // auto, cpu, cuda or cuda:N
  std::string data = kDefaultData; // the text
  std::string csv = "word_lm_out/loss.csv";          // the per-step loss curve
  std::string checkpoint = "word_lm_out/best.h5";    // the best model on validation
};

// Registers every setting as a command-line option of `cli`.
void add_options(cli::Parser& cli, Settings& s) {
  cli.add("epochs", "passes over the training text", &s.epochs);
  cli.add("batch", "parallel text streams per step", &s.batch);
  cli.add("bptt", "nominal BPTT length (variable: N(bptt, 5^2), bptt/2 with probability 0.05)", &s.bptt);
  cli.add("emb", "embedding size = last LSTM layer's size (tied softmax weights)", &s.emb);
  cli.add("hidden", "size of the LSTM layers before the last", &s.hidden);
  cli.add("layers", "LSTM layers (at least 2)", &s.layers);
  cli.add("lr", "learning rate of SGD and of ASGD", &s.lr);
  cli.add("clip", "maximum total gradient norm", &s.clip);
  cli.add("wdecay", "L2 weight decay", &s.wdecay);
  cli.add("dropout", "locked dropout on the last layer's output", &s.dropout);
  cli.add("dropouth", "locked dropout between LSTM layers", &s.dropouth);
  cli.add("dropouti", "locked dropout on the embedding output", &s.dropouti);
  cli.add("dropoute", "embedding dropout (whole words' rows)", &s.dropoute);
  cli.add("wdrop", "weight drop (DropConnect) on each layer's W_hh", &s.wdrop);
  cli.add("alpha", "activation regularisation (AR) coefficient", &s.alpha);
  cli.add("beta", "temporal activation regularisation (TAR) coefficient", &s.beta);
  cli.add("nonmono", "NT-ASGD: switch when validation is worse than the best before the last N epochs", &s.nonmono);
  cli.add("asgd-at", "switch to ASGD after this epoch at the latest, whatever the trigger says (0: trigger only)",
          &s.asgd_at);
  cli.add("min-count", "words seen fewer times in the training text become <unk>", &s.min_count);
  cli.add("eval-batch", "streams for validation and test", &s.eval_batch);
  cli.add("max-tokens", "use only the first N tokens of the text (0: all)", &s.max_tokens);
  cli.add("seed", "random seed", &s.seed);
  cli.add("threads", "OpenBLAS threads (0: the library's default)", &s.threads);
  cli.add("log-every", "a progress line every N steps when stdout is not a terminal", &s.log_every);
  cli.add("device", "auto, cpu, cuda or cuda:N", &s.device);
  cli.add("data", "the training text", &s.data);
  cli.add("csv", "the loss curve, a row per step", &s.csv);
  cli.add("checkpoint", "where the best model on validation is saved", &s.checkpoint);
}

// What is wrong with the settings, or "" when nothing is.
std::string check_settings(const Settings& s) {
  const std::pair<const char*, std::int64_t> at_least_one[] = {
      {"epochs", s.epochs}, {"batch", s.batch},         {"bptt", s.bptt},           {"emb", s.emb},
      {"hidden", s.hidden}, {"nonmono", s.nonmono},     {"min-count", s.min_count}, {"eval-batch", s.eval_batch},
      {"log-every", s.log_every}};
  for (const auto& [name, value] : at_least_one)
    if (value < 1) return fmt::format("--{} must be at least 1, got {}", name, value);
  if (s.layers < 2) return fmt::format("--layers must be at least 2 (the last one is as wide as --emb), got {}", s.layers);
  const std::pair<const char*, std::int64_t> non_negative[] = {
      {"asgd-at", s.asgd_at}, {"max-tokens", s.max_tokens}, {"seed", s.seed}, {"threads", s.threads}};
  for (const auto& [name, value] : non_negative)
    if (value < 0) return fmt::format("--{} must not be negative, got {}", name, value);
  const std::pair<const char*, double> probabilities[] = {{"dropout", s.dropout},   {"dropouth", s.dropouth},
                                                          {"dropouti", s.dropouti}, {"dropoute", s.dropoute},
                                                          {"wdrop", s.wdrop}};
  for (const auto& [name, value] : probabilities)
    if (!(value >= 0 && value < 1)) return fmt::format("--{} must be in [0, 1), got {}", name, value);
  if (!(std::isfinite(s.lr) && s.lr > 0)) return fmt::format("--lr must be a positive number, got {}", s.lr);
  if (!(std::isfinite(s.clip) && s.clip > 0)) return fmt::format("--clip must be a positive number, got {}", s.clip);
  const std::pair<const char*, double> non_negative_numbers[] = {
      {"wdecay", s.wdecay}, {"alpha", s.alpha}, {"beta", s.beta}};
  for (const auto& [name, value] : non_negative_numbers)
    if (!(std::isfinite(value) && value >= 0)) return fmt::format("--{} must be a number >= 0, got {}", name, value);
  if (s.threads > 0 && openblas_set_num_threads == nullptr)
    return "--threads needs OpenBLAS, and loom was linked with another BLAS";
  if (s.csv.empty()) return "--csv must not be empty";
  if (s.checkpoint.empty()) return "--checkpoint must not be empty";
  return "";
}

// ---- the model (examples/awd_lstm.h) -------------------------------------------------

AwdLstmOptions model_options(const Settings& s, std::int64_t vocab) {
  AwdLstmOptions o;
  o.vocab = vocab, o.emb = s.emb, o.hidden = s.hidden, o.layers = s.layers;
  o.dropout = s.dropout, o.dropouth = s.dropouth, o.dropouti = s.dropouti, o.dropoute = s.dropoute;
  o.wdrop = s.wdrop;
  return o;
}

// Mean cross-entropy in nats per word over every position of `streams`, read
// in fixed spans of `bptt` with the state carried, in eval mode.
double evaluate(AwdLstmLM& model, const WordStreams& streams, std::int64_t bptt, Device device) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<LstmState> states;
  double nats = 0;
  for (const BpttSpan& span : examples::fixed_bptt_plan(streams.stream_length(), bptt)) {
    auto [inputs, targets] = streams.span(span.start, span.length, device);
    AwdLstmOutput f = model.forward(inputs, states);
    nats += cross_entropy(f.logits.flatten(0, 1), targets.flatten(), -100, Reduction::Sum).item();
    states = f.states;
  }
  model.train();
  return nats / static_cast<double>(streams.tokens_per_pass());
}

// A perplexity for printing: exp(nats), "inf" past double's range.
std::string ppl(double nats) { return fmt::format("{:.2f}", std::exp(nats)); }

// ---- main -----------------------------------------------------------------------------

int run(const Settings& s) {
  const Device device = s.device == "auto" ? (cuda_available() ? kCUDA : kCPU) : Device(s.device);
  if (s.threads > 0) openblas_set_num_threads(static_cast<int>(s.threads));
  manual_seed(static_cast<std::uint64_t>(s.seed));

  // The words, the split, the vocabulary (from the training part only).
  std::vector<std::string> tokens = examples::tokenize_words(examples::read_text_file(s.data));
  const std::size_t all_tokens = tokens.size();
  if (s.max_tokens > 0 && static_cast<std::size_t>(s.max_tokens) < tokens.size())
    tokens.resize(static_cast<std::size_t>(s.max_tokens));
  const examples::TextSplit split =
      examples::split_contiguous(tokens, 0.8, 0.1, std::max(s.batch, s.eval_batch) + 1);
  const WordVocab vocab(split.train, s.min_count);
  std::int64_t unk_train = 0, unk_valid = 0, unk_test = 0;
  const std::vector<std::int64_t> train_ids = vocab.encode(split.train, &unk_train);
  const std::vector<std::int64_t> valid_ids = vocab.encode(split.valid, &unk_valid);
  const std::vector<std::int64_t> test_ids = vocab.encode(split.test, &unk_test);
  const WordStreams train(train_ids, s.batch), valid(valid_ids, s.eval_batch), test(test_ids, s.eval_batch);
  const double unigram_valid = examples::unigram_cross_entropy(train_ids, valid_ids, vocab.size());
  const double unigram_test = examples::unigram_cross_entropy(train_ids, test_ids, vocab.size());
  fmt::print("word_lm: {}: {} tokens{}; vocabulary {} (words seen < {} times in training -> <unk>)\n", s.data,
             all_tokens, tokens.size() < all_tokens ? fmt::format(", the first {} used", tokens.size()) : "",
             vocab.size(), s.min_count);
  fmt::print("split 80/10/10: train {} tokens ({} <unk>), valid {} ({} <unk>), test {} ({} <unk>)\n",
             train_ids.size(), unk_train, valid_ids.size(), unk_valid, test_ids.size(), unk_test);
  fmt::print("unigram baseline (training counts, add-one): valid perplexity {}, test perplexity {}\n",
             ppl(unigram_valid), ppl(unigram_test));

  AwdLstmLM model(model_options(s, vocab.size()));
  model.to(device);
  const std::vector<Tensor> params = model.parameters();
  std::int64_t n_params = 0;
  for (const Tensor& p : params) n_params += p.numel();
  fmt::print("model: {} ({} parameters) on {}\n", model.str(), n_params, device.str());
  fmt::print("training: {} epochs, {} streams, bptt {} (variable), SGD lr {} then NT-ASGD (nonmono {}), clip {}, "
             "wdecay {}, dropout {}/{}/{}/{} (output/hidden/input/embedding), wdrop {}, AR {}, TAR {}\n",
             s.epochs, s.batch, s.bptt, s.lr, s.nonmono, s.clip, s.wdecay, s.dropout, s.dropouth, s.dropouti,
             s.dropoute, s.wdrop, s.alpha, s.beta);
  std::fflush(stdout);

  // Every epoch's spans, drawn up front so that the bar knows the step count.
  std::mt19937_64 length_rng(static_cast<std::uint64_t>(s.seed));
  std::vector<std::vector<BpttSpan>> plans;
  std::int64_t total_steps = 0;
  for (std::int64_t e = 0; e < s.epochs; ++e) {
    plans.push_back(examples::variable_bptt_plan(train.stream_length(), s.bptt, length_rng));
    total_steps += static_cast<std::int64_t>(plans.back().size());
  }

  namespace fs = std::filesystem;
  for (const std::string& path : {s.csv, s.checkpoint})
    if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
  std::ofstream csv(s.csv, std::ios::trunc);
  LOOM_CHECK(csv.good(), "cannot write '{}'", s.csv);
  csv << "step,epoch,train_loss,lr,asgd,val_loss,val_ppl,elapsed_seconds\n";

  optim::SGD sgd(params, optim::SGDOptions(s.lr).weight_decay(s.wdecay));
  std::unique_ptr<optim::ASGD> asgd;  // set at the switch
  std::vector<double> val_history;    // validation loss after each epoch
  double best_val = std::numeric_limits<double>::infinity();
  std::int64_t best_epoch = 0, step = 0;

  examples::ProgressBar bar(0, total_steps, s.log_every, "words");
  const auto start = examples::ProgressBar::Clock::now();
  double words_per_second = 0, smooth_loss = 0;
  for (std::int64_t epoch = 1; epoch <= s.epochs; ++epoch) {
    const auto epoch_start = examples::ProgressBar::Clock::now();
    const bool averaging = asgd != nullptr;  // this epoch's optimizer is ASGD
    optim::Optimizer& opt = averaging ? static_cast<optim::Optimizer&>(*asgd) : sgd;
    std::vector<LstmState> states;  // zeros at the start of each epoch
    double epoch_nats = 0, epoch_words = 0;
    const std::vector<BpttSpan>& plan = plans[static_cast<std::size_t>(epoch - 1)];
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const auto step_start = examples::ProgressBar::Clock::now();
      auto [inputs, targets] = train.span(plan[i].start, plan[i].length, device);
      AwdLstmOutput f = model.forward(inputs, states);
      Tensor raw_loss = cross_entropy(f.logits.flatten(0, 1), targets.flatten());
      Tensor loss = examples::awd_loss(raw_loss, f.raw_output, f.dropped, s.alpha, s.beta);
      opt.zero_grad();
      loss.backward();
      optim::clip_grad_norm_(params, s.clip);
      // A span's learning rate is scaled by its length (AWD-LSTM): long spans
      // do not outweigh short ones.
      const double lr = s.lr * static_cast<double>(plan[i].length) / static_cast<double>(s.bptt);
      opt.param_groups()[0].options->set_lr(lr);
      opt.step();
      opt.param_groups()[0].options->set_lr(s.lr);
      states = examples::detached(f.states);
      ++step;

      const double value = raw_loss.item();
      const double words = static_cast<double>(plan[i].length * s.batch);
      epoch_nats += value * words;
      epoch_words += words;
      const double rate =
          words / std::chrono::duration<double>(examples::ProgressBar::Clock::now() - step_start).count();
      smooth_loss = smooth_loss == 0 ? value : 0.95 * smooth_loss + 0.05 * value;
      words_per_second = words_per_second == 0 ? rate : 0.9 * words_per_second + 0.1 * rate;
      bar.update(step, smooth_loss, words_per_second, lr);

      const bool last = i + 1 == plan.size();
      std::string val_text = ",";
      if (last) {
        // Validation, with ASGD's averages when it is on (AWD-LSTM evaluates those).
        if (averaging) asgd->swap_with_averages();
        const double val = evaluate(model, valid, s.bptt, device);
        std::string saved;
        if (val < best_val) {
          best_val = val;
          best_epoch = epoch;
          loom::save(model, s.checkpoint);
          saved = "  saved";
        }
        if (averaging) asgd->swap_with_averages();
        val_text = fmt::format("{:.6f},{:.4f}", val, std::exp(val));
        const double epoch_seconds =
            std::chrono::duration<double>(examples::ProgressBar::Clock::now() - epoch_start).count();
        bar.message(fmt::format("epoch {}/{}  train loss {:.3f} (ppl {})  valid ppl {}  {:.1f} s  {}{}", epoch,
                                s.epochs, epoch_nats / epoch_words, ppl(epoch_nats / epoch_words), ppl(val),
                                epoch_seconds, averaging ? "ASGD" : "SGD", saved));
        // NT-ASGD: worse than the best of the evaluations before the last
        // `nonmono` ones (or --asgd-at) -> average from now on.
        const bool stalled = examples::nt_asgd_triggered(val_history, val, s.nonmono);
        if (!asgd && epoch < s.epochs && (stalled || epoch == s.asgd_at)) {
          asgd = std::make_unique<optim::ASGD>(params, optim::ASGDOptions(s.lr).t0(0).lambd(0).weight_decay(s.wdecay));
          bar.message(fmt::format("switching to ASGD after epoch {} ({})", epoch,
                                  stalled ? fmt::format("validation stalled over {} epochs", s.nonmono)
                                          : std::string("--asgd-at")));
        }
        val_history.push_back(val);
        csv.flush();  // the curve so far is readable while training goes on
      }
      csv << fmt::format("{},{},{:.6f},{:.6g},{},{},{:.2f}\n", step, epoch, value, lr,
                         averaging ? 1 : 0, val_text,
                         std::chrono::duration<double>(examples::ProgressBar::Clock::now() - start).count());
    }
  }
  bar.finish();
  csv.flush();
  const double train_seconds = std::chrono::duration<double>(examples::ProgressBar::Clock::now() - start).count();

  // The best model on validation, as saved, on validation and test.
  LOOM_CHECK(best_epoch > 0, "no epoch gave a finite validation loss (the last: {}); try a smaller --lr",
             val_history.empty() ? 0.0 : val_history.back());
  loom::load(model, s.checkpoint);
  const double val = evaluate(model, valid, s.bptt, device);
  const double test_loss = evaluate(model, test, s.bptt, device);
  fmt::print("training time: {} ({:.1f} s)\n", examples::format_duration(train_seconds), train_seconds);
  fmt::print("loss curve: {}\nbest checkpoint: {} (epoch {})\n", s.csv, s.checkpoint, best_epoch);
  fmt::print("valid perplexity: {} (unigram baseline: {})\n", ppl(val), ppl(unigram_valid));
  fmt::print("test perplexity: {} (unigram baseline: {}): {}\n", ppl(test_loss), ppl(unigram_test),
             test_loss < unigram_test ? "beats the baseline" : "does NOT beat the baseline");
  return 0;
}

int main(int argc, char** argv) {
  Settings settings;
  cli::Parser cli("word_lm",
                  "Trains a word-level AWD-LSTM language model (embedding, locked and weight dropout, tied weights,\n"
                  "AR/TAR, variable-length BPTT, SGD then NT-ASGD) on the example text; reports validation and test\n"
                  "perplexity of the best checkpoint against a unigram baseline, and writes a per-step loss CSV.");
  add_options(cli, settings);
  if (!cli.parse(argc, argv)) return cli.exit_code();
  if (const std::string problem = check_settings(settings); !problem.empty()) return cli.error(problem);
  try {
    return run(settings);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "\nword_lm: error: {}\n", e.what());
    return 1;
  }
}
