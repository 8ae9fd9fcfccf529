// CPU reference of the random fills (contracts in kernels/random.h): one counter
// (four elements) per step, the math of kernels/philox.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "kernels/philox.h"
#include "kernels/random.h"

namespace loom::kernels {

namespace random_detail {

void check_count(const char* what, index_t n) {
  LOOM_CHECK(n >= 0, "{}: expected a non-negative number of elements, got {}", what, n);
}

template <typename T>
void check_uniform_args(T low, T high) {
  LOOM_CHECK(low <= high, "uniform_ expects to return a [from, to) range, but found from={} > to={}",
             low, high);
  LOOM_CHECK(std::isfinite(high - low),
             "uniform_ expects to-from <= std::numeric_limits<{}>::max(), but found to={} and "
             "from={} which result in to-from to exceed the limit",
             std::is_same_v<T, float> ? "float" : "double", high, low);
}

template <typename T>
void check_normal_args(T std) {
  LOOM_CHECK(std >= T(0), "normal expects std >= 0.0, but found std {}", std);
}

template <typename T>
void check_dropout_args(T p) {
  LOOM_CHECK(p >= T(0) && p <= T(1), "dropout probability has to be between 0 and 1, but got {}",
             p);
}

template void check_uniform_args<float>(float, float);
template void check_uniform_args<double>(double, double);
template void check_normal_args<float>(float);
template void check_normal_args<double>(double);
template void check_dropout_args<float>(float);
template void check_dropout_args<double>(double);

}  // namespace random_detail

namespace {
// Calls body(g, values[4]) for each counter g of the fill and copies the values of
// its elements 4g .. 4g + 3 that are below n.
template <typename T, typename Body>
void for_each_counter(index_t n, T* out, Body body) {
  const index_t groups = static_cast<index_t>(counters_used(n));
  for (index_t g = 0; g < groups; ++g) {
    T v[kPhiloxLanes];
    body(static_cast<std::uint64_t>(g), v);
    const index_t base = g * kPhiloxLanes;
    const index_t count = std::min<index_t>(kPhiloxLanes, n - base);
    for (index_t l = 0; l < count; ++l) out[base + l] = v[l];
  }
}
}  // namespace

template <typename T>
void fill_uniform_cpu(index_t n, std::uint64_t seed, std::uint64_t offset, T low, T high, T* out) {
  random_detail::check_count("fill_uniform", n);
  random_detail::check_uniform_args(low, high);
  const T range = high - low;
  for_each_counter(n, out, [&](std::uint64_t g, T* v) {
    philox_uniform4<T>(seed, offset + g, v);
    for (int l = 0; l < kPhiloxLanes; ++l) v[l] = philox_uniform_value(v[l], low, range, high);
  });
}

template <typename T>
void fill_normal_cpu(index_t n, std::uint64_t seed, std::uint64_t offset, T mean, T std, T* out) {
  random_detail::check_count("fill_normal", n);
  random_detail::check_normal_args(std);
  for_each_counter(n, out, [&](std::uint64_t g, T* v) {
    philox_normal4<T>(seed, offset + g, v);
    for (int l = 0; l < kPhiloxLanes; ++l) v[l] = philox_normal_value(v[l], mean, std);
  });
}

template <typename T>
void fill_dropout_mask_cpu(index_t n, std::uint64_t seed, std::uint64_t offset, T p, T* mask) {
  random_detail::check_count("fill_dropout_mask", n);
  random_detail::check_dropout_args(p);
  const T scale = p < T(1) ? T(1) / (T(1) - p) : T(0);
  for_each_counter(n, mask, [&](std::uint64_t g, T* v) {
    philox_uniform4<T>(seed, offset + g, v);
    for (int l = 0; l < kPhiloxLanes; ++l) v[l] = philox_dropout_value(v[l], p, scale);
  });
}

#define LOOM_INSTANTIATE_RANDOM_CPU(T)                                                        \
  template void fill_uniform_cpu<T>(index_t, std::uint64_t, std::uint64_t, T, T, T*);         \
  template void fill_normal_cpu<T>(index_t, std::uint64_t, std::uint64_t, T, T, T*);          \
  template void fill_dropout_mask_cpu<T>(index_t, std::uint64_t, std::uint64_t, T, T*);
LOOM_INSTANTIATE_RANDOM_CPU(float)
LOOM_INSTANTIATE_RANDOM_CPU(double)
#undef LOOM_INSTANTIATE_RANDOM_CPU

}  // namespace loom::kernels
