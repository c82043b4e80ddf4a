// Tensor: float32 or bfloat16 storage (runtime/dtype.h), rank 0..5, contiguous row-major (images NHWC),
// on the CPU or a CUDA device.
// A Tensor is a cheap handle: copies share the same TensorImpl; views (reshape) share the storage.
// The tensor owns its placement: ops allocate their outputs on their inputs' device, and layers never
// keep device buffers of their own.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/bf16.h"
#include "runtime/device.h"
#include "runtime/dtype.h"
#include "runtime/shape.h"

namespace renorm {

struct Node;

// Owns one allocation of `bytes`; freed (to the cache on CUDA) when the last tensor using it goes.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements of dtype
  Shape shape;
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the op that made this tensor (null for leaves)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation (uninitialized, constant, from host data, seeded Philox random) ----
  static Tensor empty(const Shape& shape, Device device = Device::CPU, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, Device device = Device::CPU) { return full(shape, 0.f, device); }
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::CPU);
  static Tensor uniform(const Shape& shape, uint64_t seed, float lo, float hi, Device device = Device::CPU);
  static Tensor normal(const Shape& shape, uint64_t seed, float mean, float stddev, Device device = Device::CPU);

  bool defined() const { return static_cast<bool>(impl_); }
  const Shape& shape() const;
  int rank() const { return shape().rank(); }
  int64_t dim(int i) const { return shape()[i]; }
  int64_t numel() const { return shape().numel(); }
  Device device() const;
  bool is_cuda() const { return device() == Device::CUDA; }
  DType dtype() const;
  // Host pointer on CPU, device pointer on CUDA. data(): float32 elements (DTypeError naming the tensor
  // for another dtype: every float32 op reads its inputs through it); data_bf16(): bfloat16 elements.
  float* data() const;
  bf16_bits* data_bf16() const;
  template <class T>
  T* data_as() const;  // float: data(); bf16_bits: data_bf16() (for code templated on the storage)

  // ---- copies and views ----
  std::vector<float> to_vector() const;  // to host (waits for the device); bfloat16 widened exactly
  float item() const;                    // the single element of a one-element tensor
  Tensor to(Device device) const;        // same tensor when already there, else a copy
  // This tensor in `dtype` (itself when already so): float32 -> bfloat16 rounds to nearest even,
  // bfloat16 -> float32 is exact. Differentiable: the gradient is converted back (tensor/ops/convert.h).
  Tensor to(DType dtype) const;
  Tensor clone() const;                  // a new storage, no autograd history
  Tensor detach() const;                 // shares storage, no autograd history
  // A view with the same storage; an autograd op (its gradient is reshaped back). One dim may be -1.
  Tensor reshape(const Shape& shape) const;

  // ---- in-place (no autograd) ----
  Tensor& fill_(float value);
  Tensor& copy_(const Tensor& src);  // same numel and dtype; any devices
  Tensor& copy_from(const std::vector<float>& values);
  Tensor& uniform_(uint64_t seed, float lo, float hi);
  Tensor& normal_(uint64_t seed, float mean, float stddev);

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const;  // undefined until a backward reaches this leaf
  void set_grad(const Tensor& g);
  // Drops the gradient (grad() undefined), as PyTorch's set_to_none: the next backward hands this tensor
  // its first gradient as it is (no zero fill, no addition), and adds only a second one.
  void zero_grad();
  const std::shared_ptr<Node>& grad_fn() const;
  void backward() const;                           // from a one-element tensor, seed 1
  void backward(const Tensor& grad_output) const;  // seed with grad_output (same shape)

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  std::string str() const;  // "Tensor[2,3] cpu" (float32), "Tensor[2,3] cpu bfloat16"

 private:
  std::shared_ptr<TensorImpl> impl_;
  const TensorImpl& checked() const;
};

template <>
inline float* Tensor::data_as<float>() const { return data(); }
template <>
inline bf16_bits* Tensor::data_as<bf16_bits>() const { return data_bf16(); }

// Throws ShapeError naming `op` unless the tensors are defined, on one device, and (when given) of `shape`.
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_shape(const char* op, const char* what, const Tensor& t, const Shape& shape);

}  // namespace renorm
