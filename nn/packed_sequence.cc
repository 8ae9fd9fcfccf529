#include "nn/packed_sequence.h"

#include <algorithm>
#include <numeric>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"

namespace loom::nn {

namespace {

// ---- index_select along one dimension (differentiable) -----------------------------

// x with dimension `dim` fixed at `i`: a view without autograd history.
Tensor raw_select(const Tensor& x, std::int64_t dim, std::int64_t i) {
  Shape shape = x.shape(), strides = x.strides();
  std::int64_t offset = x.storage_offset() + i * strides[dim];
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  return make_view(x, shape, strides, offset);
}

// out[.., k, ..] = x[.., index[k], ..] along dim; moves whole slices, so it
// costs one copy per index (index here is a batch permutation: N entries).
Tensor gather_slices(const Tensor& x, std::int64_t dim, const std::vector<std::int64_t>& index) {
  Shape shape = x.shape();
  shape[dim] = static_cast<std::int64_t>(index.size());
  Tensor out = empty(shape, TensorOptions(x.dtype()).device(x.device()));
  for (std::size_t k = 0; k < index.size(); ++k)
    native::copy_(raw_select(out, dim, static_cast<std::int64_t>(k)), raw_select(x, dim, index[k]));
  return out;
}

struct IndexSelectBackward final : Node {
  std::int64_t dim = 0;
  std::vector<std::int64_t> index;
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    const TensorMeta& m = input_meta[0];
    if (grad_enabled()) return {differentiable_gradient(g[0])};
    Tensor grad = native::zeros(m.shape, TensorOptions(m.dtype).device(m.device));
    for (std::size_t k = 0; k < index.size(); ++k) {  // fixed order: deterministic
      Tensor slot = raw_select(grad, dim, index[k]);
      native::copy_(slot, native::binary(native::BinaryOp::Add, slot,
                                         raw_select(g[0], dim, static_cast<std::int64_t>(k))));
    }
    return {grad};
  }
  const char* name() const override { return "IndexSelectBackward"; }
  bool double_backward_ok() const override { return true; }

  // The same gradient from differentiable ops (select, add, stack), for a
  // backward with create_graph: slot j sums the slices of g taken from j.
  Tensor differentiable_gradient(const Tensor& g) const {
    const TensorMeta& m = input_meta[0];
    std::vector<Tensor> slots(static_cast<std::size_t>(m.shape[dim]));
    for (std::size_t k = 0; k < index.size(); ++k) {
      Tensor piece = select(g, dim, static_cast<std::int64_t>(k));
      Tensor& slot = slots[static_cast<std::size_t>(index[k])];
      slot = slot.defined() ? slot + piece : piece;
    }
    Shape slice_shape = m.shape;
    slice_shape.erase(slice_shape.begin() + dim);
    for (Tensor& slot : slots)
      if (!slot.defined()) slot = native::zeros(slice_shape, TensorOptions(m.dtype).device(m.device));
    return stack(slots, dim);
  }
};

// torch.index_select(x, dim, index) for host indices already checked in range.
Tensor index_select(const Tensor& x, std::int64_t dim, const std::vector<std::int64_t>& index) {
  Tensor out = gather_slices(x, dim, index);
  if (auto node = make_node<IndexSelectBackward>({x})) {
    node->dim = dim;
    node->index = index;
    set_history(out, node);
  }
  return out;
}

// ---- helpers ------------------------------------------------------------------------------------

std::vector<std::int64_t> lengths_vector(const Tensor& lengths) {
  LOOM_CHECK(lengths.defined(), "pack_padded_sequence: `lengths` is an undefined tensor");
  // PyTorch first converts lengths with torch.as_tensor(lengths, dtype=torch.int64).
  LOOM_CHECK(lengths.dim() == 1 && lengths.device().is_cpu(),
             "'lengths' argument should be a 1D CPU int64 tensor, but got {}D {} {} tensor", lengths.dim(),
             lengths.device(), scalar_type_name(DType::Int64));
  return lengths.to_vector<std::int64_t>();
}

Shape trailing(const Tensor& t, std::int64_t from) { return Shape(t.shape().begin() + from, t.shape().end()); }

Shape concat(Shape a, const Shape& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<std::int64_t> inverse_permutation(const std::vector<std::int64_t>& p) {
  std::vector<std::int64_t> inv(p.size());
  for (std::size_t k = 0; k < p.size(); ++k) inv[static_cast<std::size_t>(p[k])] = static_cast<std::int64_t>(k);
  return inv;
}

}  // namespace

// ---- PackedSequence ------------------------------------------------------------------------------

PackedSequence PackedSequence::to(Device device) const {
  auto move = [&](const Tensor& t) { return t.defined() ? loom::to(t, device) : t; };
  return PackedSequence{move(data), batch_sizes, move(sorted_indices), move(unsorted_indices)};
}

// ---- pack ------------------------------------------------------------------------------------------

PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<std::int64_t>& lengths_in,
                                    bool batch_first, bool enforce_sorted) {
  LOOM_CHECK(input.defined(), "pack_padded_sequence: `input` is an undefined tensor");
  LOOM_CHECK(input.dim() >= 2,
             "pack_padded_sequence: expected input of shape (T, N, *) (or (N, T, *) with batch_first), "
             "got a {}-D tensor",
             input.dim());
  Tensor x = batch_first ? transpose(input, 0, 1) : input;  // (T, N, *)
  const std::int64_t T = x.size(0), N = x.size(1);
  LOOM_CHECK(input.numel() > 0, "Cannot pack empty tensors.");
  LOOM_CHECK(static_cast<std::int64_t>(lengths_in.size()) == N,
             "Expected `len(lengths)` to be equal to batch_size, but got {} (batch_size={})", lengths_in.size(), N);

  std::vector<std::int64_t> lengths = lengths_in;
  std::vector<std::int64_t> sorted;  // empty when enforce_sorted
  if (!enforce_sorted) {
    sorted.resize(static_cast<std::size_t>(N));
    std::iota(sorted.begin(), sorted.end(), 0);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](std::int64_t a, std::int64_t b) { return lengths_in[a] > lengths_in[b]; });
    for (std::int64_t k = 0; k < N; ++k) lengths[k] = lengths_in[sorted[k]];
    x = index_select(x, 1, sorted);
  }
  LOOM_CHECK(lengths[N - 1] > 0,
             "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0");
  for (std::int64_t k = 0; k + 1 < N; ++k)
    LOOM_CHECK(lengths[k] >= lengths[k + 1],
               "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can "
               "pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this "
               "requirement if you do not need ONNX exportability.");
  // PyTorch 1.13 does not check this and returns an inconsistent PackedSequence.
  LOOM_CHECK(lengths[0] <= T,
             "pack_padded_sequence: a sequence has length {} but the padded input has only {} time steps",
             lengths[0], T);

  // Walk the lengths from the shortest: each new length adds a block of steps
  // [prev, l) in which the first N - k sequences are alive (PyTorch's algorithm).
  const Shape rest = trailing(x, 2);
  std::vector<Tensor> blocks;
  std::vector<std::int64_t> batch_sizes;
  std::int64_t prev = 0;
  for (std::int64_t k = 0; k < N; ++k) {
    std::int64_t l = lengths[N - 1 - k];
    if (l > prev) {
      std::int64_t alive = N - k;
      Tensor block = slice(slice(x, 0, prev, l), 1, 0, alive);  // (l - prev, alive, *)
      blocks.push_back(reshape(block, concat({(l - prev) * alive}, rest)));
      batch_sizes.insert(batch_sizes.end(), static_cast<std::size_t>(l - prev), alive);
      prev = l;
    }
  }
  PackedSequence out;
  out.data = blocks.size() == 1 ? contiguous(blocks[0]) : cat(blocks, 0);
  out.batch_sizes = tensor_int64(batch_sizes, {static_cast<std::int64_t>(batch_sizes.size())});
  if (!sorted.empty()) {
    out.sorted_indices = tensor_int64(sorted, {N}, input.device());
    out.unsorted_indices = tensor_int64(inverse_permutation(sorted), {N}, input.device());
  }
  return out;
}

PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths, bool batch_first,
                                    bool enforce_sorted) {
  return pack_padded_sequence(input, lengths_vector(lengths), batch_first, enforce_sorted);
}

// ---- pad ----------------------------------------------------------------------------------------------

std::tuple<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first,
                                               double padding_value, std::int64_t total_length) {
  const Tensor& data = sequence.data;
  const Tensor& bs = sequence.batch_sizes;
  LOOM_CHECK(data.defined() && bs.defined(), "pad_packed_sequence: the PackedSequence has undefined data or batch_sizes");
  LOOM_CHECK(bs.dim() == 1 && bs.device().is_cpu() && bs.dtype() == kInt64,
             "pad_packed_sequence: batch_sizes should be a 1D CPU int64 tensor, but got {}D {} {} tensor",
             bs.dim(), bs.device(), scalar_type_name(bs.dtype()));
  std::vector<std::int64_t> batch_sizes = bs.to_vector<std::int64_t>();
  const std::int64_t T = static_cast<std::int64_t>(batch_sizes.size());
  LOOM_CHECK(T > 0 && data.dim() >= 1, "pad_packed_sequence: the PackedSequence is empty");
  std::int64_t rows = 0;
  for (std::int64_t t = 0; t < T; ++t) {
    LOOM_CHECK(batch_sizes[t] > 0 && (t == 0 || batch_sizes[t] <= batch_sizes[t - 1]),
               "pad_packed_sequence: batch_sizes must be positive and non-increasing, got {}",
               shape_str(batch_sizes));
    rows += batch_sizes[t];
  }
  LOOM_CHECK(rows == data.size(0),
             "pad_packed_sequence: batch_sizes add up to {} rows but data has {} rows", rows, data.size(0));
  std::int64_t max_len = T;
  if (total_length >= 0) {
    LOOM_CHECK(total_length >= T,
               "Expected total_length to be at least the length of the longest sequence in input, but got "
               "total_length={} and max sequence length being {}",
               total_length, T);
    max_len = total_length;
  }
  const std::int64_t N = batch_sizes[0];
  const Shape rest = trailing(data, 1);
  const TensorOptions opts = TensorOptions(data.dtype()).device(data.device());

  // Runs of steps with the same batch size become one block (steps, N, *),
  // with padding for the sequences that already ended.
  std::vector<Tensor> blocks;
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(N));
  std::int64_t offset = 0, start = 0;
  for (std::int64_t t = 1; t <= T; ++t) {
    std::int64_t size = t < T ? batch_sizes[t] : 0;
    std::int64_t alive = batch_sizes[start];
    if (size == alive) continue;
    Tensor block = reshape(narrow(data, 0, offset, (t - start) * alive), concat({t - start, alive}, rest));
    if (alive < N) block = cat({block, full(concat({t - start, N - alive}, rest), padding_value, opts)}, 1);
    blocks.push_back(block);
    for (std::int64_t b = size; b < alive; ++b) lengths[static_cast<std::size_t>(b)] = t;
    offset += (t - start) * alive;
    start = t;
  }
  if (max_len > T) blocks.push_back(full(concat({max_len - T, N}, rest), padding_value, opts));
  Tensor padded = blocks.size() == 1 ? blocks[0] : cat(blocks, 0);  // (max_len, N, *)

  if (sequence.unsorted_indices.defined()) {
    std::vector<std::int64_t> unsorted = sequence.unsorted_indices.to_vector<std::int64_t>();
    LOOM_CHECK(static_cast<std::int64_t>(unsorted.size()) == N,
               "pad_packed_sequence: unsorted_indices has {} entries for a batch of {}", unsorted.size(), N);
    for (std::int64_t u : unsorted)
      LOOM_CHECK(u >= 0 && u < N, "pad_packed_sequence: unsorted_indices entry {} out of range [0, {})", u, N);
    padded = index_select(padded, 1, unsorted);
    std::vector<std::int64_t> reordered;
    for (std::int64_t u : unsorted) reordered.push_back(lengths[static_cast<std::size_t>(u)]);
    lengths = reordered;
  }
  if (batch_first) padded = transpose(padded, 0, 1);
  return {padded, tensor_int64(lengths, {N})};
}

// ---- lists of sequences ------------------------------------------------------------------------------

Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first, double padding_value) {
  LOOM_CHECK(!sequences.empty(), "received an empty list of sequences");
  const Tensor& first = sequences[0];
  LOOM_CHECK(first.defined() && first.dim() >= 1, "pad_sequence: expected sequences of shape (L, *), got {}",
             first.defined() ? shape_str(first.shape()) : std::string("an undefined tensor"));
  const Shape rest = trailing(first, 1);
  std::int64_t max_len = 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const Tensor& s = sequences[i];
    LOOM_CHECK(s.defined() && s.dim() >= 1 && trailing(s, 1) == rest && s.dtype() == first.dtype() &&
                   s.device() == first.device(),
               "pad_sequence: every sequence must be (L, {}) of dtype {} on {} like sequence 0, but sequence {} "
               "is {}",
               fmt::join(rest, ", "), first.dtype(), first.device(), i,
               s.defined() ? fmt::format("{} of dtype {} on {}", shape_str(s.shape()), s.dtype(), s.device())
                           : std::string("an undefined tensor"));
    max_len = std::max(max_len, s.size(0));
  }
  const TensorOptions opts = TensorOptions(first.dtype()).device(first.device());
  std::vector<Tensor> columns;
  for (const Tensor& s : sequences) {
    Tensor col = s.size(0) == max_len ? s : cat({s, full(concat({max_len - s.size(0)}, rest), padding_value, opts)}, 0);
    columns.push_back(col);
  }
  return stack(columns, batch_first ? 0 : 1);
}

PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted) {
  LOOM_CHECK(!sequences.empty(), "received an empty list of sequences");
  std::vector<std::int64_t> lengths;
  for (const Tensor& s : sequences) lengths.push_back(s.defined() && s.dim() >= 1 ? s.size(0) : 0);
  return pack_padded_sequence(pad_sequence(sequences), lengths, false, enforce_sorted);
}

}  // namespace loom::nn
