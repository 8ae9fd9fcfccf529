// PackedSequence and its helpers, as torch.nn.utils.rnn: a batch of sequences
// of different lengths stored step after step without padding, so that a
// recurrent layer runs each step only on the sequences still alive.
//
// Layout (T steps, N sequences, * any trailing feature shape): sequences are
// ordered by decreasing length; step t holds batch_sizes[t] rows, one per
// sequence longer than t, and data stacks the steps:
//   lengths [3, 1, 2] (unsorted) -> sorted order [0, 2, 1],
//   batch_sizes [3, 2, 1], data rows: x0[0] x2[0] x1[0] | x0[1] x2[1] | x0[2]
//
// Every function here is differentiable in the tensors it packs or pads (the
// data is moved with narrow/reshape/cat and an index-select node), so
// gradients flow from a recurrent layer's packed output back to the padded
// input.
#pragma once

#include <cstdint>
#include <tuple>
#include <vector>

#include "core/tensor.h"

namespace loom::nn {

struct PackedSequence {
  Tensor data;              // (R, *) the packed rows, R = sum(batch_sizes)
  Tensor batch_sizes;       // (T) Int64 on the CPU: rows per step, non-increasing
  Tensor sorted_indices;    // (N) Int64 on data's device: sorted_indices[k] is the
                            // batch index of the k-th longest sequence; undefined
                            // when the input was already sorted (enforce_sorted)
  Tensor unsorted_indices;  // (N) the inverse permutation; undefined with sorted_indices

  // The same sequence with data and indices on `device` (batch_sizes stays on
  // the CPU, as in PyTorch); differentiable in data.
  PackedSequence to(Device device) const;
  bool is_cuda() const { return data.defined() && data.is_cuda(); }
};

// Packs a padded batch: input (T, N, *) (or (N, T, *) when batch_first), with
// lengths[i] the length of sequence i (an Int64 1-D CPU tensor, or a vector).
// With enforce_sorted the lengths must be non-increasing and the indices stay
// undefined; otherwise the sequences are sorted (stably) by decreasing length
// and sorted_indices / unsorted_indices record the permutation. Throws
// loom::Error, in PyTorch's words where it has them, when: input has fewer than
// 2 dimensions or no elements ("Cannot pack empty tensors."), lengths is not
// a 1-D CPU tensor or has the wrong count, a length is <= 0, a length exceeds
// T, or (enforce_sorted) the lengths are not sorted.
PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths, bool batch_first = false,
                                    bool enforce_sorted = true);
PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<std::int64_t>& lengths,
                                    bool batch_first = false, bool enforce_sorted = true);

// The inverse of pack_padded_sequence: (padded, lengths) with padded (T', N, *)
// (or (N, T', *) when batch_first, a transposed view as in PyTorch), T' = the
// longest length or total_length when given (>= 0), positions past each length
// filled with padding_value, sequences in the original batch order; lengths is
// Int64 (N) on the CPU. Throws loom::Error for total_length shorter than the
// longest sequence (PyTorch's words) and for an inconsistent PackedSequence.
std::tuple<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first = false,
                                               double padding_value = 0.0, std::int64_t total_length = -1);

// Stacks sequences (L_i, *) into (max L_i, N, *) (or (N, max L_i, *) when
// batch_first), padding with padding_value. Throws for an empty list ("received
// an empty list of sequences") or sequences that differ in trailing shape,
// dtype or device.
Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first = false, double padding_value = 0.0);

// pack_padded_sequence(pad_sequence(sequences), their lengths, false, enforce_sorted).
PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted = true);

}  // namespace loom::nn

// operator<< and the fmt formatter for PackedSequence.
#include "nn/print.h"  // IWYU pragma: export
