// Reductions as differentiable ops (kernels/reduce.h): the result is a rank-0 tensor on the input's device.
#pragma once
#include "tensor/tensor.h"

namespace renorm {

Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);  // ShapeError for an empty tensor

}  // namespace renorm
