// Differentiable ops on tensors. Each: shape/device checks, one kernel dispatch (kernels/dispatch.h),
// and, when recording, a Node whose backward is written out explicitly. Outputs live on the inputs'
// device.
#pragma once
#include "core/tensor.h"

namespace renorm {

Tensor add(const Tensor& a, const Tensor& b);   // same shape
Tensor mul(const Tensor& a, const Tensor& b);   // same shape, elementwise
Tensor scale(const Tensor& x, float alpha);     // alpha * x
Tensor sum(const Tensor& x);                    // rank-0 tensor
Tensor mean(const Tensor& x);                   // rank-0 tensor
Tensor matmul(const Tensor& a, const Tensor& b);  // (m,k) x (k,n) -> (m,n)
Tensor relu(const Tensor& x);

}  // namespace renorm
