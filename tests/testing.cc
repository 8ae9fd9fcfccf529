#include "testing.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "core/device.h"
#include "core/error.h"
#include "core/tensor_io.h"

namespace loom::testing {

bool has_cuda_device() { return loom::cuda_available(); }

Tensor random_tensor(const Shape& shape, unsigned seed, DType dtype) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return tensor(v, shape, dtype);
}

Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size() - 1);
  return m;
}

void TempDirTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = std::filesystem::temp_directory_path() /
         fmt::format("loom_test_{}_{}_{}", static_cast<long>(::getpid()), info->test_suite_name(),
                     info->name());
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

void TempDirTest::TearDown() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> TempDirTest::entries() const {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir_))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

void expect_error_text(const std::function<void()>& fn, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "expected loom::Error: " << text;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), text);
  }
}

void expect_error_containing_all(const std::function<void()>& fn,
                                 const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected loom::Error containing: " << fragments.front();
  } catch (const Error& e) {
    std::string message = e.what();
    for (const auto& f : fragments)
      EXPECT_NE(message.find(f), std::string::npos)
          << "message was: " << message << "\nexpected to contain: " << f;
  }
}

void expect_error_containing(const std::function<void()>& fn, const std::string& fragment) {
  expect_error_containing_all(fn, {fragment});
}

double expect_all_close(std::span<const double> actual, std::span<const double> expected,
                        double rtol, double atol, const std::string& what) {
  EXPECT_EQ(actual.size(), expected.size()) << what << ": sizes differ";
  if (actual.size() != expected.size()) return std::numeric_limits<double>::infinity();
  std::size_t bad = 0, worst = 0;
  double worst_excess = -1, worst_abs = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    double a = actual[i], e = expected[i];
    double diff = std::abs(a - e);
    bool ok = diff <= atol + rtol * std::abs(e);
    // An infinity matches only the same infinity (|a - inf| <= rtol * inf
    // would accept any finite a).
    if (std::isinf(a) || std::isinf(e)) ok = false;
    if (std::isnan(a) != std::isnan(e)) ok = false;
    if (std::isnan(a) && std::isnan(e)) ok = true, diff = 0;
    if (a == e) ok = true, diff = 0;  // equal infinities (inf - inf would be NaN)
    if (!std::isnan(diff)) worst_abs = std::max(worst_abs, diff);
    double excess = std::isnan(diff) ? std::numeric_limits<double>::infinity()
                                     : diff - (atol + rtol * std::abs(e));
    if (!ok) ++bad;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  if (bad > 0)
    ADD_FAILURE() << fmt::format(
        "{}: {} of {} elements differ (rtol={}, atol={}); worst at flat index {}: actual {} vs "
        "expected {}",
        what, bad, actual.size(), rtol, atol, worst, actual[worst], expected[worst]);
  return worst_abs;
}

double expect_all_close(std::span<const float> actual, std::span<const float> expected,
                        double rtol, double atol, const std::string& what) {
  std::vector<double> a(actual.begin(), actual.end()), e(expected.begin(), expected.end());
  return expect_all_close(std::span<const double>(a), std::span<const double>(e), rtol, atol, what);
}

double relative_l2_error(std::span<const double> actual, std::span<const double> reference) {
  if (actual.size() != reference.size()) return std::numeric_limits<double>::infinity();
  double diff2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double d = actual[i] - reference[i];
    diff2 += d * d;
    ref2 += reference[i] * reference[i];
  }
  if (std::isnan(diff2) || std::isnan(ref2)) return std::numeric_limits<double>::quiet_NaN();
  if (diff2 == 0) return 0;
  return ref2 == 0 ? std::numeric_limits<double>::infinity() : std::sqrt(diff2 / ref2);
}

Float32Errors expect_float32_as_accurate_as_cpu(std::span<const double> device32,
                                                std::span<const double> cpu32,
                                                std::span<const double> ref64, double growth,
                                                double floor, const std::string& what) {
  Float32Errors e{relative_l2_error(device32, ref64), relative_l2_error(cpu32, ref64)};
  EXPECT_TRUE(e.device <= growth * e.cpu + floor) << fmt::format(
      "{}: float32 error against float64 is {:.3g} on the device but {:.3g} on the CPU reference "
      "(allowed: {} x CPU + {})",
      what, e.device, e.cpu, growth, floor);
  return e;
}

std::string source_path(const std::string& relative) {
  return std::string(LOOM_SOURCE_DIR) + "/" + relative;
}

const std::map<std::string, Tensor>& stored_tensors(const std::string& relative) {
  static std::map<std::string, std::map<std::string, Tensor>> files;
  auto it = files.find(relative);
  if (it == files.end()) it = files.emplace(relative, load_tensors(source_path(relative))).first;
  return it->second;
}

std::string shared_dir() {
  std::filesystem::path p(LOOM_SHARED_DIR);
  return std::filesystem::is_directory(p) ? std::filesystem::canonical(p).string() : "";
}

}  // namespace loom::testing
