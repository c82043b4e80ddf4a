// 2-D convolution as a differentiable op (kernels/conv.h: oneDNN or im2col + OpenBLAS / cuDNN), NHWC.
#pragma once
#include <cstdint>
#include <string>

#include "runtime/tf32.h"
#include "tensor/tensor.h"

namespace renorm {

// x: [B,H,W,C]; w: [K,R,S,C]; bias: [K] or undefined; y: [B,OH,OW,K]. relu: y = relu(conv + bias),
// fused into the convolution's epilogue, and its backward into one pass before the convolution's.
// math = Tf32: the forward's and both backward convolutions' operands reduced to TF32 (runtime/tf32.h).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 1, int64_t pad = 0,
              bool relu = false, MatMath math = MatMath::Fp32);

// What conv2d(x, w, ..., stride, pad, ..., math) multiplies in on x's device, product by product: TF32 or
// float32. On CUDA it is cuDNN's plan for the shape (made now if not yet): MatMath::Tf32 allows the
// tensor cores and the plan prefers an algorithm that uses them, but cuDNN may offer none for a small
// shape, and then that product runs in float32. `algorithms`: cuDNN's algorithm numbers ("" on the CPU).
struct ConvMath {
  MatMath forward = MatMath::Fp32, backward_data = MatMath::Fp32, backward_filter = MatMath::Fp32;
  std::string algorithms;
};
ConvMath conv2d_math(const Tensor& x, const Tensor& w, int64_t stride, int64_t pad, MatMath math);

}  // namespace renorm
