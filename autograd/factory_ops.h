// More of PyTorch's factories: random integers and permutations, the *_like
// factories, and nested-list literals.
//
//   Tensor ids = randint(0, 10, {4, 5});            // Int64 in [0, 10)
//   Tensor order = randperm(8);                     // a permutation of 0..7
//   Tensor w = tensor({{1.0, 2.0}, {3.0, 4.0}});    // [2, 2] float32
#pragma once

#include <cstdint>
#include <initializer_list>

#include "core/tensor.h"

namespace loom {

// Integers uniform in [low, high) (Int64 unless options give another dtype,
// floating dtypes included), from the default Philox generator: the same
// seed gives the same values on the CPU and on CUDA. Throws when low >= high
// ("random_ expects 'from' to be less than 'to', but got from=5 >= to=5").
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options = kInt64);
Tensor randint(std::int64_t high, const Shape& shape, TensorOptions options = kInt64);

// A random permutation of 0 .. n-1 (Int64 unless options say otherwise),
// from the default generator (the order of n uniform draws); same seed, same
// permutation on every device.
Tensor randperm(std::int64_t n, TensorOptions options = kInt64);

// Tensors of x's shape, dtype and device: uninitialised, U[0, 1), N(0, 1).
Tensor empty_like(const Tensor& x);
Tensor rand_like(const Tensor& x);
Tensor randn_like(const Tensor& x);

// Nested-list literals (rows of equal length, else loom::Error naming the
// row): 2-D and 3-D, float32 unless options give a dtype. Rows of one
// element are ambiguous in C++ ({{1.0}, {2.0}} is also a 1-D list of two
// values): write tensor({1.0, 2.0}).reshape({2, 1}).
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions options = {});
Tensor tensor(std::initializer_list<std::initializer_list<std::initializer_list<double>>> blocks,
              TensorOptions options = {});

}  // namespace loom
