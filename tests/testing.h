// Test helpers shared by every test file.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace loom::testing {

// True when a CUDA device can run kernels in this process.
bool has_cuda_device();

// Compares elementwise: |a - e| <= atol + rtol * |e|. On failure reports the
// count of bad elements and the worst one with its flat index. Returns the
// worst |a - e| seen (useful to report the error a run actually had).
double expect_all_close(std::span<const double> actual, std::span<const double> expected,
                        double rtol, double atol, const std::string& what = "");

// Same, for float data (converted to double first).
double expect_all_close(std::span<const float> actual, std::span<const float> expected,
                        double rtol, double atol, const std::string& what = "");

// Normwise relative error ||actual - reference||_2 / ||reference||_2, in
// double: 0 when both are zero, infinity when only the reference is zero or
// the sizes differ, NaN when either holds a NaN.
double relative_l2_error(std::span<const double> actual, std::span<const double> reference);

// Judges one float32 result of a device against float64 (issue 9's rule for
// float32 CUDA-vs-CPU comparisons): `ref64` is the CPU in float64 on the same
// float32-rounded inputs, `cpu32` the CPU reference in float32. Both float32
// results are measured against ref64; the device passes when its normwise
// error is at most `growth` times the CPU's plus `floor`, i.e. when it is as
// accurate as the CPU reference up to a fixed factor, however badly
// conditioned the case is. Returns {device error, CPU error}.
struct Float32Errors {
  double device = 0, cpu = 0;
};
Float32Errors expect_float32_as_accurate_as_cpu(std::span<const double> device32,
                                                std::span<const double> cpu32,
                                                std::span<const double> ref64, double growth,
                                                double floor, const std::string& what);

// A tensor of `dtype` holding uniform [-1, 1) values drawn in float64 from
// std::mt19937(seed): test data independent of loom's own generator.
Tensor random_tensor(const Shape& shape, unsigned seed, DType dtype = kFloat64);

// Sample mean, unbiased variance, minimum and maximum of `v` (two or more values).
struct Moments {
  double mean = 0, var = 0, min = 1e300, max = -1e300;
};
Moments moments(const std::vector<double>& v);

// Runs `fn` and expects a loom::Error whose message is exactly `text`.
void expect_error_text(const std::function<void()>& fn, const std::string& text);
// Runs `fn` and expects a loom::Error whose message contains `fragment` /
// every string in `fragments`.
void expect_error_containing(const std::function<void()>& fn, const std::string& fragment);
void expect_error_containing_all(const std::function<void()>& fn,
                                 const std::vector<std::string>& fragments);

// A fixture giving each test a fresh, empty folder under the system's
// temporary directory (named after the test and the process), removed
// afterwards whatever the test left in it.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // The path of `name` inside the folder.
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  // The names of every entry in the folder, sorted (to spot leftover temporaries).
  std::vector<std::string> entries() const;

  std::filesystem::path dir_;
};

// Path of a file under the source tree, e.g. source_path("tests/data/x.h5").
std::string source_path(const std::string& relative);
// The tensors of the committed HDF5 file at source_path(relative), by name,
// read once per path (core/tensor_io.h's load_tensors; its loom::Error for a
// missing or damaged file) and kept for the rest of the process.
const std::map<std::string, Tensor>& stored_tensors(const std::string& relative);
// Path of ../shared beside the checkout, or "" when it is absent.
std::string shared_dir();

}  // namespace loom::testing

// Skips the current test with a message when no CUDA device is present.
#define LOOM_SKIP_WITHOUT_CUDA()                                           \
  do {                                                                     \
    if (!::loom::testing::has_cuda_device())                               \
      GTEST_SKIP() << "no CUDA device: this CUDA test did not run";        \
  } while (0)

// Expects `statement` to throw loom::Error whose message is exactly `text`.
#define EXPECT_ERROR_TEXT(statement, text) \
  ::loom::testing::expect_error_text([&] { statement; }, std::string(text))
