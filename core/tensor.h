// loom::Tensor: a strided view (shape, strides, offset) of shared storage, with
// a dtype, a device and an autograd slot.
//
// Copying a Tensor copies a handle: both refer to the same TensorImpl. Views
// (view, transpose, narrow, ...) share storage with their base.
//
// Layering: the data accessors below are core's. The differentiable methods
// (view ops, math, backward) are declared here for PyTorch-like spelling
// (`x.transpose(0, 1).sum()`), and are defined by autograd/ (tensor_methods.cc);
// core's own code never calls them and uses loom::native instead.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dims.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/scalar.h"

namespace loom {

namespace indexing {
class TensorIndex;  // autograd/indexing.h
}  // namespace indexing

using Shape = std::vector<std::int64_t>;

class Node;  // autograd/node.h
struct ViewInfo;  // autograd/view_history.h: a differentiable view's base and replay
// The name of an autograd node, e.g. "TanhBackward" (defined by autograd/).
const char* grad_fn_name(const Node& node);

// Owns one allocation on one device.
class Storage {
 public:
  Storage(std::size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  // Autograd's version counter: bumped by every in-place operation on any
  // tensor viewing this storage; a node that saved a tensor for backward
  // checks it has not moved (autograd/node.h).
  std::uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  std::uint64_t version_ = 0;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_;
};

// The state behind a Tensor handle.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;            // in elements
  std::int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  // Autograd slot (used by autograd/; core only carries it).
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;        // leaf gradient, accumulated by backward()
  std::shared_ptr<Node> grad_fn;           // the node that produced this tensor
  std::uint32_t output_nr = 0;             // which output of grad_fn
  std::weak_ptr<Node> grad_accumulator;    // a leaf's AccumulateGrad node, made on demand
  bool retains_grad = false;               // non-leaf keeps .grad (retain_grad())
  bool is_view = false;                    // made by make_view: shares another tensor's storage
  // Set on differentiable views (select, narrow, transpose, view, ...): the
  // root base and how to replay the view from it, so that an in-place op on
  // the view can rewrite the base's history (autograd/view_history.h).
  std::shared_ptr<ViewInfo> view;
};

// Options for factories, in libtorch's builder style:
//   zeros({2, 3}, TensorOptions().dtype(kFloat64).device(kCUDA))
struct TensorOptions {
  DType dtype_ = DType::Float32;
  Device device_ = kCPU;
  bool requires_grad_ = false;

  TensorOptions() = default;
  TensorOptions(DType t) : dtype_(t) {}   // NOLINT: implicit like libtorch
  TensorOptions(Device d) : device_(d) {}  // NOLINT
  TensorOptions dtype(DType t) const { auto o = *this; o.dtype_ = t; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  TensorOptions requires_grad(bool r = true) const { auto o = *this; o.requires_grad_ = r; return o; }
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() == false)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata (core) ------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& sizes() const { return impl().shape; }
  // Size of dimension d; negative d counts from the end. Throws when out of range.
  std::int64_t size(std::int64_t d) const;
  const Shape& strides() const { return impl().strides; }
  std::int64_t stride(std::int64_t d) const;
  std::int64_t dim() const { return static_cast<std::int64_t>(impl().shape.size()); }
  std::int64_t numel() const;
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_cuda() const { return device().is_cuda(); }
  std::int64_t storage_offset() const { return impl().offset; }
  bool is_contiguous() const;
  // Address of the first element (storage base + offset).
  void* data_ptr() const;
  // Typed address; throws when T does not match dtype().
  template <typename T> T* data() const;
  // The value of a one-element tensor, converted to double.
  double item() const;
  template <typename T> T item() const { return static_cast<T>(item()); }
  // All elements in row-major order, converted to T, copied to the host.
  template <typename T> std::vector<T> to_vector() const;
  // Wraps a dimension index: -1 is the last. Throws loom::Error when out of range.
  std::int64_t wrap_dim(std::int64_t d) const;
  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  // True when both handles refer to the same TensorImpl.
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // PyTorch-style text: "tensor([[1.0000, 2.0000]], dtype=torch.float64)".
  std::string str() const;

  // ---- autograd slot (core) --------------------------------------------------
  // True when gradients flow to this tensor: it was marked, has history, or
  // is a differentiable view of a base that requires grad.
  bool requires_grad() const;
  // Marks a leaf as requiring grad (floating dtypes only). Returns *this.
  Tensor& requires_grad_(bool value = true);
  // The accumulated gradient of a leaf (undefined until backward reaches it).
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  // True for tensors created by the user rather than by a recorded operation.
  // (A view's history is first brought up to date with its base's in-place
  // changes, autograd/view_history.h; this may throw PyTorch's error for a
  // multiple-output or no-grad view whose base was modified in place.)
  bool is_leaf() const;
  // The node that produced this tensor (null for a leaf); see is_leaf().
  const std::shared_ptr<Node>& grad_fn() const;

  // ---- differentiable methods (defined by autograd/tensor_methods.cc) --------
  // Reverse-mode differentiation from this tensor. `gradient` defaults to 1 for
  // a one-element tensor and is required otherwise.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  // Keeps .grad for this non-leaf tensor.
  void retain_grad() const;
  // A tensor sharing storage, cut from the graph (requires_grad false).
  Tensor detach() const;
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(kCPU); }
  Tensor cuda() const { return to(kCUDA); }
  Tensor contiguous() const;
  Tensor clone() const;

  Tensor view(const Shape& shape) const;     // one -1 allowed; needs compatible strides
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor flatten(std::int64_t start = 0, std::int64_t end = -1) const;
  Tensor transpose(std::int64_t d0, std::int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor permute(const Shape& order) const;
  Tensor narrow(std::int64_t d, std::int64_t start, std::int64_t length) const;
  // Python's x[start:end:step] along d (end clamped; step >= 1).
  Tensor slice(std::int64_t d, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Tensor select(std::int64_t d, std::int64_t index) const;
  // x[i]: select(0, i), a view, as libtorch's operator[].
  Tensor operator[](std::int64_t i) const;
  // x.index({Slice(0, 2), None, ids}): loom::index (autograd/indexing.h, which
  // the caller includes; loom.h does).
  Tensor index(std::initializer_list<indexing::TensorIndex> indices) const;
  // x.scatter_add_(dim, index, src): loom::scatter_add into this tensor, in
  // place (autograd/indexing.h; an in-place op as those below).
  const Tensor& scatter_add_(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  // Indexed writes as libtorch spells them (autograd/indexing.h has the
  // contracts): the "_" forms write into this tensor as copy_ does (version
  // counter, PyTorch's in-place errors), the others return a new tensor.
  // x.index_put_({Slice(), ids}, v) / ({mask}, 0.0): x[:, ids] = v.
  const Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                           bool accumulate = false) const;
  const Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, Scalar value) const;
  // torch's index_put_((i0, i1, ...), values, accumulate): undefined entries are full slices.
  const Tensor& index_put_(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false) const;
  Tensor index_put(std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                   bool accumulate = false) const;
  Tensor index_put(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false) const;
  // x.scatter_(dim, index, src / value): the last write of a repeated index wins.
  const Tensor& scatter_(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  const Tensor& scatter_(std::int64_t dim, const Tensor& index, Scalar value) const;
  Tensor scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor scatter(std::int64_t dim, const Tensor& index, Scalar value) const;
  Tensor scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  // x.masked_fill_(mask, value): value where mask (Bool, broadcastable to x)
  // is true; a Tensor value must be 0-D (and gets a gradient).
  const Tensor& masked_fill_(const Tensor& mask, Scalar value) const;
  const Tensor& masked_fill_(const Tensor& mask, const Tensor& value) const;
  Tensor masked_fill(const Tensor& mask, Scalar value) const;
  Tensor masked_fill(const Tensor& mask, const Tensor& value) const;
  Tensor unsqueeze(std::int64_t d) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t d) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }

  Tensor sum() const;
  // x.sum(1), x.sum(1, /*keepdim=*/true), x.sum({0, 2}): Dims (core/dims.h).
  Tensor sum(Dims dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(Dims dims, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor sqrt() const;
  Tensor pow(double exponent) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor matmul(const Tensor& other) const;
  // Reductions along one dimension, as libtorch's methods: x.argmax(1),
  // x.max(1) -> (values, indices), x.softmax(1), x.log_softmax(1).
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  Tensor argmax() const;
  std::pair<Tensor, Tensor> max(std::int64_t dim, bool keepdim = false) const;
  Tensor max() const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;

  // ---- in-place operations (defined by autograd/inplace_ops.cc) --------------
  // Each writes its result into this tensor's storage (every view of it sees
  // the change), bumps the storage's version counter and returns *this, as
  // libtorch's methods of the same names. The result is computed as the
  // out-of-place op would (type promotion and broadcasting included) and must
  // have this tensor's shape and be castable to its dtype, else loom::Error
  // ("output with shape [3] doesn't match the broadcast shape [2, 3]",
  // "result type Float can't be cast to the desired output type Long").
  // With grad mode on: a leaf that requires grad is refused ("a leaf Variable
  // that requires grad is being used in an in-place operation."); on other
  // tensors the op is recorded on the tape (this tensor's grad_fn becomes the
  // op's node). On a differentiable view, the view's base takes the change
  // into its history (PyTorch's CopySlices, autograd/view_history.h), so the
  // gradient flows through later uses of the base and of every view of it;
  // refused as PyTorch: a view of a leaf that requires grad ("a view of a leaf
  // Variable that requires grad is being used in an in-place operation."),
  // outputs of split/chunk, and views made under NoGradGuard. Writing into a
  // tensor whose elements overlap in memory (expand) is refused as PyTorch
  // ("unsupported operation: more than one element of the written-to tensor
  // refers to a single memory location. ..."), except by fill_ and zero_.
  // Under NoGradGuard nothing is recorded and leaves may be modified.
  const Tensor& add_(const Tensor& other) const;
  const Tensor& add_(Scalar other) const;
  const Tensor& sub_(const Tensor& other) const;
  const Tensor& sub_(Scalar other) const;
  const Tensor& mul_(const Tensor& other) const;
  const Tensor& mul_(Scalar other) const;
  const Tensor& div_(const Tensor& other) const;
  const Tensor& div_(Scalar other) const;
  const Tensor& clamp_(Scalar min, Scalar max) const;
  const Tensor& pow_(double exponent) const;
  const Tensor& neg_() const;
  const Tensor& exp_() const;
  const Tensor& log_() const;
  const Tensor& tanh_() const;
  const Tensor& sigmoid_() const;
  const Tensor& relu_() const;
  const Tensor& sqrt_() const;
  const Tensor& abs_() const;
  // Copies src (broadcast to this shape, converted to this dtype and device);
  // the gradient flows to src, none to the overwritten values.
  const Tensor& copy_(const Tensor& src) const;
  const Tensor& fill_(Scalar value) const;
  const Tensor& zero_() const { return fill_(0); }
  // Random fills from the default Philox generator (core/generator.h): the
  // same seed gives the same values on CPU and CUDA. Floating dtypes for
  // uniform_/normal_; bernoulli_ accepts any dtype (values 0 and 1).
  const Tensor& uniform_(double from = 0, double to = 1) const;  // U[from, to)
  const Tensor& normal_(double mean = 0, double std = 1) const;   // N(mean, std^2)
  const Tensor& bernoulli_(double p = 0.5) const;                  // 1 with probability p
  // The storage's version counter (PyTorch's Tensor._version).
  std::uint64_t _version() const { return impl().storage->version(); }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- construction (core, no autograd history) ---------------------------------

// Row-major contiguous strides for a shape. Throws loom::Error when a stride
// overflows int64.
Shape contiguous_strides(const Shape& shape);
// Product of sizes (1 for a scalar shape [], 0 when any size is 0). Throws
// loom::Error when the product overflows int64 (e.g. expand to [2^32, 2^32]).
std::int64_t shape_numel(const Shape& shape);
// A new contiguous tensor with uninitialised values. Throws loom::Error for a
// negative size, a size in bytes beyond 2^64, or memory that cannot be had
// (core/allocator.h).
Tensor empty(const Shape& shape, TensorOptions options = {});
// A tensor holding `values` (row-major) with `shape`, converted to options' dtype.
// Throws when values.size() != numel(shape).
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});
// A one-dimensional tensor holding `values`.
Tensor tensor(std::initializer_list<double> values, TensorOptions options = {});
// Int64 tensor from integers (indices, targets, lengths).
Tensor tensor_int64(const std::vector<std::int64_t>& values, const Shape& shape,
                    Device device = kCPU);
// A tensor sharing `base`'s storage with the given geometry (no autograd history).
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, std::int64_t offset);

// Formats a shape as PyTorch prints a torch.Size's contents: "[2, 3]".
std::string shape_str(const Shape& shape);

}  // namespace loom

template <>
struct fmt::formatter<loom::Tensor> : fmt::formatter<std::string_view> {
  auto format(const loom::Tensor& t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(t.str(), ctx);
  }
};

#include <iosfwd>

namespace loom {
// Writes t.str(): PyTorch 1.13's repr of the tensor (core/print.cc), e.g.
// "tensor([1.5000, 2.0000], dtype=torch.bfloat16)"; "[ Tensor (undefined) ]"
// for an undefined tensor.
std::ostream& operator<<(std::ostream& os, const Tensor& t);
}  // namespace loom
