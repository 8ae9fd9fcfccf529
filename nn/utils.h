// loom::nn::utils: libtorch's spellings of torch::nn::utils.
//
//   nn::utils::clip_grad_norm_(model.parameters(), 1.0);
//   auto packed = nn::utils::rnn::pack_padded_sequence(x, lengths, /*batch_first=*/true);
//
// The functions live where loom keeps them (optim/clip_grad.h,
// nn/packed_sequence.h); both spellings name the same functions.
#pragma once

#include "nn/packed_sequence.h"
#include "optim/clip_grad.h"

namespace loom::nn::utils {

using optim::clip_grad_norm_;
using optim::clip_grad_value_;

namespace rnn {
using nn::PackedSequence;
using nn::pack_padded_sequence;
using nn::pack_sequence;
using nn::pad_packed_sequence;
using nn::pad_sequence;
}  // namespace rnn

}  // namespace loom::nn::utils
