// Matrix products as differentiable ops (kernels/gemm.h: OpenBLAS / cuBLAS).
#pragma once
#include "runtime/tf32.h"
#include "tensor/tensor.h"

namespace renorm {

// math = Tf32: the operands of the forward's and the backward's products reduced to TF32 (runtime/tf32.h).
Tensor matmul(const Tensor& a, const Tensor& b, MatMath math = MatMath::Fp32);  // (m,k) x (k,n) -> (m,n)
// x: [B,in]; w: [out,in]; bias: [out] or undefined; y = x·wᵀ + bias: [B,out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, MatMath math = MatMath::Fp32);

}  // namespace renorm
