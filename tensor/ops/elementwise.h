// Elementwise differentiable ops (kernels/elementwise.h). Each: shape/device checks, one kernel dispatch
// (kernels/detail/dispatch.h) and, when recording, a Node whose backward is written out explicitly. Outputs live
// on the inputs' device.
#pragma once
#include "tensor/tensor.h"

namespace renorm {

Tensor add(const Tensor& a, const Tensor& b);  // same shape
// acc += b in place (same shape and dtype; not recorded): accumulators that keep their storage, such as
// the trainer's loss sum inside a captured step.
void add_into(const Tensor& acc, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);  // same shape, elementwise
Tensor scale(const Tensor& x, float alpha);    // alpha * x
// max(x, 0); the subgradient at 0 is 0.
Tensor relu(const Tensor& x);

}  // namespace renorm
