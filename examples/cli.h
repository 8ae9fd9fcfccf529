// examples/cli.h: the small command-line parser the examples share.
//
//   std::int64_t steps = 300;
//   cli::Parser cli("forecast", "Forecasts a noisy signal with a GRU.");
//   cli.add("steps", "training steps", &steps);
//   if (!cli.parse(argc, argv)) return cli.exit_code();   // --help or a bad option
//
// Options are spelled `--name value` or `--name=value`; `--help` (or `-h`)
// prints the usage with every option's default. A bad option (unknown name,
// missing value, a value that is not a number where one is expected) prints
// "<program>: error: <what>" and a hint to stderr; parse() then returns false
// and exit_code() is 2 (0 after --help). device() turns a `--device` value
// into a loom::Device the same way for every example.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "core/device.h"
#include "core/error.h"

namespace cli {

class Parser {
 public:
  Parser(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  // Registers option `--name`; its current value is the default shown by --help.
  void add(const std::string& name, const std::string& help, std::int64_t* value) { add_any(name, help, value); }
  void add(const std::string& name, const std::string& help, double* value) { add_any(name, help, value); }
  void add(const std::string& name, const std::string& help, std::string* value) { add_any(name, help, value); }

  // Parses argv into the registered targets. Returns true when the program
  // should run; false after --help or an error (see exit_code()).
  bool parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        print_help();
        exit_code_ = 0;
        return false;
      }
      if (arg.rfind("--", 0) != 0) return fail(fmt::format("unexpected argument '{}'", arg));
      std::string name = arg.substr(2), value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      Option* option = find(name);
      if (option == nullptr) return fail(fmt::format("unknown option '--{}'", name));
      if (!inline_value) {
        if (i + 1 >= argc) return fail(fmt::format("option '--{}' needs a value", name));
        value = argv[++i];
      }
      if (!assign(*option, value)) return false;
    }
    return true;
  }

  // 0 after --help, 2 after a bad option.
  int exit_code() const { return exit_code_; }

  // The device a --device value names: "auto" is CUDA when a usable device is
  // present, else the CPU; "cpu", "cuda" and "cuda:N" as loom::Device parses
  // them. For a bad name, or CUDA without a usable device, reports the error
  // (see error()) and returns nullopt.
  std::optional<loom::Device> device(const std::string& name) const {
    if (name == "auto") return loom::cuda_available() ? loom::kCUDA : loom::kCPU;
    loom::Device device;
    try {
      device = loom::Device(name);
    } catch (const loom::Error& e) {
      error(e.what());
      return std::nullopt;
    }
    if (device.is_cuda() && !loom::cuda_available()) {
      error(fmt::format("--device {}: no usable CUDA device", name));
      return std::nullopt;
    }
    return device;
  }

  // Reports a bad value found after parsing (e.g. a range check) as parse()
  // would; returns 2 for main to return.
  int error(const std::string& what) const {
    std::fprintf(stderr, "%s: error: %s\n(run '%s --help' for the options)\n", program_.c_str(),
                 what.c_str(), program_.c_str());
    return 2;
  }

 private:
  using Target = std::variant<std::int64_t*, double*, std::string*>;
  struct Option {
    std::string name, help, default_text;
    Target target;
  };

  template <typename T>
  void add_any(const std::string& name, const std::string& help, T* value) {
    std::string shown;
    if constexpr (std::is_same_v<T, std::string>) shown = *value;
    else shown = fmt::format("{}", *value);
    options_.push_back({name, help, shown, value});
  }

  Option* find(const std::string& name) {
    for (Option& o : options_)
      if (o.name == name) return &o;
    return nullptr;
  }

  bool assign(Option& option, const std::string& value) {
    try {
      std::size_t used = 0;
      if (auto* i = std::get_if<std::int64_t*>(&option.target)) {
        std::int64_t v = std::stoll(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
        **i = v;
      } else if (auto* d = std::get_if<double*>(&option.target)) {
        double v = std::stod(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
        **d = v;
      } else {
        *std::get<std::string*>(option.target) = value;
      }
    } catch (const std::exception&) {
      const char* kind = std::holds_alternative<std::int64_t*>(option.target) ? "an integer" : "a number";
      return fail(fmt::format("option '--{}' expects {}, got '{}'", option.name, kind, value));
    }
    return true;
  }

  bool fail(const std::string& what) {
    exit_code_ = error(what);
    return false;
  }

  void print_help() const {
    fmt::print("usage: {} [options]\n\n{}\n\noptions:\n", program_, summary_);
    for (const Option& o : options_)
      fmt::print("  --{:<14} {} (default: {})\n", o.name + " X", o.help,
                 o.default_text.empty() ? "\"\"" : o.default_text);
    fmt::print("  --{:<14} print this help and exit\n", "help");
  }

  std::string program_, summary_;
  std::vector<Option> options_;
  int exit_code_ = 0;
};

}  // namespace cli
