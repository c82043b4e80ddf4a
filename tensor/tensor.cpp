#include "tensor/tensor.h"

#include "runtime/allocator.h"
#include "tensor/autograd.h"
#include "runtime/error.h"
#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"
#include "tensor/ops/convert.h"

namespace renorm {

Storage::Storage(size_t bytes, Device device) : data_(device_allocate(device, bytes)), bytes_(bytes), device_(device) {}

Storage::~Storage() { device_release(device_, data_, bytes_); }

Tensor Tensor::empty(const Shape& shape, Device device, DType dtype) {
  if (!shape.valid()) throw ShapeError("Tensor::empty: negative dimension in shape " + shape.str());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape.numel()) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, float value, Device device) { return empty(shape, device).fill_(value); }

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw ShapeError("Tensor::from_vector: " + std::to_string(values.size()) + " values for shape " + shape.str());
  return empty(shape, device).copy_from(values);
}

Tensor Tensor::uniform(const Shape& shape, uint64_t seed, float lo, float hi, Device device) {
  return empty(shape, device).uniform_(seed, lo, hi);
}

Tensor Tensor::normal(const Shape& shape, uint64_t seed, float mean, float stddev, Device device) {
  return empty(shape, device).normal_(seed, mean, stddev);
}

const TensorImpl& Tensor::checked() const {
  if (!impl_) throw Error("use of an undefined Tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return checked().shape; }
Device Tensor::device() const { return checked().storage->device(); }
DType Tensor::dtype() const { return checked().dtype; }

namespace {
// The first element of `t` as T, when t holds `want`; DTypeError naming the tensor otherwise.
template <class T>
T* elements(const TensorImpl& t, DType want, const char* accessor) {
  if (t.dtype != want)
    throw DTypeError(std::string("Tensor::") + accessor + ": the tensor " + t.shape.str() + " holds " +
                     enum_name(t.dtype) + ", not " + enum_name(want) + " (convert it with to(DType))");
  return static_cast<T*>(t.storage->data()) + t.offset;
}
size_t byte_count(const Tensor& t) { return static_cast<size_t>(t.numel()) * dtype_size(t.dtype()); }
const void* first_byte(const Tensor& t) {
  return t.dtype() == DType::BF16 ? static_cast<const void*>(t.data_bf16()) : static_cast<const void*>(t.data());
}
}  // namespace

float* Tensor::data() const { return elements<float>(checked(), DType::F32, "data"); }
bf16_bits* Tensor::data_bf16() const { return elements<bf16_bits>(checked(), DType::BF16, "data_bf16"); }

std::vector<float> Tensor::to_vector() const {
  if (dtype() == DType::BF16) {
    std::vector<bf16_bits> raw(static_cast<size_t>(numel()));
    copy_bytes(raw.data(), Device::CPU, data_bf16(), device(), byte_count(*this));
    std::vector<float> out(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) out[i] = bf16_to_float(raw[i]);
    return out;
  }
  std::vector<float> out(static_cast<size_t>(numel()));
  copy_bytes(out.data(), Device::CPU, data(), device(), out.size() * sizeof(float));
  return out;
}

float Tensor::item() const {
  if (numel() != 1) throw ShapeError("Tensor::item: tensor of shape " + shape().str() + " is not one element");
  return to_vector()[0];
}

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  return empty(shape(), d, dtype()).copy_(*this);
}

Tensor Tensor::to(DType d) const { return convert(*this, d); }

Tensor Tensor::clone() const { return empty(shape(), device(), dtype()).copy_(*this); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked().storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor& Tensor::fill_(float value) {
  RENORM_DISPATCH(device(), fill, data(), numel(), value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  if (src.numel() != numel())
    throw ShapeError("Tensor::copy_: source " + src.shape().str() + " into " + shape().str());
  if (src.dtype() != dtype())
    throw DTypeError("Tensor::copy_: a " + enum_name(src.dtype()) + " source into a " + enum_name(dtype()) +
                     " tensor (convert it with to(DType))");
  copy_bytes(const_cast<void*>(first_byte(*this)), device(), first_byte(src), src.device(), byte_count(*this));
  return *this;
}

Tensor& Tensor::copy_from(const std::vector<float>& values) {
  if (static_cast<int64_t>(values.size()) != numel())
    throw ShapeError("Tensor::copy_from: " + std::to_string(values.size()) + " values into " + shape().str());
  copy_bytes(data(), device(), values.data(), Device::CPU, values.size() * sizeof(float));
  return *this;
}

Tensor& Tensor::uniform_(uint64_t seed, float lo, float hi) {
  RENORM_DISPATCH(device(), uniform, data(), numel(), seed, lo, hi);
  return *this;
}

Tensor& Tensor::normal_(uint64_t seed, float mean, float stddev) {
  RENORM_DISPATCH(device(), normal, data(), numel(), seed, mean, stddev);
  return *this;
}

bool Tensor::requires_grad() const { return checked().requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  if (checked().grad_fn && !on) throw Error("requires_grad_(false) on a non-leaf tensor; use detach()");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked().grad); }

void Tensor::set_grad(const Tensor& g) {
  if (g.defined()) check_shape("Tensor::set_grad", "gradient", g, shape());
  impl_->grad = g.impl_ptr();
}

void Tensor::zero_grad() {
  checked();
  impl_->grad = nullptr;
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }

std::string Tensor::str() const {
  if (!impl_) return "Tensor(undefined)";
  std::string s = "Tensor" + shape().str() + " " + device_name(device());
  if (dtype() != DType::F32) {  // piece by piece: " " + std::string&& trips GCC 12's bogus -Wrestrict (PR 105651)
    s += ' ';
    s += enum_name(dtype());
  }
  return s;
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw ShapeError(std::string(op) + ": undefined tensor argument");
  if (a.device() != b.device())
    throw ShapeError(std::string(op) + ": tensors on different devices (" + a.str() + ", " + b.str() + ")");
}

void check_shape(const char* op, const char* what, const Tensor& t, const Shape& shape) {
  if (!t.defined()) throw ShapeError(std::string(op) + ": " + what + " is undefined");
  if (t.shape() != shape)
    throw ShapeError(std::string(op) + ": " + what + " has shape " + t.shape().str() + ", expected " + shape.str());
}

// Tensor's members that go through autograd (tensor/autograd.h): backward and the differentiable reshape.
void Tensor::backward() const {
  if (numel() != 1) throw ShapeError("backward() without a gradient needs a one-element tensor, got " + shape().str());
  run_backward(*this, Tensor::full(shape(), 1.f, device()));
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

Tensor Tensor::reshape(const Shape& target) const {
  Shape resolved;
  int64_t known = 1;
  int infer = -1;
  for (int i = 0; i < target.rank(); ++i) {
    if (target[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: more than one -1 in " + target.str());
      infer = i;
    } else {
      known *= target[i];
    }
  }
  for (int i = 0; i < target.rank(); ++i)
    resolved.push_back(i == infer ? (known ? numel() / known : 0) : target[i]);
  if (resolved.numel() != numel())
    throw ShapeError("reshape: cannot view " + shape().str() + " (" + std::to_string(numel()) + " elements) as " +
                     target.str());
  Tensor out = detach();
  out.impl()->shape = resolved;
  const Shape original = shape();
  return record("reshape", out, {*this}, [original](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(original)};
  });
}

}  // namespace renorm
