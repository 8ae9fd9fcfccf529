#include "nn/embedding.h"

#include "autograd/functions.h"
#include "autograd/node.h"
#include "core/native.h"
#include "nn/init.h"

namespace loom::nn {

EmbeddingImpl::EmbeddingImpl(EmbeddingOptions options) : options_(options) {
  const std::int64_t n = options_.num_embeddings_;
  LOOM_CHECK(n >= 0 && options_.embedding_dim_ >= 0,
             "Embedding: num_embeddings and embedding_dim must be non-negative, got {} and {}", n,
             options_.embedding_dim_);
  if (options_.padding_idx_) {
    std::int64_t p = *options_.padding_idx_;
    LOOM_CHECK(p < n && p >= -n, "Padding_idx must be within num_embeddings");
    if (p < 0) options_.padding_idx_ = n + p;
  }
  weight = register_parameter("weight", empty({n, options_.embedding_dim_}));
  reset_parameters();
}

void EmbeddingImpl::reset_parameters() {
  init::normal_(weight);
  if (options_.padding_idx_) {
    NoGradGuard no_grad;
    native::fill_(select(weight, 0, *options_.padding_idx_), 0.0);
  }
}

Tensor EmbeddingImpl::forward(const Tensor& indices) const {
  Tensor out = embedding(weight, indices);
  if (!options_.padding_idx_ || !out.requires_grad()) return out;
  // Same values everywhere; the gradient flows only where the index is not
  // padding_idx (so that row of weight never receives one), as in PyTorch.
  Tensor pad = full({}, static_cast<double>(*options_.padding_idx_), TensorOptions(kInt64).device(indices.device()));
  Tensor keep = unsqueeze(ne(indices, pad), -1);
  return where(keep, out, detach(out));
}

std::string EmbeddingImpl::extra_repr() const {
  std::string s = fmt::format("{}, {}", options_.num_embeddings_, options_.embedding_dim_);
  if (options_.padding_idx_) s += fmt::format(", padding_idx={}", *options_.padding_idx_);
  return s;
}

}  // namespace loom::nn
