// The residual network's kernels (models/resnet.h, issue 24): global average pooling, He et al.'s
// option-A shortcut (a strided subsample with the new channels zero-padded) and the residual add fused
// with its ReLU. Same signatures on cpu:: and cuda::; the per-element formulas below are both backends'.
// Templated on the storage T of the images (float or bf16_bits, kernels/storage.h): values widened to
// float, sums in double, each output rounded once.
// Every output element is computed by its own gather: no zero fill, no atomics.
#pragma once
#include <cstdint>

#include "kernels/elementwise.h"
#include "kernels/storage.h"
#include "runtime/hd.h"

namespace renorm::kernels {

// x [B,H,W,Cin] -> y [B,ceil(H/s),ceil(W/s),Cout]: y[n,i,j,k] = x[n,i·s,j·s,k−pad_lo] for k − pad_lo in
// [0, Cin), else 0 (pad_lo zero channels before x's, Cout − Cin − pad_lo after).
struct ShortcutShape {
  int64_t b, h, w, c_in, c_out, stride, pad_lo;
  RENORM_HD int64_t oh() const { return (h + stride - 1) / stride; }
  RENORM_HD int64_t ow() const { return (w + stride - 1) / stride; }
  RENORM_HD int64_t out_numel() const { return b * oh() * ow() * c_out; }
  RENORM_HD int64_t in_numel() const { return b * h * w * c_in; }
};

template <class T>
RENORM_HD float shortcut_value(const T* x, const ShortcutShape& s, int64_t o) {
  const int64_t k = o % s.c_out, j = o / s.c_out % s.ow(), i = o / s.c_out / s.ow() % s.oh(),
                n = o / s.c_out / s.ow() / s.oh(), ch = k - s.pad_lo;
  return ch >= 0 && ch < s.c_in ? widen(x[((n * s.h + i * s.stride) * s.w + j * s.stride) * s.c_in + ch]) : 0.f;
}

// dx[n,y,x,c] = dy[n,y/s,x/s,c+pad_lo] where y and x are multiples of s, else 0.
template <class T>
RENORM_HD float shortcut_input_grad(const T* dy, const ShortcutShape& s, int64_t e) {
  const int64_t c = e % s.c_in, x = e / s.c_in % s.w, y = e / s.c_in / s.w % s.h, n = e / s.c_in / s.w / s.h;
  if (y % s.stride != 0 || x % s.stride != 0) return 0.f;
  return widen(dy[((n * s.oh() + y / s.stride) * s.ow() + x / s.stride) * s.c_out + c + s.pad_lo]);
}

// Global average pooling, x [B,HW,C] -> y [B,C]: the mean of example n's rows of channel c, summed in
// row order in double.
template <class T>
RENORM_HD float avg_pool_value(const T* x, int64_t hw, int64_t c, int64_t n, int64_t ch) {
  double s = 0.0;
  for (int64_t r = 0; r < hw; ++r) s += widen(x[(n * hw + r) * c + ch]);
  return float(s / double(hw));
}
// dx[n,r,c] = dy[n,c] / HW.
template <class T>
RENORM_HD float avg_pool_input_grad(const T* dy, int64_t hw, int64_t c, int64_t e) {
  return widen(dy[e / (hw * c) * c + e % c]) / float(hw);
}

// The residual add and its ReLU: y = relu(a + b); the gradient of a and of b is relu_backward(y, dy).
RENORM_HD float add_relu_value(float a, float b) { return relu_value(a + b); }

#define RENORM_DECLARE_RESIDUAL_T(P, T)                                                                \
  P void avg_pool_forward(const T* x, int64_t b, int64_t hw, int64_t c, T* y);  /* y [B,C] */           \
  P void avg_pool_backward(const T* dy, int64_t b, int64_t hw, int64_t c, T* dx); /* dx [B,HW,C] */     \
  P void shortcut_forward(const T* x, const ShortcutShape& s, T* y);                                   \
  P void shortcut_backward(const T* dy, const ShortcutShape& s, T* dx);                                \
  P void add_relu_forward(const T* a, const T* b, T* y, int64_t n);

namespace cpu {
RENORM_DECLARE_RESIDUAL_T(template <class T>, T)
}
namespace cuda {
RENORM_DECLARE_RESIDUAL_T(template <class T>, T)
}

}  // namespace renorm::kernels
