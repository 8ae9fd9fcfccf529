// nn::Embedding: a lookup table of vectors, as torch.nn.Embedding.
//
// Shapes: indices Int64 (*) -> output (*, embedding_dim).
// Parameter: weight (num_embeddings, embedding_dim), starting N(0, 1); the row
// padding_idx (when given) starts at zero and never receives a gradient.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nn/module.h"
#include "nn/module_holder.h"

namespace loom::nn {

// Options of Embedding, with PyTorch's defaults. Builder style:
//   Embedding emb(EmbeddingOptions(1000, 64).padding_idx(0));
struct EmbeddingOptions {
  EmbeddingOptions(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}

  std::int64_t num_embeddings_;               // size of the table (required, >= 0)
  std::int64_t embedding_dim_;                // size of each vector (required, >= 0)
  std::optional<std::int64_t> padding_idx_;   // none; negative counts from the end

  EmbeddingOptions& padding_idx(std::int64_t v) { padding_idx_ = v; return *this; }
};

class EmbeddingImpl : public Module {
 public:
  // Registers and initialises weight; throws loom::Error (PyTorch's words) for a
  // padding_idx outside [-num_embeddings, num_embeddings).
  explicit EmbeddingImpl(EmbeddingOptions options);
  EmbeddingImpl(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : EmbeddingImpl(EmbeddingOptions(num_embeddings, embedding_dim)) {}

  // Re-draws weight from N(0, 1) and zeroes the padding_idx row.
  void reset_parameters();
  // Rows of weight at `indices` (Int64, any shape, on weight's device):
  // (*, embedding_dim). Out-of-range indices throw (from loom::embedding).
  Tensor forward(const Tensor& indices) const;

  const EmbeddingOptions& options() const { return options_; }
  // padding_idx with a negative value wrapped (PyTorch stores it so).
  std::optional<std::int64_t> padding_idx() const { return options_.padding_idx_; }
  std::string type() const override { return "Embedding"; }
  // "10, 3" or "10, 3, padding_idx=0"
  std::string extra_repr() const override;

  Tensor weight;  // (num_embeddings, embedding_dim)

 private:
  EmbeddingOptions options_;
};

// The holders (libtorch's TORCH_MODULE): nn::Embedding m(opts); m->forward(x).
LOOM_MODULE(Embedding);

}  // namespace loom::nn
