// loom-rnn-check CASE.h5... [--device cpu|cuda] [--dtype float64|float32|bfloat16|float16]
//                [--rtol R] [--atol A] [--scale-atol]
//
// Plain cases (format rnn-reference-case/1) and the research variants
// (rnn-variant-case/1, docs/variant-cases.md: layer norm, zoneout, weight
// drop, locked dropout; training cases run with their stored masks) alike.
// --scale-atol multiplies each quantity's atol by max(1, max|expected|).
//
// Runs each PyTorch reference case (../shared/FIXTURES.md layout) through
// loom's RNN/LSTM/GRU, forward and backward, and prints one line per case
// with the worst error of each quantity. Exits 1 when any case is outside the
// tolerance (FIXTURES.md's suggestion for float64/float32; for bfloat16 and
// float16 2u * T * num_layers per case, see ReferenceTolerance; unless given), 2 on bad
// usage or an unreadable case.
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "nn/reference_case.h"

int main(int argc, char** argv) {
  using namespace loom;
  std::vector<std::string> files;
  Device device = kCPU;
  DType dtype = kFloat64;
  double rtol = -1, atol = -1;
  bool scale_atol = false;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> std::string {
        LOOM_CHECK(i + 1 < argc, "{} needs a value", a);
        return argv[++i];
      };
      if (a == "--device") device = Device(value());
      else if (a == "--dtype") {
        std::string d = value();
        LOOM_CHECK(d == "float32" || d == "float64" || d == "bfloat16" || d == "float16",
                   "--dtype must be float64, float32, bfloat16 or float16, got {}", d);
        dtype = d == "float32" ? kFloat32 : d == "float64" ? kFloat64
                : d == "bfloat16" ? kBFloat16 : kFloat16;
      } else if (a == "--rtol") rtol = std::stod(value());
      else if (a == "--atol") atol = std::stod(value());
      else if (a == "--scale-atol") scale_atol = true;
      else if (a == "-h" || a == "--help") {
        fmt::print("usage: loom-rnn-check CASE.h5... [--device cpu|cuda] [--dtype float64|float32|bfloat16|float16] "
                   "[--rtol R] [--atol A] [--scale-atol]\n");
        return 0;
      } else if (a.rfind("--", 0) == 0) fail("unknown option {}", a);
      else files.push_back(a);
    }
    LOOM_CHECK(!files.empty(), "no reference case given");
  } catch (const std::exception& e) {
    fmt::print(stderr, "loom-rnn-check: {}\nusage: loom-rnn-check CASE.h5... [--device cpu|cuda] "
               "[--dtype float64|float32|bfloat16|float16] [--rtol R] [--atol A] [--scale-atol]\n", e.what());
    return 2;
  }

  nn::ReferenceTolerance tol = nn::ReferenceTolerance::for_dtype(dtype);
  if (rtol >= 0 || atol >= 0) tol.per_rounding = 0;  // explicit tolerances apply as given
  if (rtol >= 0) tol.rtol = rtol;
  if (atol >= 0) tol.atol = atol;
  tol.scale_atol = scale_atol;
  int failed = 0, broken = 0;
  double worst = 0;
  for (const std::string& file : files) {
    try {
      nn::ReferenceCaseReport r = nn::run_reference_case(file, device, dtype, tol);
      std::string line = fmt::format("{} {} [{}]", r.ok ? "PASS" : "FAIL", file, r.summary);
      if (tol.per_rounding > 0)
        line += fmt::format(" tol={:.2e}", r.tolerance.rtol);
      for (const auto& q : r.quantities) {
        line += fmt::format(" {}={:.2e}{}", q.name, q.max_abs_error, q.ok ? "" : "(!)");
        worst = std::max(worst, q.max_abs_error);
      }
      fmt::print("{}\n", line);
      if (!r.ok) ++failed;
    } catch (const std::exception& e) {
      fmt::print("ERROR {}: {}\n", file, e.what());
      ++broken;
    }
  }
  fmt::print("{} cases on {} in {}: {} passed, {} failed, {} unreadable; worst abs error {:.3e} "
             "({})\n",
             files.size(), device.str(), dtype_name(dtype), files.size() - failed - broken, failed,
             broken, worst,
             tol.per_rounding > 0
                 ? fmt::format("rtol = atol = {} * T * num_layers per case", tol.per_rounding)
                 : fmt::format("rtol {}, atol {}{}", tol.rtol, tol.atol,
                               tol.scale_atol ? " x max(1, max|expected|)" : ""));
  return broken ? 2 : failed ? 1 : 0;
}
