// 2-D convolution (cross-correlation), NHWC. x: [B,H,W,C]; w: [K,R,S,C] (out channels, kernel rows,
// kernel cols, in channels: cuDNN's NHWC filter layout); y: [B,OH,OW,K] with
// OH = (H + 2·pad_h - R)/stride_h + 1. Zero padding.
// The forward's epilogue (kernels/nn.h Epilogue: + bias, then ReLU, when asked) runs inside the kernel.
// CPU: oneDNN's JIT kernels (chosen for the CPU at run time) or im2col + OpenBLAS sgemm per L2 tile
// (set_conv_engine; oneDNN by default when built with it: docs/benchmarks.md has both measured).
// CUDA: cuDNN with NHWC descriptors, plain float32 math (CUDNN_FMA_MATH), the algorithm chosen once per
// shape and cached, the workspace from the caching allocator; the epilogue one elementwise kernel.
#pragma once
#include <cstdint>

#include "kernels/nn.h"

namespace renorm::kernels {

struct ConvShape {
  int64_t b, h, w, c;  // input
  int64_t k, r, s;     // filters
  int64_t stride_h, stride_w, pad_h, pad_w;
  int64_t oh() const { return (h + 2 * pad_h - r) / stride_h + 1; }
  int64_t ow() const { return (w + 2 * pad_w - s) / stride_w + 1; }
};

#define RENORM_DECLARE_CONV                                                              \
  void conv2d_forward(const float* x, const float* w, float* y, const ConvShape& cs, const Epilogue& ep); \
  void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& cs); \
  void conv2d_backward_filter(const float* x, const float* dy, float* dw, const ConvShape& cs);

namespace cpu {
RENORM_DECLARE_CONV
// The CPU convolution engine, for every thread of the process. Default: OneDnn when renorm was built
// with oneDNN, else Im2col. Setting OneDnn without it throws DeviceError.
enum class ConvEngine { OneDnn, Im2col };
void set_conv_engine(ConvEngine e);
ConvEngine conv_engine();
bool onednn_available();
const char* conv_engine_name(ConvEngine e);
}
namespace cuda {
RENORM_DECLARE_CONV
}

}  // namespace renorm::kernels
