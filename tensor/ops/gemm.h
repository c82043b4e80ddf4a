// Matrix products as differentiable ops (kernels/gemm.h: OpenBLAS / cuBLAS).
#pragma once
#include "tensor/tensor.h"

namespace renorm {

Tensor matmul(const Tensor& a, const Tensor& b);  // (m,k) x (k,n) -> (m,n)
// x: [B,in]; w: [out,in]; bias: [out] or undefined; y = x·wᵀ + bias: [B,out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias);

}  // namespace renorm
