// The readers loom-fuzz-readers feeds (see readers.h).
#include "tools/fuzz/readers.h"

#include <hdf5.h>

#include <exception>
#include <filesystem>
#include <memory>

#include "autograd/functions.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/tensor_io.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "nn/reference_case.h"
#include "nn/rnn.h"
#include "tools/fuzz/seed_net.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"

namespace loom::fuzz {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Accepted: return "accepted";
    case Verdict::Refused: return "refused";
    case Verdict::Unnamed: return "refused without naming the file";
    case Verdict::WrongType: return "non-loom exception";
    case Verdict::Leaked: return "leak";
  }
  return "?";
}

bool is_pass(Verdict v) { return v == Verdict::Accepted || v == Verdict::Refused; }

namespace {

void read_checkpoint(const std::string& path, Outcome& out) {
  nn::Checkpoint ck;
  try {
    ck = nn::load_checkpoint(path);
  } catch (const Error& e) {
    out.message = e.what();
    out.verdict = out.message.find(path) != std::string::npos ? Verdict::Refused : Verdict::Unnamed;
    return;
  }
  // What a resuming user does next: restore, then train on.
  try {
    manual_seed(5);
    SeedNet net;
    optim::Adam adam(net.parameters(), optim::AdamOptions(0.01).amsgrad(true));
    optim::CosineAnnealingLR sched(adam, 10);
    nn::restore(ck, net, &adam, sched);
    adam.zero_grad();
    mse_loss(net.forward(randn({4, 2, 3})), randn({4, 2, 2})).backward();
    adam.step();
    sched.step();
  } catch (const Error& e) {
    out.verdict = Verdict::Refused;  // restore() takes no path, so its refusals cannot name it
    out.message = std::string("(restore) ") + e.what();
  }
}

void read_tensors(const std::string& path, Outcome& out) {
  std::map<std::string, Tensor> tensors = load_tensors(path);
  double total = 0;
  for (const auto& [name, t] : tensors)
    for (double v : t.to_vector<double>()) total += v;
  out.message = fmt::format("{} tensors, sum {}", tensors.size(), total);
}

void read_reference(const std::string& path, Outcome& out) {
  nn::ReferenceCaseReport r =
      nn::run_reference_case(path, kCPU, kFloat64, nn::ReferenceTolerance::for_dtype(kFloat64));
  out.message = r.ok ? "PASS" : "FAIL (values differ)";
}

// Number of open file descriptors of this process (Linux), -1 elsewhere.
int open_fds() {
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return ec ? -1 : n;
}

}  // namespace

Outcome run_reader(Reader reader, const std::string& path) {
  Outcome out;
  const int fds_before = open_fds();
  try {
    switch (reader) {
      case Reader::Checkpoint: read_checkpoint(path, out); break;
      case Reader::Tensors: read_tensors(path, out); break;
      case Reader::Reference: read_reference(path, out); break;
    }
  } catch (const Error& e) {
    out.message = e.what();
    out.verdict = out.message.find(path) != std::string::npos ? Verdict::Refused : Verdict::Unnamed;
  } catch (const std::exception& e) {
    out.verdict = Verdict::WrongType;
    out.message = fmt::format("{}: {}", typeid(e).name(), e.what());
  } catch (...) {
    out.verdict = Verdict::WrongType;
    out.message = "an exception that is not a std::exception";
  }
  ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open > 0 && is_pass(out.verdict)) {
    out.message = fmt::format("{} HDF5 object(s) still open after the reader returned ({}: {})",
                              open, verdict_name(out.verdict), out.message);
    out.verdict = Verdict::Leaked;
  }
  const int fds_after = open_fds();
  if (fds_after > fds_before && is_pass(out.verdict)) {
    out.message = fmt::format("{} file descriptor(s) left open ({}: {})", fds_after - fds_before,
                              verdict_name(out.verdict), out.message);
    out.verdict = Verdict::Leaked;
  }
  return out;
}

}  // namespace loom::fuzz
