// 2-D convolution as a differentiable op (kernels/conv.h: oneDNN or im2col + OpenBLAS / cuDNN), NHWC.
#pragma once
#include <cstdint>

#include "runtime/tf32.h"
#include "tensor/tensor.h"

namespace renorm {

// x: [B,H,W,C]; w: [K,R,S,C]; bias: [K] or undefined; y: [B,OH,OW,K]. relu: y = relu(conv + bias),
// fused into the convolution's epilogue, and its backward into one pass before the convolution's.
// math = Tf32: the forward's and both backward convolutions' operands reduced to TF32 (runtime/tf32.h).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 1, int64_t pad = 0,
              bool relu = false, MatMath math = MatMath::Fp32);

}  // namespace renorm
