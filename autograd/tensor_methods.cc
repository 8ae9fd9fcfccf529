// Tensor's differentiable methods (declared in core/tensor.h), forwarding to
// the free functions of autograd/functions.h.
#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/indexing.h"
#include "autograd/node.h"

namespace loom {

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph);
}

void Tensor::retain_grad() const {
  LOOM_CHECK(requires_grad(), "can't retain_grad on Tensor that has requires_grad=False");
  if (is_leaf()) return;
  impl().grad_fn->retained.emplace_back(impl().output_nr, impl_);
}

Tensor Tensor::detach() const { return loom::detach(*this); }
Tensor Tensor::to(Device device) const { return loom::to(*this, device); }
Tensor Tensor::to(DType dtype) const { return loom::to(*this, dtype); }
Tensor Tensor::contiguous() const { return loom::contiguous(*this); }
Tensor Tensor::clone() const { return loom::clone(*this); }
Tensor Tensor::view(const Shape& shape) const { return loom::view(*this, shape); }
Tensor Tensor::reshape(const Shape& shape) const { return loom::reshape(*this, shape); }
Tensor Tensor::flatten(std::int64_t s, std::int64_t e) const { return loom::flatten(*this, s, e); }
Tensor Tensor::transpose(std::int64_t a, std::int64_t b) const { return loom::transpose(*this, a, b); }
Tensor Tensor::permute(const Shape& order) const { return loom::permute(*this, order); }
Tensor Tensor::narrow(std::int64_t d, std::int64_t s, std::int64_t l) const {
  return loom::narrow(*this, d, s, l);
}
Tensor Tensor::slice(std::int64_t d, std::int64_t s, std::int64_t e, std::int64_t st) const {
  return loom::slice(*this, d, s, e, st);
}
Tensor Tensor::select(std::int64_t d, std::int64_t i) const { return loom::select(*this, d, i); }
Tensor Tensor::operator[](std::int64_t i) const { return loom::select(*this, 0, i); }
Tensor Tensor::argmax(std::int64_t dim, bool keepdim) const { return loom::argmax(*this, dim, keepdim); }
Tensor Tensor::argmax() const { return loom::argmax(*this); }
std::pair<Tensor, Tensor> Tensor::max(std::int64_t dim, bool keepdim) const { return loom::max(*this, dim, keepdim); }
Tensor Tensor::max() const { return loom::max(*this); }
Tensor Tensor::softmax(std::int64_t dim) const { return loom::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return loom::log_softmax(*this, dim); }
const Tensor& Tensor::scatter_add_(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return copy_(loom::scatter_add(*this, dim, index, src));
}
const Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                                 bool accumulate) const {
  return copy_(loom::index_put(*this, indices, values, accumulate));
}
const Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, Scalar value) const {
  return copy_(loom::index_put(*this, indices, value));
}
const Tensor& Tensor::index_put_(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) const {
  return copy_(loom::index_put(*this, indices, values, accumulate));
}
Tensor Tensor::index_put(std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                         bool accumulate) const {
  return loom::index_put(*this, indices, values, accumulate);
}
Tensor Tensor::index_put(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) const {
  return loom::index_put(*this, indices, values, accumulate);
}
const Tensor& Tensor::scatter_(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return copy_(loom::scatter(*this, dim, index, src));
}
const Tensor& Tensor::scatter_(std::int64_t dim, const Tensor& index, Scalar value) const {
  return copy_(loom::scatter(*this, dim, index, value));
}
Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return loom::scatter(*this, dim, index, src);
}
Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, Scalar value) const {
  return loom::scatter(*this, dim, index, value);
}
Tensor Tensor::scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return loom::scatter_add(*this, dim, index, src);
}
const Tensor& Tensor::masked_fill_(const Tensor& mask, Scalar value) const { return copy_(masked_fill(mask, value)); }
const Tensor& Tensor::masked_fill_(const Tensor& mask, const Tensor& value) const {
  return copy_(masked_fill(mask, value));
}
Tensor Tensor::masked_fill(const Tensor& mask, Scalar value) const {
  return loom::masked_fill(*this, mask, value.to_double());
}
Tensor Tensor::masked_fill(const Tensor& mask, const Tensor& value) const {
  return loom::masked_fill(*this, mask, value);
}
Tensor Tensor::index(std::initializer_list<indexing::TensorIndex> indices) const {
  return loom::index(*this, indices);
}
Tensor Tensor::unsqueeze(std::int64_t d) const { return loom::unsqueeze(*this, d); }
Tensor Tensor::squeeze() const { return loom::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t d) const { return loom::squeeze(*this, d); }
Tensor Tensor::expand(const Shape& shape) const { return loom::expand(*this, shape); }
Tensor Tensor::sum() const { return loom::sum(*this); }
Tensor Tensor::sum(Dims dims, bool keepdim) const { return loom::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return loom::mean(*this); }
Tensor Tensor::mean(Dims dims, bool keepdim) const { return loom::mean(*this, dims, keepdim); }
Tensor Tensor::exp() const { return loom::exp(*this); }
Tensor Tensor::log() const { return loom::log(*this); }
Tensor Tensor::tanh() const { return loom::tanh(*this); }
Tensor Tensor::sigmoid() const { return loom::sigmoid(*this); }
Tensor Tensor::relu() const { return loom::relu(*this); }
Tensor Tensor::sqrt() const { return loom::sqrt(*this); }
Tensor Tensor::pow(double e) const { return loom::pow(*this, e); }
Tensor Tensor::neg() const { return loom::neg(*this); }
Tensor Tensor::abs() const { return loom::abs(*this); }
Tensor Tensor::matmul(const Tensor& other) const { return loom::matmul(*this, other); }

}  // namespace loom
