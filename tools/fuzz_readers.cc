// loom-fuzz-readers: a seeded mutation fuzzer for loom's file readers.
//
//   loom-fuzz-readers [--reader NAME[=COUNT]]... [--count N] [--seed S]
//                     [--index I] [--work DIR] [--seed-file NAME=PATH]...
//                     [--timeout-ms MS] [--no-fork] [--input PATH]
//                     [--leak-check-every N]
//
// Readers (tools/fuzz/readers.h): checkpoint (nn::load_checkpoint + restore),
// tensors (load_tensors), reference (nn::run_reference_case, what
// loom-rnn-check runs). Each starts from seed files it writes itself
// (tools/fuzz/seeds.h) plus any --seed-file, and input I of a run with seed S
// is mutation mutation_key(S, reader, I) (tools/fuzz/mutations.h) of one seed.
// Every input runs in a forked child under a time limit; it must end in
// success or a loom::Error whose message names the file. Anything else (a
// non-loom exception, a message without the file name, HDF5 objects left
// open, a LeakSanitizer report, a crash or sanitizer report, a hang) is a
// failure: it is printed with the seed, index, mutation and a replay command,
// and the damaged file is kept in <work>/failures/. Exit status 0 when every
// input passed, 1 when any failed, 2 on bad usage.
//
// --index I replays input I alone (one --reader), printing the mutation and
// the outcome; --no-fork runs it in this process (for a debugger). --input
// PATH feeds that file, unmutated, to one --reader (e.g. a kept failure).
// Under AddressSanitizer, LeakSanitizer checks after every input, or after
// every Nth with --leak-check-every N (a check costs more than an input).
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "tools/fuzz/mutations.h"
#include "tools/fuzz/readers.h"
#include "tools/fuzz/seeds.h"

#if defined(__SANITIZE_ADDRESS__)
#define LOOM_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOM_FUZZ_ASAN 1
#endif
#endif

#ifdef LOOM_FUZZ_ASAN
extern "C" int __lsan_do_recoverable_leak_check();
// A damaged file may declare terabytes: let such allocations fail (std::bad_alloc,
// which loom must turn into a loom::Error) instead of ASan aborting. ASAN_OPTIONS
// in the environment still overrides this.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=8192:detect_leaks=1";
}
// libhdf5 1.10.8 loses blocks of its own free lists (H5FL, e.g. an object
// header's) when metadata fails its checksum; it also prints "infinite loop
// closing library" at exit then. That is libhdf5's leak, not loom's, and
// without frame pointers in libhdf5 its stacks end at the first libhdf5
// frame, so memory allocated inside libhdf5 is not reported. Leaks of memory
// loom allocates are; HDF5 identifiers loom leaves open are caught apart
// (readers.h).
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5\n"; }
#endif

namespace fs = std::filesystem;
using namespace loom;
using namespace loom::fuzz;

namespace {

constexpr const char* kUsage =
    "usage: loom-fuzz-readers [--reader checkpoint|tensors|reference[=COUNT]]... [--count N]\n"
    "                         [--seed S] [--index I] [--work DIR] [--seed-file NAME=PATH]...\n"
    "                         [--timeout-ms MS] [--no-fork] [--input PATH] [--leak-check-every N]\n";

struct Options {
  std::vector<std::pair<Reader, std::int64_t>> readers;  // count -1: --count
  std::int64_t count = 1000;
  std::uint64_t seed = 1;
  std::optional<std::int64_t> index;
  std::string work;
  std::multimap<Reader, std::string> seed_files;
  int timeout_ms = 10000;
  bool fork = true;
  std::string input;  // --input: read this file as is
  std::int64_t leak_check_every = 1;
};

// Exit codes of a child.
constexpr int kChildPass = 0, kChildDefect = 3, kChildLeak = 4;

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n') c = '|';
  return s.size() > 2000 ? s.substr(0, 2000) + "..." : s;
}

// The result of one input as the parent sees it.
struct Result {
  bool pass = false;
  std::string kind;      // "accepted", "refused", or the failure kind
  std::string message;
  std::string mutation;
};

// Mutates and reads one input in this process; writes "M <mutation>" and
// "V <kind>\t<message>" lines to `fd` (when >= 0) as it goes. Returns the exit code.
int run_one(Reader reader, const std::string& seed_file, const std::string& input, std::uint64_t key,
            int fd, bool leak_check, Result& result) {
  auto say = [&](const std::string& line) {
    if (fd < 0) return;
    std::string l = line + "\n";
    ssize_t ignored = ::write(fd, l.data(), l.size());
    (void)ignored;
  };
  if (seed_file.empty()) result.mutation = "none (the file as is)";
  else result.mutation = mutate(seed_file, input, key);
  say("M " + one_line(result.mutation));
  Outcome o = run_reader(reader, input);
  result.pass = is_pass(o.verdict);
  result.kind = verdict_name(o.verdict);
  result.message = o.message;
  say("V " + result.kind + "\t" + one_line(o.message));
  if (!result.pass) return kChildDefect;
#ifdef LOOM_FUZZ_ASAN
  if (leak_check && __lsan_do_recoverable_leak_check() != 0) {
    result.pass = false;
    result.kind = "memory leak (LeakSanitizer report above)";
    say("V " + result.kind + "\t");
    return kChildLeak;
  }
#else
  (void)leak_check;
#endif
  return kChildPass;
}

// Runs one input in a forked child with a time limit and judges how it ended.
Result run_forked(Reader reader, const std::string& seed_file, const std::string& input,
                  std::uint64_t key, int timeout_ms, bool leak_check) {
  int fds[2];
  LOOM_CHECK(::pipe(fds) == 0, "loom-fuzz-readers: pipe() failed");
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  LOOM_CHECK(pid >= 0, "loom-fuzz-readers: fork() failed");
  if (pid == 0) {
    ::close(fds[0]);
    itimerval t{};
    t.it_value.tv_sec = timeout_ms / 1000;
    t.it_value.tv_usec = (timeout_ms % 1000) * 1000;
    ::setitimer(ITIMER_REAL, &t, nullptr);  // SIGALRM's default action ends the child
#ifndef LOOM_FUZZ_ASAN
    rlimit as{8ULL << 30, 8ULL << 30};  // terabyte-sized claims fail as std::bad_alloc
    ::setrlimit(RLIMIT_AS, &as);
#endif
    int code = 5;
    try {
      Result r;
      code = run_one(reader, seed_file, input, key, fds[1], leak_check, r);
    } catch (const std::exception& e) {
      std::string l = fmt::format("V harness error\t{}\n", one_line(e.what()));
      ssize_t ignored = ::write(fds[1], l.data(), l.size());
      (void)ignored;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}

  Result r;
  std::string verdict_line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl - start);
    if (line.rfind("M ", 0) == 0) r.mutation = line.substr(2);
    if (line.rfind("V ", 0) == 0) verdict_line = line.substr(2);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::size_t tab = verdict_line.find('\t');
  if (!verdict_line.empty()) {
    r.kind = verdict_line.substr(0, tab);
    r.message = tab == std::string::npos ? "" : verdict_line.substr(tab + 1);
  }
  if (r.kind == "harness error") {
    r.pass = false;
    r.kind = "harness error (a defect of loom-fuzz-readers itself, while mutating)";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kChildPass) {
    r.pass = true;
  } else if (WIFEXITED(status) && (WEXITSTATUS(status) == kChildDefect || WEXITSTATUS(status) == kChildLeak)) {
    r.pass = false;
  } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
    r.pass = false;
    r.kind = fmt::format("hang (no result within {} ms)", timeout_ms);
  } else {
    r.pass = false;
    std::string how = WIFSIGNALED(status) ? fmt::format("killed by signal {} ({})", WTERMSIG(status),
                                                        strsignal(WTERMSIG(status)))
                                          : fmt::format("exit status {}", WEXITSTATUS(status));
    r.kind = fmt::format("crash or sanitizer report ({}{})", how,
                         verdict_line.empty() ? ", while reading" : ", after the verdict");
  }
  return r;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      LOOM_CHECK(i + 1 < argc, "{} needs a value", a);
      return argv[++i];
    };
    auto number = [&](const std::string& s) -> std::int64_t {
      std::size_t used = 0;
      std::int64_t v = std::stoll(s, &used);
      LOOM_CHECK(used == s.size() && v >= 0, "{}: expected a non-negative integer, got '{}'", a, s);
      return v;
    };
    if (a == "--reader") {
      std::string v = value();
      std::size_t eq = v.find('=');
      o.readers.emplace_back(reader_from_name(v.substr(0, eq)),
                             eq == std::string::npos ? -1 : number(v.substr(eq + 1)));
    } else if (a == "--count") o.count = number(value());
    else if (a == "--seed") o.seed = static_cast<std::uint64_t>(number(value()));
    else if (a == "--index") o.index = number(value());
    else if (a == "--work") o.work = value();
    else if (a == "--timeout-ms") o.timeout_ms = static_cast<int>(number(value()));
    else if (a == "--no-fork") o.fork = false;
    else if (a == "--input") o.input = value();
    else if (a == "--leak-check-every") o.leak_check_every = std::max<std::int64_t>(1, number(value()));
    else if (a == "--seed-file") {
      std::string v = value();
      std::size_t eq = v.find('=');
      LOOM_CHECK(eq != std::string::npos, "--seed-file takes NAME=PATH, got '{}'", v);
      std::string path = v.substr(eq + 1);
      LOOM_CHECK(fs::is_regular_file(path), "--seed-file: no file '{}'", path);
      o.seed_files.emplace(reader_from_name(v.substr(0, eq)), path);
    } else if (a == "-h" || a == "--help") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else fail("unknown argument '{}'", a);
  }
  if (o.readers.empty())
    for (Reader r : kAllReaders) o.readers.emplace_back(r, -1);
  LOOM_CHECK(!o.index || o.readers.size() == 1, "--index needs exactly one --reader");
  LOOM_CHECK(o.input.empty() || (o.readers.size() == 1 && !o.index),
             "--input needs exactly one --reader and no --index");
  LOOM_CHECK(o.timeout_ms > 0, "--timeout-ms must be positive");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  try {
    opt = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "loom-fuzz-readers: {}\n{}", e.what(), kUsage);
    return 2;
  }
  try {
    if (opt.work.empty()) opt.work = (fs::temp_directory_path() / fmt::format("loom-fuzz-{}", ::getpid())).string();
    fs::create_directories(opt.work + "/seeds");
    fs::create_directories(opt.work + "/failures");
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // libhdf5's own printing; loom's messages say it all

    int failures = 0;
    std::int64_t total = 0;
    for (auto [reader, count] : opt.readers) {
      if (count < 0) count = opt.count;
      const std::string name = reader_name(reader);
      if (!opt.input.empty()) {
        Result r = opt.fork ? run_forked(reader, "", opt.input, 0, opt.timeout_ms, true) : Result();
        if (!opt.fork) run_one(reader, "", opt.input, 0, -1, true, r);
        fmt::print("{} {}: {}: {}\n", name, opt.input, r.pass ? "pass" : "FAIL", r.kind);
        fmt::print("  {}\n", r.message);
        return r.pass ? 0 : 1;
      }
      std::vector<std::string> seeds = write_seeds(reader, opt.work + "/seeds");
      for (auto [it, end] = opt.seed_files.equal_range(reader); it != end; ++it) seeds.push_back(it->second);
      const std::string input = opt.work + "/input-" + name + ".h5";
      // Every unmutated seed must be accepted, or refusals would prove nothing.
      for (const std::string& seed_file : seeds) {
        prepare_seed(seed_file);
        Result r = run_forked(reader, "", seed_file, 0, opt.timeout_ms, true);
        if (r.kind != "accepted") {
          ++failures;
          fmt::print("FAIL {}: the unmutated seed {} is not accepted: {}: {}\n", name, seed_file,
                     r.kind, r.message);
        }
      }
      const std::uint64_t tag = static_cast<std::uint64_t>(reader) + 1;
      std::int64_t first = opt.index.value_or(0), last = opt.index ? *opt.index + 1 : count;
      std::map<std::string, std::int64_t> kinds;
      auto t0 = std::chrono::steady_clock::now();
      double slowest_s = 0;
      std::int64_t slowest = -1;
      for (std::int64_t i = first; i < last; ++i) {
        std::uint64_t key = mutation_key(opt.seed, tag, static_cast<std::uint64_t>(i));
        const std::string& seed_file = seeds[(key >> 17) % seeds.size()];
        Result r;
        auto started = std::chrono::steady_clock::now();
        if (opt.fork) {
          r = run_forked(reader, seed_file, input, key, opt.timeout_ms,
                         opt.index || i % opt.leak_check_every == 0);
        } else {
          run_one(reader, seed_file, input, key, -1, true, r);
        }
        double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (took > slowest_s) slowest_s = took, slowest = i;
        ++kinds[r.pass ? r.kind : "FAILED"];
        if (opt.index)
          fmt::print("{} input {} (seed {}, from {}): {}\n  -> {}: {}\n", name, i, opt.seed,
                     fs::path(seed_file).filename().string(), r.mutation, r.kind, r.message);
        if (!r.pass) {
          ++failures;
          std::string kept = fmt::format("{}/failures/{}-seed{}-index{}.h5", opt.work, name, opt.seed, i);
          std::error_code ec;
          fs::copy_file(input, kept, fs::copy_options::overwrite_existing, ec);
          fmt::print("FAIL {} seed {} index {}: {}: {}\n  mutation of {}: {}\n  input kept: {}\n"
                     "  replay: loom-fuzz-readers --reader {} --seed {} --index {}{}\n",
                     name, opt.seed, i, r.kind, r.message, fs::path(seed_file).filename().string(),
                     r.mutation, ec ? "(copy failed)" : kept, name, opt.seed, i,
                     opt.seed_files.empty() ? "" : " (and the same --seed-file arguments)");
        }
        ++total;
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::string counts;
      for (const auto& [k, n] : kinds) counts += fmt::format(", {} {}", n, k);
      fmt::print("{}: {} mutated inputs from {} seed file(s) in {:.1f} s{}; slowest: index {} ({:.2f} s)\n",
                 name, last - first, seeds.size(), s, counts, slowest, slowest_s);
      std::error_code ec;
      fs::remove(input, ec);
    }
    fmt::print("{} inputs, {} failure(s) (seed {}, work folder {})\n", total, failures, opt.seed, opt.work);
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "loom-fuzz-readers: {}\n", e.what());
    return 2;
  }
}
