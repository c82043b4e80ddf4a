// Elementwise kernels and fills. The CPU (kernels/cpu/elementwise.cpp) and CUDA
// (kernels/cuda/elementwise.cu) versions have the same signature by construction (one macro declares
// both); pointers are host pointers for cpu:: and device pointers for cuda::. Every array is
// contiguous with n elements; y may alias an input.
#pragma once
#include <cstdint>

#include "kernels/storage.h"
#include "runtime/hd.h"

namespace renorm::kernels {

// NaN stays NaN (as in PyTorch): a diverging activation must not be hidden as 0 by the next layer.
RENORM_HD float relu_value(float x) { return x <= 0.f ? 0.f : x; }
// The subgradient at 0 is 0 (as in PyTorch and cuDNN).
RENORM_HD float relu_grad(float x, float dy) { return x > 0.f ? dy : 0.f; }

// The three that run on activations and their gradients in either storage T (float or bf16_bits,
// kernels/storage.h): widened, computed in float, rounded once.
#define RENORM_DECLARE_ELEMENTWISE_T(P, T)                                           \
  P void add(const T* a, const T* b, T* y, int64_t n);                               \
  P void relu_forward(const T* x, T* y, int64_t n);                                  \
  P void relu_backward(const T* x, const T* dy, T* dx, int64_t n);

#define RENORM_DECLARE_ELEMENTWISE                                                   \
  RENORM_DECLARE_ELEMENTWISE_T(template <class T>, T)                                \
  void fill(float* y, int64_t n, float value);                                       \
  void mul(const float* a, const float* b, float* y, int64_t n);                     \
  void scale(const float* x, float alpha, float* y, int64_t n);                      \
  void axpy(float alpha, const float* x, float* y, int64_t n); /* y += alpha*x */    \
  void broadcast_scalar(const float* s, float alpha, float* y, int64_t n); /* y = alpha*s[0] */ \
  /* Philox streams (core/philox.h): element i depends only on (seed, i). */         \
  void uniform(float* y, int64_t n, uint64_t seed, float lo, float hi);              \
  void normal(float* y, int64_t n, uint64_t seed, float mean, float stddev);

namespace cpu {
RENORM_DECLARE_ELEMENTWISE
}
namespace cuda {
RENORM_DECLARE_ELEMENTWISE
}

}  // namespace renorm::kernels
