#include "tensor/ops/reduce.h"

#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "runtime/error.h"
#include "tensor/autograd.h"

namespace renorm {

namespace {
// sum and mean: y = alpha * Σx; dx = alpha * g broadcast, read from device memory (no host sync).
Tensor scaled_sum(const char* name, const Tensor& x, float alpha) {
  Tensor y = Tensor::empty(Shape{}, x.device());
  RENORM_DISPATCH(x.device(), sum, x.data(), x.numel(), y.data());
  if (alpha != 1.f) RENORM_DISPATCH(x.device(), scale, y.data(), alpha, y.data(), 1);
  const Shape shape = x.shape();
  return record(name, y, {x}, [shape, alpha](const Tensor& g) {
    Tensor dx = Tensor::empty(shape, g.device());
    RENORM_DISPATCH(g.device(), broadcast_scalar, g.data(), alpha, dx.data(), dx.numel());
    return std::vector<Tensor>{dx};
  });
}
}  // namespace

Tensor sum(const Tensor& x) { return scaled_sum("sum", x, 1.f); }

Tensor mean(const Tensor& x) {
  if (x.numel() == 0) throw ShapeError("mean: empty tensor " + x.shape().str());
  return scaled_sum("mean", x, 1.f / static_cast<float>(x.numel()));
}

}  // namespace renorm
