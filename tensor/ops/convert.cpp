#include "tensor/ops/convert.h"

#include "kernels/convert.h"
#include "kernels/detail/dispatch.h"
#include "tensor/autograd.h"

namespace renorm {

namespace {
Tensor converted(const Tensor& x, DType dtype) {
  Tensor y = Tensor::empty(x.shape(), x.device(), dtype);
  if (dtype == DType::BF16) RENORM_DISPATCH(x.device(), to_bf16, x.data(), y.data_bf16(), x.numel());
  else RENORM_DISPATCH(x.device(), to_f32, x.data_bf16(), y.data(), x.numel());
  return y;
}
}  // namespace

Tensor convert(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  const DType from = x.dtype();
  return record("convert", converted(x, dtype), {x}, [from](const Tensor& g) {
    return std::vector<Tensor>{converted(g, from)};
  });
}

}  // namespace renorm
