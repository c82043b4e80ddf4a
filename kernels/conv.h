// 2-D convolution (cross-correlation), NHWC. x: [B,H,W,C]; w: [K,R,S,C] (out channels, kernel rows,
// kernel cols, in channels: cuDNN's NHWC filter layout); y: [B,OH,OW,K] with
// OH = (H + 2·pad_h - R)/stride_h + 1. Zero padding.
// The forward's epilogue (kernels/nn.h Epilogue: + bias, then ReLU, when asked) runs inside the kernel.
// CPU: oneDNN's JIT kernels (chosen for the CPU at run time) or im2col + OpenBLAS sgemm per L2 tile
// (set_conv_engine; oneDNN by default when built with it: docs/benchmarks.md has both measured).
// CUDA: cuDNN with NHWC descriptors, plain float32 math (CUDNN_FMA_MATH), the algorithm chosen once per
// shape and cached, the workspace from the caching allocator; the epilogue one elementwise kernel.
// ConvShape::math = Tf32 (runtime/tf32.h): the float32 operands of every product reduced to TF32 — on
// CUDA cuDNN's tensor-op math, on the CPU rounded copies read by the float32 engines.
// Storage T (kernels/storage.h): the activations x, y, dy, dx are float or bfloat16; the filters w (the
// float32 master weights) and their gradient dw are always float32. In bfloat16 the filters are rounded
// to bfloat16 as they are read, every product is exact in float32 and accumulates in float32, and
// y and dx are rounded once: CPU oneDNN's bf16 kernels where this CPU has them (else the same numbers
// through the float32 kernels on widened copies), cuDNN with CUDNN_DATA_BFLOAT16 and float32 compute.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/nn.h"
#include "kernels/storage.h"
#include "runtime/tf32.h"

namespace renorm::kernels {

struct ConvShape {
  int64_t b, h, w, c;  // input
  int64_t k, r, s;     // filters
  int64_t stride_h, stride_w, pad_h, pad_w;
  MatMath math = MatMath::Fp32;  // Tf32: operands reduced to TF32 (float32 storage; no effect on bfloat16)
  int64_t oh() const { return (h + 2 * pad_h - r) / stride_h + 1; }
  int64_t ow() const { return (w + 2 * pad_w - s) / stride_w + 1; }
};

// What a float32 convolution's three products run in — forward, backward-data, backward-filter — and
// with which algorithm. CUDA's TF32 math *allows* the tensor cores, it does not force them: cuDNN's plan
// for the shape prefers a tensor-op algorithm when TF32 is asked and records the math type of the one
// it chose (perf.mathType), which may be plain float32 for a small shape. The CPU computes what was asked
// (operands rounded to TF32) and has no algorithm numbers (-1).
struct ConvPlanMath {
  bool tf32[3] = {false, false, false};
  int algorithm[3] = {-1, -1, -1};
};

#define RENORM_DECLARE_CONV_T(P, T)                                                                      \
  P void conv2d_forward(const T* x, const float* w, T* y, const ConvShape& cs, const Epilogue& ep);       \
  P void conv2d_backward_data(const T* dy, const float* w, T* dx, const ConvShape& cs);                   \
  /* dw overwritten */                                                                                    \
  P void conv2d_backward_filter(const T* x, const T* dy, float* dw, const ConvShape& cs);
#define RENORM_DECLARE_CONV                               \
  RENORM_DECLARE_CONV_T(template <class T>, T)            \
  void conv2d_plan_math(const ConvShape& cs, ConvPlanMath* out);

namespace cpu {
RENORM_DECLARE_CONV
// The CPU convolution engine, for every thread of the process. Default: OneDnn when renorm was built
// with oneDNN, else Im2col. Setting OneDnn without it throws DeviceError.
enum class ConvEngine { OneDnn, Im2col };
void set_conv_engine(ConvEngine e);
ConvEngine conv_engine();
bool onednn_available();
std::string onednn_version();  // the linked oneDNN's "major.minor.patch"; "" when built without it
const char* conv_engine_name(ConvEngine e);
// Whether bfloat16 convolutions run in oneDNN's bf16 kernels here (the engine is OneDnn and oneDNN has
// a JIT bf16 kernel for this CPU at renorm's ISA), rather than widened to float32.
bool onednn_bf16();
}
namespace cuda {
RENORM_DECLARE_CONV
}

}  // namespace renorm::kernels
