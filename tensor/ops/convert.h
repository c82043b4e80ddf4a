// Conversion between storage dtypes (runtime/dtype.h; kernels/convert.h), differentiable: the gradient
// of y = convert(x, d) is dy converted back to x's dtype (rounded to nearest even when that is bfloat16).
#pragma once
#include "runtime/dtype.h"
#include "tensor/tensor.h"

namespace renorm {

// x itself when it already holds `dtype`; else a new tensor on x's device. Tensor::to(DType) calls this.
Tensor convert(const Tensor& x, DType dtype);

}  // namespace renorm
