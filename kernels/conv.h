// 2-D convolution (cross-correlation), NHWC. x: [B,H,W,C]; w: [K,R,S,C] (out channels, kernel rows,
// kernel cols, in channels: cuDNN's NHWC filter layout); y: [B,OH,OW,K] with
// OH = (H + 2·pad_h - R)/stride_h + 1. Zero padding. Bias is added by the layer (kernels/nn.h).
// CPU: im2col over chunks of images + OpenBLAS sgemm (threaded). CUDA: cuDNN with NHWC descriptors,
// plain float32 math (CUDNN_FMA_MATH), the algorithm chosen once per shape and cached, the workspace
// from the caching allocator.
#pragma once
#include <cstdint>

namespace renorm::kernels {

struct ConvShape {
  int64_t b, h, w, c;  // input
  int64_t k, r, s;     // filters
  int64_t stride_h, stride_w, pad_h, pad_w;
  int64_t oh() const { return (h + 2 * pad_h - r) / stride_h + 1; }
  int64_t ow() const { return (w + 2 * pad_w - s) / stride_w + 1; }
};

#define RENORM_DECLARE_CONV                                                              \
  void conv2d_forward(const float* x, const float* w, float* y, const ConvShape& cs);    \
  void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& cs); \
  void conv2d_backward_filter(const float* x, const float* dy, float* dw, const ConvShape& cs);

namespace cpu {
RENORM_DECLARE_CONV
}
namespace cuda {
RENORM_DECLARE_CONV
}

}  // namespace renorm::kernels
