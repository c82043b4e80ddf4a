#include "tensor/tensor.h"

#include "runtime/allocator.h"
#include "tensor/autograd.h"
#include "runtime/error.h"
#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"

namespace renorm {

Storage::Storage(int64_t numel, Device device) : numel_(numel), device_(device) {
  data_ = static_cast<float*>(device_allocate(device, static_cast<size_t>(numel) * sizeof(float)));
}

Storage::~Storage() { device_release(device_, data_, static_cast<size_t>(numel_) * sizeof(float)); }

Tensor Tensor::empty(const Shape& shape, Device device) {
  if (!shape.valid()) throw ShapeError("Tensor::empty: negative dimension in shape " + shape.str());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape.numel(), device);
  impl->shape = shape;
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
float* Tensor::data() const { return checked().storage->data() + impl_->offset; }

std::vector<float> Tensor::to_vector() const {
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
  return empty(shape(), d).copy_(*this);
}

Tensor Tensor::clone() const { return empty(shape(), device()).copy_(*this); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked().storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  return Tensor(std::move(impl));
}

Tensor& Tensor::fill_(float value) {
  RENORM_DISPATCH(device(), fill, data(), numel(), value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  if (src.numel() != numel())
    throw ShapeError("Tensor::copy_: source " + src.shape().str() + " into " + shape().str());
  copy_bytes(data(), device(), src.data(), src.device(), static_cast<size_t>(numel()) * sizeof(float));
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
  return "Tensor" + shape().str() + " " + device_name(device());
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
