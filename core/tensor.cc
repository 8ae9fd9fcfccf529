#include "core/tensor.h"

#include <cstring>

#include "core/allocator.h"
#include "core/native.h"

namespace loom {

Storage::Storage(std::size_t bytes, Device device)
    : data_(device_allocate(bytes, device)), bytes_(bytes), device_(device) {}

Storage::~Storage() { device_free(data_, bytes_, device_); }

TensorImpl& Tensor::impl() const {
  LOOM_CHECK(impl_ != nullptr, "called a method on an undefined tensor");
  return *impl_;
}

std::int64_t Tensor::wrap_dim(std::int64_t d) const {
  std::int64_t n = dim();
  std::int64_t lo = n == 0 ? -1 : -n, hi = n == 0 ? 0 : n - 1;
  LOOM_CHECK(d >= lo && d <= hi,
             "Dimension out of range (expected to be in range of [{}, {}], but got {})", lo, hi, d);
  return d < 0 ? d + (n == 0 ? 1 : n) : d;
}

std::int64_t Tensor::size(std::int64_t d) const { return impl().shape[wrap_dim(d)]; }
std::int64_t Tensor::stride(std::int64_t d) const { return impl().strides[wrap_dim(d)]; }
std::int64_t Tensor::numel() const { return shape_numel(impl().shape); }

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  const auto& s = impl().shape;
  for (std::int64_t d = dim() - 1; d >= 0; --d) {
    if (s[d] != 1 && impl().strides[d] != expected) return false;
    expected *= s[d];
  }
  return true;
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(impl().storage->data()) +
         impl().offset * static_cast<std::int64_t>(element_size(dtype()));
}

template <typename T>
T* Tensor::data() const {
  LOOM_CHECK(dtype() == dtype_of<std::remove_const_t<T>>(),
             "data<{}>() called on a tensor of dtype {}", dtype_name(dtype_of<std::remove_const_t<T>>()),
             dtype());
  return static_cast<T*>(data_ptr());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template std::int64_t* Tensor::data<std::int64_t>() const;
template bool* Tensor::data<bool>() const;
template const float* Tensor::data<const float>() const;
template const double* Tensor::data<const double>() const;
template const std::int64_t* Tensor::data<const std::int64_t>() const;
template const bool* Tensor::data<const bool>() const;
template bfloat16* Tensor::data<bfloat16>() const;
template float16* Tensor::data<float16>() const;
template const bfloat16* Tensor::data<const bfloat16>() const;
template const float16* Tensor::data<const float16>() const;
template std::int32_t* Tensor::data<std::int32_t>() const;
template std::uint8_t* Tensor::data<std::uint8_t>() const;
template const std::int32_t* Tensor::data<const std::int32_t>() const;
template const std::uint8_t* Tensor::data<const std::uint8_t>() const;

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = native::contiguous(native::to(native::to(*this, kCPU), dtype_of<T>()));
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;
template std::vector<bfloat16> Tensor::to_vector<bfloat16>() const;
template std::vector<float16> Tensor::to_vector<float16>() const;
template std::vector<std::int32_t> Tensor::to_vector<std::int32_t>() const;
template std::vector<std::uint8_t> Tensor::to_vector<std::uint8_t>() const;

double Tensor::item() const {
  LOOM_CHECK(numel() == 1, "a Tensor with {} elements cannot be converted to Scalar", numel());
  return to_vector<double>()[0];
}

Tensor& Tensor::requires_grad_(bool value) {
  LOOM_CHECK(!value || is_floating(dtype()),
             "only Tensors of floating point dtype can require gradients, got {}", dtype());
  LOOM_CHECK(is_leaf() || value,
             "you can only change requires_grad flags of leaf variables.");
  impl().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& g = impl().grad;
  return g ? Tensor(g) : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) {
    LOOM_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(),
               "assigned grad has shape {}, dtype {}, device {}; expected shape {}, dtype {}, device {}",
               shape_str(g.shape()), g.dtype(), g.device(), shape_str(shape()), dtype(), device());
  }
  impl().grad = g.impl_ptr();
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  std::int64_t s = 1;
  for (std::int64_t d = static_cast<std::int64_t>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = s;
    if (d > 0)  // the last product is no stride: only shape_numel's overflow matters
      LOOM_CHECK(!__builtin_mul_overflow(s, std::max<std::int64_t>(shape[d], 1), &s),
                 "the strides of shape {} overflow int64", shape_str(shape));
  }
  return strides;
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  bool overflow = false;
  for (auto s : shape) {
    if (s == 0) return 0;  // an empty tensor, whatever the other sizes
    overflow = overflow || __builtin_mul_overflow(n, s, &n);
  }
  LOOM_CHECK(!overflow, "the number of elements of shape {} overflows int64", shape_str(shape));
  return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Tensor empty(const Shape& shape, TensorOptions options) {
  for (auto s : shape)
    LOOM_CHECK(s >= 0, "Trying to create tensor with negative dimension {}: {}", s, shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  std::size_t bytes = 0;
  LOOM_CHECK(!__builtin_mul_overflow(static_cast<std::size_t>(shape_numel(shape)),
                                     element_size(options.dtype_), &bytes),
             "a tensor of shape {} and dtype {} needs more than 2^64 bytes", shape_str(shape),
             options.dtype_);
  impl->storage = std::make_shared<Storage>(bytes, options.device_);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype_;
  Tensor t(std::move(impl));
  if (options.requires_grad_) t.requires_grad_(true);
  return t;
}

Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
  LOOM_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape),
             "tensor(): {} values do not fill shape {}", values.size(), shape_str(shape));
  Tensor host = empty(shape, TensorOptions(kFloat64));
  if (!values.empty()) std::memcpy(host.data_ptr(), values.data(), values.size() * sizeof(double));
  Tensor t = native::to(native::to(host, options.dtype_), options.device_);
  if (options.requires_grad_) t.requires_grad_(true);
  return t;
}

Tensor tensor(std::initializer_list<double> values, TensorOptions options) {
  std::vector<double> v(values);
  return tensor(v, Shape{static_cast<std::int64_t>(v.size())}, options);
}

Tensor tensor_int64(const std::vector<std::int64_t>& values, const Shape& shape, Device device) {
  LOOM_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape),
             "tensor_int64(): {} values do not fill shape {}", values.size(), shape_str(shape));
  Tensor host = empty(shape, TensorOptions(kInt64));
  if (!values.empty())
    std::memcpy(host.data_ptr(), values.data(), values.size() * sizeof(std::int64_t));
  return native::to(host, device);
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, std::int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl().storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

}  // namespace loom
