// char_lstm: a character-level LSTM language model trained on Genesis and
// Exodus (King James Version, examples/data), in C++ with loom.
//
//   Embedding -> dropout -> LSTM (dropout between layers) -> dropout -> Linear
//   -> cross_entropy against the next character
//
// trained with truncated backpropagation through time (the recurrent state is
// carried from one chunk of text to the next, detached), Adam, gradient-norm
// clipping and a cosine learning-rate schedule. It validates on the last part
// of the text now and then, writes the loss curve to <out>/loss.csv and a
// checkpoint to <out>/checkpoint.h5 (model, optimizer, schedule, step, the
// carried state, the random generator: `--resume PATH` continues exactly as the
// uninterrupted run would), then samples some text and ends with the line
//
//   final validation loss: X nats/char (unigram baseline: Y)
//
// where Y is the loss of the best context-free guess (character frequencies).
// Runs on the GPU when one is present (`--device` chooses), else on the CPU.
// `char_lstm --help` lists the options.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "cli.h"
#include "core/generator.h"
#include "core/matmul_precision.h"
#include "nn/checkpoint.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/rnn.h"
#include "optim/optim.h"
#include "progress_bar.h"
#include "text_data.h"

using namespace loom;
using loom::examples::CharVocab;
using loom::examples::TbpttBatches;
using State = nn::LSTMImpl::State;  // (h, c), each (layers, batch, hidden)

#ifdef LOOM_SOURCE_DIR
static const char* const kDefaultData = LOOM_SOURCE_DIR "/examples/data/kjv_genesis_exodus.txt";
#else
static const char* const kDefaultData = "examples/data/kjv_genesis_exodus.txt";
#endif

// ---- settings --------------------------------------------------------------------

struct Settings {
  std::int64_t steps = 400;              // optimizer steps (each: batch x bptt characters)
  std::int64_t batch = 32;               // parallel text streams
  std::int64_t bptt = 64;                // characters per truncated-BPTT chunk
  std::int64_t embed = 64;               // embedding size
  std::int64_t hidden = 384;             // LSTM hidden size
  std::int64_t layers = 1;               // stacked LSTM layers (dropout between them when > 1)
  double dropout = 0.1;                  // on the embeddings, between layers and before the read-out
  double lr = 3e-3;                      // Adam's peak learning rate (cosine decay to lr / 20)
  double clip = 1.0;                     // maximum total gradient norm
  double val_fraction = 0.1;             // the text's last part held out for validation
  std::int64_t seed = 1;                 // initial weights, dropout, sampling
  std::string device = "auto";           // auto, cpu, cuda or cuda:N
  std::string data = kDefaultData;       // the training text
  std::string out = "char_lstm_out";     // loss.csv and checkpoint.h5 go here
  std::int64_t val_every = 100;          // validate every N steps (0: only at the end)
  std::int64_t checkpoint_every = 100;   // checkpoint every N steps (0: only at the end)
  std::int64_t log_every = 50;           // a progress line every N steps when not on a terminal
  std::int64_t sample_chars = 400;       // characters generated at the end
  double temperature = 0.8;              // sampling temperature
  std::string prime = "And God said";    // generation starts from this text
  std::string resume;                    // a checkpoint to continue from ("": start afresh)
  std::int64_t stop_at = 0;              // stop after this step as if interrupted (0: run to the end)
  std::string precision = "fp32";        // fp32, tf32, bf16 or fp16 (see kPrecisions)

  // The settings a resumed run must share with the run it continues.
  std::map<std::string, double> trajectory() const {
    return {{"steps", double(steps)},   {"batch", double(batch)},   {"bptt", double(bptt)},
            {"embed", double(embed)},   {"hidden", double(hidden)}, {"layers", double(layers)},
            {"dropout", dropout},       {"lr", lr},                 {"clip", clip},
            {"val_fraction", val_fraction}, {"seed", double(seed)}, {"precision", precision_index()}};
  }
  // The position of `precision` in kPrecisions (checked by check_settings).
  double precision_index() const;
};

// --precision, as PyTorch users train:
//   fp32  float32 throughout, TF32 off (loom's default);
//   tf32  float32 tensors, cuBLAS GEMMs on TF32 tensor cores
//         (set_float32_matmul_precision("high")); the CPU has no TF32;
//   bf16  float32 parameters, forward and loss under loom::autocast(kBFloat16);
//   fp16  likewise with kFloat16, and an optim::GradScaler for the loss.
constexpr const char* kPrecisions[] = {"fp32", "tf32", "bf16", "fp16"};

double Settings::precision_index() const {
  for (std::size_t i = 0; i < std::size(kPrecisions); ++i)
    if (precision == kPrecisions[i]) return static_cast<double>(i);
  return -1;
}

// The autocast type of a precision, or nullopt for fp32 and tf32.
std::optional<DType> autocast_type(const Settings& s) {
  if (s.precision == "bf16") return kBFloat16;
  if (s.precision == "fp16") return kFloat16;
  return std::nullopt;
}

// Registers every setting as a command-line option of `cli`.
void add_options(cli::Parser& cli, Settings& s) {
  cli.add("steps", "training steps", &s.steps);
  cli.add("batch", "parallel text streams per step", &s.batch);
  cli.add("bptt", "characters per truncated-BPTT chunk", &s.bptt);
  cli.add("embed", "embedding size", &s.embed);
  cli.add("hidden", "LSTM hidden size", &s.hidden);
  cli.add("layers", "stacked LSTM layers", &s.layers);
  cli.add("dropout", "dropout probability", &s.dropout);
  cli.add("lr", "peak learning rate of Adam", &s.lr);
  cli.add("clip", "maximum total gradient norm", &s.clip);
  cli.add("val-fraction", "fraction of the text held out for validation", &s.val_fraction);
  cli.add("seed", "random seed", &s.seed);
  cli.add("device", "auto, cpu, cuda or cuda:N", &s.device);
  cli.add("data", "the training text", &s.data);
  cli.add("out", "output directory (loss.csv, checkpoint.h5)", &s.out);
  cli.add("val-every", "validate every N steps, 0: only at the end", &s.val_every);
  cli.add("checkpoint-every", "checkpoint every N steps, 0: only at the end", &s.checkpoint_every);
  cli.add("log-every", "a progress line every N steps when stdout is not a terminal", &s.log_every);
  cli.add("sample-chars", "characters to generate at the end", &s.sample_chars);
  cli.add("temperature", "sampling temperature", &s.temperature);
  cli.add("prime", "the text that starts the generated sample", &s.prime);
  cli.add("resume", "continue from this checkpoint (e.g. char_lstm_out/checkpoint.h5)", &s.resume);
  cli.add("stop-at", "stop after this step, checkpointed, as Ctrl-C would (0: run all steps)", &s.stop_at);
  cli.add("precision", "fp32, tf32 (TF32 GEMMs), bf16 or fp16 (autocast; fp16 with loss scaling)", &s.precision);
}

// What is wrong with the settings, or "" when nothing is.
std::string check_settings(const Settings& s) {
  const std::pair<const char*, std::int64_t> at_least_one[] = {
      {"steps", s.steps}, {"batch", s.batch}, {"bptt", s.bptt},          {"embed", s.embed},
      {"hidden", s.hidden}, {"layers", s.layers}, {"log-every", s.log_every}};
  for (const auto& [name, value] : at_least_one)
    if (value < 1) return fmt::format("--{} must be at least 1, got {}", name, value);
  const std::pair<const char*, std::int64_t> non_negative[] = {
      {"seed", s.seed}, {"val-every", s.val_every}, {"checkpoint-every", s.checkpoint_every},
      {"sample-chars", s.sample_chars}, {"stop-at", s.stop_at}};
  for (const auto& [name, value] : non_negative)
    if (value < 0) return fmt::format("--{} must not be negative, got {}", name, value);
  if (!(s.dropout >= 0 && s.dropout < 1)) return fmt::format("--dropout must be in [0, 1), got {}", s.dropout);
  if (!(std::isfinite(s.lr) && s.lr > 0)) return fmt::format("--lr must be a positive number, got {}", s.lr);
  if (!(std::isfinite(s.clip) && s.clip > 0)) return fmt::format("--clip must be a positive number, got {}", s.clip);
  if (!(s.val_fraction > 0 && s.val_fraction < 1))
    return fmt::format("--val-fraction must be in (0, 1), got {}", s.val_fraction);
  if (!(std::isfinite(s.temperature) && s.temperature > 0))
    return fmt::format("--temperature must be a positive number, got {}", s.temperature);
  if (s.precision_index() < 0)
    return fmt::format("--precision expects fp32, tf32, bf16 or fp16, got '{}'", s.precision);
  if (s.out.empty()) return "--out must not be empty";
  if (s.prime.empty()) return "--prime must not be empty";
  if (s.device != "auto") {
    Device device;
    try {
      device = Device(s.device);
    } catch (const Error&) {
      return fmt::format("--device expects auto, cpu, cuda or cuda:N, got '{}'", s.device);
    }
    if (device.is_cuda() && device.index >= cuda_device_count())
      return fmt::format("--device {}: {}", s.device,
                         !cuda_compiled()            ? std::string("loom was built without CUDA")
                         : cuda_device_count() == 0 ? std::string("no CUDA device is present")
                                                    : fmt::format("only {} CUDA device(s) present", cuda_device_count()));
  }
  return "";
}

// ---- the model ---------------------------------------------------------------------

class CharLSTM : public nn::Module {
 public:
  CharLSTM(std::int64_t vocab, const Settings& s) : dropout_(s.dropout) {
    embed = register_module("embed", nn::Embedding(vocab, s.embed));
    lstm = register_module("lstm", nn::LSTM(
                                       nn::LSTMOptions(s.embed, s.hidden)
                                           .num_layers(s.layers)
                                           .dropout(s.layers > 1 ? s.dropout : 0.0)));  // between layers
    head = register_module("head", nn::Linear(s.hidden, vocab));
  }

  // Characters (T, N) Int64 and the state carried in (nullopt: zeros) ->
  // (logits (T, N, vocab), the state after the last character).
  std::tuple<Tensor, State> forward(const Tensor& chars, const std::optional<State>& state) {
    Tensor x = dropout(embed->forward(chars), dropout_, is_training());
    auto [out, next] = lstm->forward(x, state);
    return {head->forward(dropout(out, dropout_, is_training())), next};
  }
  std::string type() const override { return "CharLSTM"; }

  nn::Embedding embed{nullptr};
  nn::LSTM lstm{nullptr};
  nn::Linear head{nullptr};

 private:
  double dropout_;
};

// The state with its history cut: gradients stop at the chunk boundary.
State detached(const State& s) { return {std::get<0>(s).detach(), std::get<1>(s).detach()}; }

// Mean loss in nats/char over every chunk of `batches`, in eval mode, in the
// precision the model trains in (`low`: the autocast type, if any).
double evaluate(CharLSTM& model, const TbpttBatches& batches, Device device, std::optional<DType> low) {
  NoGradGuard no_grad;
  autocast guard(low.value_or(kBFloat16), low.has_value());
  model.eval();
  std::optional<State> state;
  double nats = 0;
  std::int64_t count = 0;
  for (std::int64_t k = 0; k < batches.chunks_per_epoch(); ++k) {
    auto [inputs, targets] = batches.chunk(k, device);
    auto [logits, next] = model.forward(inputs, state);
    nats += cross_entropy(logits.flatten(0, 1), targets.flatten(), -100, Reduction::Sum).item();
    count += targets.numel();
    state = next;
  }
  model.train();
  return nats / static_cast<double>(count);
}

// `length` characters sampled one at a time after `prime`, each from
// softmax(logits / temperature).
std::string generate(CharLSTM& model, const CharVocab& vocab, const std::string& prime, std::int64_t length,
                     double temperature, std::uint64_t seed, Device device, std::optional<DType> low) {
  NoGradGuard no_grad;
  autocast guard(low.value_or(kBFloat16), low.has_value());
  model.eval();
  std::mt19937_64 rng(seed);
  const std::vector<std::int64_t> ids = vocab.encode(prime);
  std::string text = prime;
  Tensor input = tensor_int64(ids, {static_cast<std::int64_t>(ids.size()), 1}, device);
  std::optional<State> state;
  for (std::int64_t i = 0; i < length; ++i) {
    auto [logits, next] = model.forward(input, state);
    state = next;
    Tensor last = logits.select(0, logits.size(0) - 1).select(0, 0);  // (vocab)
    std::vector<double> p = softmax(to(last, kFloat32) / temperature, 0).to_vector<double>();
    const auto id = static_cast<std::int64_t>(std::discrete_distribution<std::int64_t>(p.begin(), p.end())(rng));
    text += vocab.decode(id);
    input = tensor_int64({id}, {1, 1}, device);
  }
  model.train();
  return text;
}

// ---- checkpoints --------------------------------------------------------------------
// The checkpoint's model dict holds the model's state_dict plus the carried
// TBPTT state under kCarryH / kCarryC; its metadata the settings of
// Settings::trajectory(), the random generator and the data's hash.

const char* const kCarryH = "_carried_state.h";
const char* const kCarryC = "_carried_state.c";

// A 64-bit value as two exactly representable halves.
void put_u64(std::map<std::string, double>& m, const std::string& key, std::uint64_t v) {
  m[key + ".hi"] = static_cast<double>(v >> 32);
  m[key + ".lo"] = static_cast<double>(v & 0xffffffffu);
}
// The metadata entry `key` of the checkpoint at `path`; a loom::Error naming
// both when it is missing.
double metadata_at(const std::map<std::string, double>& m, const std::string& key, const std::string& path) {
  auto it = m.find(key);
  LOOM_CHECK(it != m.end(), "--resume: checkpoint '{}' has no metadata entry '{}'", path, key);
  return it->second;
}
std::uint64_t get_u64(const std::map<std::string, double>& m, const std::string& key, const std::string& path) {
  return (static_cast<std::uint64_t>(metadata_at(m, key + ".hi", path)) << 32) |
         static_cast<std::uint64_t>(metadata_at(m, key + ".lo", path));
}

// Set by SIGINT (Ctrl-C): training stops after the current step.
volatile std::sig_atomic_t interrupted = 0;

// ---- main -----------------------------------------------------------------------------

int run(const Settings& s) {
  const Device device = s.device == "auto" ? (cuda_available() ? kCUDA : kCPU) : Device(s.device);
  manual_seed(static_cast<std::uint64_t>(s.seed));
  const std::optional<DType> low = autocast_type(s);
  set_float32_matmul_precision(s.precision == "tf32" ? "high" : "highest");

  // The text: the first (1 - val_fraction) for training, the rest for validation.
  const std::string text = examples::read_text_file(s.data);
  const CharVocab vocab(text);
  const std::vector<std::int64_t> ids = vocab.encode(text);
  for (char c : s.prime)  // fail now rather than after training
    LOOM_CHECK(vocab.contains(c), "--prime: the character {:?} does not occur in {}", c, s.data);
  const auto n_val = static_cast<std::int64_t>(std::llround(static_cast<double>(ids.size()) * s.val_fraction));
  const std::vector<std::int64_t> train_ids(ids.begin(), ids.end() - n_val), val_ids(ids.end() - n_val, ids.end());
  LOOM_CHECK(n_val >= 2 && static_cast<std::int64_t>(train_ids.size()) > s.batch,
             "{} characters split by --val-fraction {} leave too little text for {} training streams or for "
             "validation", ids.size(), s.val_fraction, s.batch);
  const TbpttBatches train(train_ids, s.batch, s.bptt);
  // Validation: up to 32 streams read in chunks of 256 characters, every character once.
  const TbpttBatches val(val_ids, std::clamp<std::int64_t>((n_val - 1) / 256, 1, 32), 256);
  const double baseline = examples::unigram_cross_entropy(train_ids, val_ids, vocab.size());
  const double data_hash = examples::fnv1a32(text);  // stored in checkpoints, checked on --resume
  fmt::print("char_lstm: {} ({} characters, {} distinct): {} for training, {} for validation\n", s.data, ids.size(),
             vocab.size(), train_ids.size(), val_ids.size());

  CharLSTM model(vocab.size(), s);
  model.to(device);
  std::vector<Tensor> params = model.parameters();
  std::int64_t n_params = 0;
  for (const Tensor& p : params) n_params += p.numel();
  optim::Adam adam(params, optim::AdamOptions(s.lr));
  optim::CosineAnnealingLR schedule(adam, s.steps, s.lr / 20);
  // float16 gradients underflow without loss scaling: --precision fp16 scales
  // the loss (PyTorch's defaults); disabled, the scaler passes everything through.
  optim::GradScaler scaler(optim::GradScalerOptions().enabled(s.precision == "fp16"));
  fmt::print("model: {} ({} parameters) on {}\n", model.str(), n_params, device.str());
  fmt::print("training: {} steps of {} streams x {} characters ({} steps per epoch), Adam lr {} with cosine decay, "
             "clip {}, dropout {}, precision {}\n",
             s.steps, s.batch, s.bptt, train.chunks_per_epoch(), s.lr, s.clip, s.dropout, s.precision);
  std::fflush(stdout);  // show the set-up at once, also in a log (the first step may take long)

  // Outputs, and the state to continue from when resuming.
  namespace fs = std::filesystem;
  fs::create_directories(s.out);
  const std::string checkpoint_path = (fs::path(s.out) / "checkpoint.h5").string();
  const std::string csv_path = (fs::path(s.out) / "loss.csv").string();
  std::int64_t step = 0;
  std::optional<State> state;
  double elapsed_before = 0, smooth_loss = 0;  // smooth_loss: the bar's moving average of the training loss
  if (!s.resume.empty()) {
    LOOM_CHECK(fs::exists(s.resume), "--resume: there is no checkpoint at '{}'", s.resume);
    nn::Checkpoint ckpt = nn::load_checkpoint(s.resume, device);
    std::vector<std::string> differences;
    for (const auto& [key, value] : s.trajectory()) {
      auto it = ckpt.metadata.find(key);
      if (key == "precision" && it == ckpt.metadata.end() && value == 0) continue;  // older checkpoints: fp32
      if (it == ckpt.metadata.end() || it->second != value) {
        // Precisions by name: "--precision fp16 (checkpoint: bf16)".
        auto shown = [&](double v) {
          const auto i = static_cast<std::size_t>(v);
          return key == "precision" && v >= 0 && i < std::size(kPrecisions) && double(i) == v
                     ? std::string(kPrecisions[i]) : fmt::format("{}", v);
        };
        differences.push_back(fmt::format("--{} {} (checkpoint: {})", key, shown(value),
                                          it == ckpt.metadata.end() ? std::string("none") : shown(it->second)));
      }
    }
    if (!ckpt.metadata.count("data_hash") || ckpt.metadata.at("data_hash") != data_hash)
      differences.push_back(fmt::format("--data {} (a different text)", s.data));
    LOOM_CHECK(differences.empty(), "--resume: '{}' was written by a run with other settings: {}", s.resume,
               fmt::join(differences, ", "));
    state = State{ckpt.model.at(kCarryH), ckpt.model.at(kCarryC)};
    ckpt.model.erase(kCarryH);
    ckpt.model.erase(kCarryC);
    nn::restore(ckpt, model, &adam, schedule, scaler);  // all or nothing
    default_generator().set_state(get_u64(ckpt.metadata, "rng_seed", s.resume),
                                  get_u64(ckpt.metadata, "rng_offset", s.resume));
    step = ckpt.step;
    elapsed_before = metadata_at(ckpt.metadata, "elapsed_seconds", s.resume);
    smooth_loss = metadata_at(ckpt.metadata, "smooth_loss", s.resume);
    fmt::print("resumed from {} at step {}\n", s.resume, step);
  }
  auto save = [&](double elapsed) {
    nn::Checkpoint ckpt;
    ckpt.model = model.state_dict();
    ckpt.model.insert(kCarryH, std::get<0>(*state));  // saved after a step: a state exists
    ckpt.model.insert(kCarryC, std::get<1>(*state));
    ckpt.optimizer = adam.state_dict();
    ckpt.scheduler = schedule.state_dict();
    ckpt.grad_scaler = scaler.state_dict();  // empty unless fp16
    ckpt.step = step;
    ckpt.metadata = s.trajectory();
    ckpt.metadata["data_hash"] = data_hash;
    ckpt.metadata["elapsed_seconds"] = elapsed;
    ckpt.metadata["smooth_loss"] = smooth_loss;
    const GeneratorState rng = default_generator().state();
    put_u64(ckpt.metadata, "rng_seed", rng.seed);
    put_u64(ckpt.metadata, "rng_offset", rng.offset);
    nn::save_checkpoint(checkpoint_path, ckpt);
  };

  // The loss curve: a row per step; a resumed run drops the rows after its step.
  std::vector<std::string> kept_rows;
  if (!s.resume.empty() && fs::exists(csv_path)) {
    std::ifstream old(csv_path);
    std::string line;
    std::getline(old, line);  // header
    while (std::getline(old, line))
      if (!line.empty() && std::stoll(line) <= step) kept_rows.push_back(line);
  }
  std::ofstream csv(csv_path, std::ios::trunc);
  LOOM_CHECK(csv.good(), "cannot write '{}'", csv_path);
  csv << "step,train_loss,val_loss,lr,chars_per_second,elapsed_seconds\n";
  for (const std::string& row : kept_rows) csv << row << "\n";

  // Training: step k reads chunk (k - 1) mod chunks_per_epoch; the state is
  // carried across chunks and reset at the start of each epoch.
  examples::ProgressBar bar(step, s.steps, s.log_every);
  const double chars_per_step = static_cast<double>(s.batch * s.bptt);
  double chars_per_second = 0;
  auto last_time = examples::ProgressBar::Clock::now();
  // Ctrl-C (SIGINT) ends training after the current step, with a checkpoint.
  std::signal(SIGINT, [](int) { interrupted = 1; });
  const std::int64_t last_step = s.stop_at > 0 ? std::min(s.stop_at, s.steps) : s.steps;
  while (step < last_step && !interrupted) {
    const std::int64_t chunk = step % train.chunks_per_epoch();
    if (chunk == 0) state.reset();
    auto [inputs, targets] = train.chunk(chunk, device);
    Tensor loss;
    State next;
    {
      autocast guard(low.value_or(kBFloat16), low.has_value());
      auto [logits, carried] = model.forward(inputs, state);
      loss = cross_entropy(logits.flatten(0, 1), targets.flatten());  // float32 under autocast too
      next = carried;
    }
    adam.zero_grad();
    scaler.scale(loss).backward();
    scaler.unscale_(adam);  // clip the true gradients
    optim::clip_grad_norm_(params, s.clip);
    scaler.step(adam);  // skipped when a gradient overflowed
    scaler.update();
    const double lr = schedule.get_last_lr()[0];
    schedule.step();
    state = detached(next);
    ++step;

    const double value = loss.item();
    const auto now = examples::ProgressBar::Clock::now();
    const double rate = chars_per_step / std::chrono::duration<double>(now - last_time).count();
    last_time = now;
    smooth_loss = smooth_loss == 0 ? value : 0.95 * smooth_loss + 0.05 * value;
    chars_per_second = chars_per_second == 0 ? rate : 0.9 * chars_per_second + 0.1 * rate;
    bar.update(step, smooth_loss, chars_per_second, lr);

    std::string val_text;
    if (s.val_every > 0 && step % s.val_every == 0 && step < s.steps) {
      const double val_loss = evaluate(model, val, device, low);
      val_text = fmt::format("{:.6f}", val_loss);
      bar.message(fmt::format("step {}: validation loss {:.3f} nats/char (train {:.3f})", step, val_loss, smooth_loss));
    }
    csv << fmt::format("{},{:.6f},{},{:.6g},{:.0f},{:.2f}\n", step, value, val_text, lr, rate,
                       elapsed_before + bar.elapsed());
    if (s.checkpoint_every > 0 && step % s.checkpoint_every == 0 && step < s.steps) {
      csv.flush();
      save(elapsed_before + bar.elapsed());
      bar.message(fmt::format("step {}: checkpoint {}", step, checkpoint_path));
    }
    last_time = examples::ProgressBar::Clock::now();  // validation and saving are not training time
  }
  bar.finish();
  const double train_seconds = bar.elapsed();
  csv.flush();
  save(elapsed_before + train_seconds);
  std::signal(SIGINT, SIG_DFL);
  if (step < s.steps) {
    fmt::print("stopped at step {} of {}: continue with --resume {}\n", step, s.steps, checkpoint_path);
    return interrupted ? 130 : 0;
  }
  fmt::print("checkpoint: {}\nloss curve: {}\n", checkpoint_path, csv_path);

  if (s.sample_chars > 0) {
    fmt::print("sample (temperature {}):\n{}\n", s.temperature,
               generate(model, vocab, s.prime, s.sample_chars, s.temperature, static_cast<std::uint64_t>(s.seed),
                        device, low));
  }
  const double val_loss = evaluate(model, val, device, low);
  fmt::print("training time: {} (this run {})\n", examples::format_duration(elapsed_before + train_seconds),
             examples::format_duration(train_seconds));
  fmt::print("final validation loss: {:.3f} nats/char (unigram baseline: {:.3f})\n", val_loss, baseline);
  return 0;
}

int main(int argc, char** argv) {
  Settings settings;
  cli::Parser cli("char_lstm",
                  "Trains a character-level LSTM language model (truncated BPTT, Adam, clipping, cosine schedule),\n"
                  "validating and checkpointing as it goes; writes <out>/loss.csv and <out>/checkpoint.h5 and\n"
                  "samples text at the end.");
  add_options(cli, settings);
  if (!cli.parse(argc, argv)) return cli.exit_code();
  if (const std::string problem = check_settings(settings); !problem.empty()) return cli.error(problem);
  try {
    return run(settings);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "\nchar_lstm: error: {}\n", e.what());
    return 1;
  }
}
