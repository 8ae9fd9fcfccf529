// PackedSequence helpers: pack/pad against PyTorch 1.13's data, batch_sizes,
// sorted_indices and unsorted_indices (unsorted lengths, batch_first, ties),
// round trips, gradients through pack and pad (gradcheck, float64), errors.
//
// Literals were printed by /usr/bin/python3 (torch 1.13) with
//   from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pack_sequence, pad_sequence
// and the calls quoted beside each.
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/op_testing.h"
#include "nn/packed_sequence.h"

namespace loom::nn {
namespace {

using testing::expect_tensor;

std::vector<std::int64_t> ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }

TEST(PackedSequence, UnsortedLengthsMatchPyTorch) {
  // x = torch.arange(24, dtype=torch.float64).view(4, 3, 2)
  // p = pack_padded_sequence(x, [1, 4, 2], enforce_sorted=False)
  Tensor x = arange(24.0, kFloat64).reshape({4, 3, 2});
  PackedSequence p = pack_padded_sequence(x, std::vector<std::int64_t>{1, 4, 2}, false, false);
  expect_tensor(p.data, {7, 2}, {2, 3, 4, 5, 0, 1, 8, 9, 10, 11, 14, 15, 20, 21}, 0, 0, "data");
  EXPECT_EQ(ints(p.batch_sizes), (std::vector<std::int64_t>{3, 2, 1, 1}));
  EXPECT_EQ(ints(p.sorted_indices), (std::vector<std::int64_t>{1, 2, 0}));
  EXPECT_EQ(ints(p.unsorted_indices), (std::vector<std::int64_t>{2, 0, 1}));
  EXPECT_EQ(p.batch_sizes.dtype(), kInt64);
  EXPECT_TRUE(p.batch_sizes.device().is_cpu());

  // pad_packed_sequence(p, padding_value=-1.0, total_length=5)
  auto [padded, lengths] = pad_packed_sequence(p, false, -1.0, 5);
  expect_tensor(padded, {5, 3, 2},
                {0,  1,  2,  3,  4,  5,  -1, -1, 8,  9,  10, 11, -1, -1, 14,
                 15, -1, -1, -1, -1, 20, 21, -1, -1, -1, -1, -1, -1, -1, -1},
                0, 0, "padded");
  EXPECT_EQ(ints(lengths), (std::vector<std::int64_t>{1, 4, 2}));
}

TEST(PackedSequence, BatchFirstWithTensorLengthsMatchesPyTorch) {
  // xb = torch.arange(24, dtype=torch.float64).view(3, 4, 2)
  // p = pack_padded_sequence(xb, torch.tensor([2, 4, 3]), batch_first=True, enforce_sorted=False)
  Tensor xb = arange(24.0, kFloat64).reshape({3, 4, 2});
  PackedSequence p = pack_padded_sequence(xb, tensor_int64({2, 4, 3}, {3}), true, false);
  expect_tensor(p.data, {9, 2}, {8, 9, 16, 17, 0, 1, 10, 11, 18, 19, 2, 3, 12, 13, 20, 21, 14, 15}, 0, 0, "data");
  EXPECT_EQ(ints(p.batch_sizes), (std::vector<std::int64_t>{3, 3, 2, 1}));
  EXPECT_EQ(ints(p.sorted_indices), (std::vector<std::int64_t>{1, 2, 0}));
  EXPECT_EQ(ints(p.unsorted_indices), (std::vector<std::int64_t>{2, 0, 1}));
  // pad_packed_sequence(p, batch_first=True)
  auto [padded, lengths] = pad_packed_sequence(p, true);
  expect_tensor(padded, {3, 4, 2},
                {0, 1, 2, 3, 0, 0, 0, 0, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 0, 0}, 0, 0,
                "padded");
  EXPECT_EQ(ints(lengths), (std::vector<std::int64_t>{2, 4, 3}));
}

TEST(PackedSequence, TiesKeepBatchOrderLikePyTorch) {
  // pack_padded_sequence(torch.zeros(3, 4, 1), [2, 3, 2, 3], enforce_sorted=False)
  PackedSequence p = pack_padded_sequence(zeros({3, 4, 1}), std::vector<std::int64_t>{2, 3, 2, 3}, false, false);
  EXPECT_EQ(ints(p.sorted_indices), (std::vector<std::int64_t>{1, 3, 0, 2}));
  EXPECT_EQ(ints(p.batch_sizes), (std::vector<std::int64_t>{4, 4, 2}));
}

TEST(PackedSequence, SortedInputLeavesIndicesUndefinedAndRoundTrips) {
  Tensor x = testing::uniform({5, 3, 2, 2}, 1);  // trailing feature shape (2, 2)
  PackedSequence p = pack_padded_sequence(x, std::vector<std::int64_t>{5, 3, 3});
  EXPECT_FALSE(p.sorted_indices.defined());
  EXPECT_FALSE(p.unsorted_indices.defined());
  EXPECT_EQ(p.data.shape(), (Shape{11, 2, 2}));
  EXPECT_EQ(ints(p.batch_sizes), (std::vector<std::int64_t>{3, 3, 3, 1, 1}));
  auto [padded, lengths] = pad_packed_sequence(p);
  EXPECT_EQ(ints(lengths), (std::vector<std::int64_t>{5, 3, 3}));
  ASSERT_EQ(padded.shape(), x.shape());
  std::vector<double> got = padded.to_vector<double>(), want = x.to_vector<double>();
  for (std::int64_t t = 0; t < 5; ++t)
    for (std::int64_t n = 0; n < 3; ++n)
      for (std::int64_t k = 0; k < 4; ++k) {
        std::size_t i = static_cast<std::size_t>((t * 3 + n) * 4 + k);
        EXPECT_EQ(got[i], t < (n == 0 ? 5 : 3) ? want[i] : 0.0) << t << "," << n << "," << k;
      }
}

TEST(PackedSequence, PackSequenceAndPadSequenceMatchPyTorch) {
  // pack_sequence([tensor([1., 2.]), tensor([3., 4., 5.]), tensor([6.])], enforce_sorted=False)
  std::vector<Tensor> seqs = {tensor({1., 2.}), tensor({3., 4., 5.}), tensor({6.})};
  PackedSequence p = pack_sequence(seqs, false);
  expect_tensor(p.data, {6}, {3, 1, 6, 4, 2, 5}, 0, 0, "data");
  EXPECT_EQ(ints(p.batch_sizes), (std::vector<std::int64_t>{3, 2, 1}));
  EXPECT_EQ(ints(p.sorted_indices), (std::vector<std::int64_t>{1, 0, 2}));
  // pad_sequence([tensor([1., 2.]), tensor([3., 4., 5.])], batch_first=True, padding_value=9)
  expect_tensor(pad_sequence({tensor({1., 2.}), tensor({3., 4., 5.})}, true, 9), {2, 3}, {1, 2, 9, 3, 4, 5}, 0, 0,
                "pad_sequence");
  EXPECT_EQ(pad_sequence({tensor({1., 2.}), tensor({3., 4., 5.})}).shape(), (Shape{3, 2}));
}

// ---- gradients --------------------------------------------------------------------------------

TEST(PackedSequence, GradcheckPackAndPad) {
  Tensor x = testing::leaf({4, 3, 2}, 11);
  // pack with unsorted lengths: data is gathered (and permuted) from x.
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) {
    return pack_padded_sequence(in[0], std::vector<std::int64_t>{1, 4, 2}, false, false).data;
  }, {x});
  Tensor xb = testing::leaf({3, 4, 2}, 12);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) {
    return pack_padded_sequence(in[0], std::vector<std::int64_t>{2, 4, 3}, true, false).data;
  }, {xb});
  // pad_packed_sequence alone, from packed data that requires grad.
  PackedSequence ref = pack_padded_sequence(testing::uniform({4, 3, 2}, 13), std::vector<std::int64_t>{3, 1, 4}, false, false);
  Tensor data = testing::leaf(ref.data.shape(), 14);
  for (bool batch_first : {false, true}) {
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) {
      PackedSequence p{in[0], ref.batch_sizes, ref.sorted_indices, ref.unsorted_indices};
      return std::get<0>(pad_packed_sequence(p, batch_first, 0.5, 6));
    }, {data});
  }
  // The whole round trip, and lists of sequences.
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) {
    return std::get<0>(pad_packed_sequence(pack_padded_sequence(in[0], std::vector<std::int64_t>{2, 4, 1}, false, false)));
  }, {x});
  Tensor a = testing::leaf({2, 3}, 15), b = testing::leaf({4, 3}, 16), c = testing::leaf({1, 3}, 17);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return pack_sequence(in, false).data; }, {a, b, c});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return pad_sequence(in, true, -2.0); }, {a, b, c});
}

// ---- errors -----------------------------------------------------------------------------------------

TEST(PackedSequence, ErrorsInPyTorchWords) {
  Tensor x = zeros({3, 2, 1});
  using L = std::vector<std::int64_t>;
  // Each message is torch 1.13's for the same call on x = torch.zeros(3, 2, 1).
  EXPECT_ERROR_TEXT(pack_padded_sequence(x, L{1, 2}),  // pack_padded_sequence(x, [1, 2])
                    "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can "
                    "pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this "
                    "requirement if you do not need ONNX exportability.");
  EXPECT_ERROR_TEXT(pack_padded_sequence(x, L{2, 0}),  // pack_padded_sequence(x, [2, 0])
                    "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0");
  EXPECT_ERROR_TEXT(pack_padded_sequence(x, L{0, 2}, false, false),
                    "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0");
  EXPECT_ERROR_TEXT(pack_padded_sequence(x, L{2, 2, 1}),
                    "Expected `len(lengths)` to be equal to batch_size, but got 3 (batch_size=2)");
  EXPECT_ERROR_TEXT(pack_padded_sequence(x, tensor_int64({2, 1}, {1, 2})),
                    "'lengths' argument should be a 1D CPU int64 tensor, but got 2D cpu Long tensor");
  EXPECT_ERROR_TEXT(pack_padded_sequence(zeros({0, 2, 1}), L{1, 1}), "Cannot pack empty tensors.");
  // pad_packed_sequence(pack_padded_sequence(x, [3, 2]), total_length=2)
  EXPECT_ERROR_TEXT(pad_packed_sequence(pack_padded_sequence(x, L{3, 2}), false, 0.0, 2),
                    "Expected total_length to be at least the length of the longest sequence in input, but got "
                    "total_length=2 and max sequence length being 3");
  EXPECT_ERROR_TEXT(pad_sequence({}), "received an empty list of sequences");
  EXPECT_ERROR_TEXT(pack_sequence({}), "received an empty list of sequences");
  // torch 1.13 accepts these silently and returns an inconsistent PackedSequence; loom refuses.
  EXPECT_ERROR_TEXT(pack_padded_sequence(x, L{4, 2}),
                    "pack_padded_sequence: a sequence has length 4 but the padded input has only 3 time steps");
  EXPECT_ERROR_TEXT(pack_padded_sequence(x, L{2, 4}, false, false),
                    "pack_padded_sequence: a sequence has length 4 but the padded input has only 3 time steps");
  EXPECT_ERROR_TEXT(pack_padded_sequence(zeros({3}), L{3}),
                    "pack_padded_sequence: expected input of shape (T, N, *) (or (N, T, *) with batch_first), got "
                    "a 1-D tensor");
  PackedSequence bad{zeros({4, 1}), tensor_int64({2, 1}, {2}), Tensor(), Tensor()};
  EXPECT_ERROR_TEXT(pad_packed_sequence(bad), "pad_packed_sequence: batch_sizes add up to 3 rows but data has 4 rows");
  EXPECT_ERROR_TEXT(pad_sequence({zeros({2, 3}), zeros({2, 4})}),
                    "pad_sequence: every sequence must be (L, 3) of dtype float32 on cpu like sequence 0, but "
                    "sequence 1 is [2, 4] of dtype float32 on cpu");
}

// ---- CUDA --------------------------------------------------------------------------------------------

TEST(PackedSequence, CudaMatchesCpu) {
  LOOM_SKIP_WITHOUT_CUDA();
  for (std::int64_t T : {1, 3, 17}) {
    for (std::int64_t N : {1, 3, 17}) {
      Tensor x = testing::uniform({T, N, 3}, static_cast<std::uint64_t>(T * 100 + N));
      std::vector<std::int64_t> lengths;
      for (std::int64_t n = 0; n < N; ++n) lengths.push_back(1 + (n * 7) % T);
      PackedSequence cpu = pack_padded_sequence(x, lengths, false, false);
      PackedSequence gpu = pack_padded_sequence(x.to(kCUDA), lengths, false, false);
      ASSERT_TRUE(gpu.data.is_cuda());
      EXPECT_TRUE(gpu.sorted_indices.is_cuda());
      EXPECT_FALSE(gpu.batch_sizes.is_cuda());
      EXPECT_EQ(gpu.data.to_vector<double>(), cpu.data.to_vector<double>());
      auto [pc, lc] = pad_packed_sequence(cpu, true, -1.0, T + 2);
      auto [pg, lg] = pad_packed_sequence(gpu, true, -1.0, T + 2);
      EXPECT_TRUE(pg.is_cuda());
      EXPECT_EQ(pg.to_vector<double>(), pc.to_vector<double>());
      EXPECT_EQ(ints(lg), ints(lc));
      PackedSequence back = gpu.to(kCPU);
      EXPECT_FALSE(back.data.is_cuda());
      EXPECT_EQ(back.data.to_vector<double>(), cpu.data.to_vector<double>());
    }
  }
}

}  // namespace
}  // namespace loom::nn
