// The norm family's elementwise pass (kernels/cuda/renorm.cu): out = p·in0 + q·in1 + sh per (n,c) of x
// viewed as (N,R,C), the forward's y = a·x + b, the backward's dx = p·dy + q·x + s, and inference from
// γ, β and the moving averages. Grid (N, blocks per microbatch); each thread keeps one column of VEC
// channels (float4 when C % 4 == 0 and the pointers are aligned; for bfloat16 storage four of them in
// 8 bytes) for its whole loop, its coefficients in registers, and strides over the microbatch's rows: one
// division per thread, none per element. T: the storage of the big tensors, float or bf16_bits.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/launch.cuh"
#include "kernels/renorm.h"

namespace renorm::kernels::cuda {
namespace {

// The apply's coefficients of one column of VEC channels: stored per (n,c) (forward a, b; backward
// p, q, s), or for inference from γ, β and the moving averages.
struct StoredCoeffs {
  const float *p, *q, *sh;  // q: null for y = p·x + sh
};
struct InferenceCoeffs {
  const float *gamma, *beta, *run_mean, *run_std;
};
template <int VEC>
__device__ void column_coeffs(const StoredCoeffs& k, int64_t n, int64_t c, int64_t channels, float (&p)[VEC],
                              float (&q)[VEC], float (&sh)[VEC]) {
  for (int j = 0; j < VEC; ++j) {
    const int64_t i = n * channels + c + j;
    p[j] = k.p[i], q[j] = k.q ? k.q[i] : 0.f, sh[j] = k.sh[i];
  }
}
template <int VEC>
__device__ void column_coeffs(const InferenceCoeffs& k, int64_t, int64_t c, int64_t, float (&p)[VEC], float (&q)[VEC],
                              float (&sh)[VEC]) {
  for (int j = 0; j < VEC; ++j) {
    renorm_affine(k.gamma[c + j], k.beta[c + j], k.run_mean[c + j], 1.f / k.run_std[c + j], 1.f, 0.f, &p[j], &sh[j]);
    q[j] = 0.f;
  }
}

template <int VEC>
__device__ __forceinline__ void load(const float* __restrict__ p, float (&x)[VEC]) {
  if constexpr (VEC == 4) {
    const float4 t = __ldg(reinterpret_cast<const float4*>(p));
    x[0] = t.x, x[1] = t.y, x[2] = t.z, x[3] = t.w;
  } else {
    x[0] = __ldg(p);
  }
}
template <int VEC>
__device__ __forceinline__ void load(const bf16_bits* __restrict__ p, float (&x)[VEC]) {
  if constexpr (VEC == 4) {
    const uint2 t = __ldg(reinterpret_cast<const uint2*>(p));
    x[0] = widen(bf16_bits(t.x & 0xffffu)), x[1] = widen(bf16_bits(t.x >> 16));
    x[2] = widen(bf16_bits(t.y & 0xffffu)), x[3] = widen(bf16_bits(t.y >> 16));
  } else {
    x[0] = widen(__ldg(p));
  }
}
template <int VEC>
__device__ __forceinline__ void store(float* __restrict__ p, const float (&r)[VEC]) {
  if constexpr (VEC == 4) *reinterpret_cast<float4*>(p) = make_float4(r[0], r[1], r[2], r[3]);
  else p[0] = r[0];
}
template <int VEC>
__device__ __forceinline__ void store(bf16_bits* __restrict__ p, const float (&r)[VEC]) {
  if constexpr (VEC == 4) {
    auto pack = [](float lo, float hi) { return uint32_t(float_to_bf16(lo)) | uint32_t(float_to_bf16(hi)) << 16; };
    *reinterpret_cast<uint2*>(p) = make_uint2(pack(r[0], r[1]), pack(r[2], r[3]));
  } else {
    narrow(r[0], p);
  }
}

// One output: p·in0 + sh (TERMS 1) or p·in0 + q·in1 + sh (TERMS 2); the cooperative kernels' too.
template <int TERMS>
__device__ __forceinline__ float affine_term(float p, float in0, float q, float in1, float sh) {
  return TERMS == 2 ? fmaf(p, in0, fmaf(q, in1, sh)) : fmaf(p, in0, sh);
}

// out = p·in0 + q·in1 + sh (TERMS 2) or p·in0 + sh (TERMS 1), per (n,c). Grid (N, blocks per
// microbatch): thread g of microbatch n = blockIdx.x keeps column g mod (C/VEC) (stride a multiple of
// the row); I is the offset type, 32-bit when the microbatch's floats and one stride fit.
template <int TERMS, int VEC, class I, class Coeffs, class T>
__global__ void __launch_bounds__(kThreads)
    affine_apply(const T* __restrict__ in0, const T* __restrict__ in1, NormShape s, Coeffs coeffs, T* __restrict__ out) {
  const I cols = I(s.c / VEC), g = I(blockIdx.y) * I(blockDim.x) + I(threadIdx.x);
  const I stride = I(gridDim.y) * I(blockDim.x) / cols * cols;
  if (g >= stride) return;
  float p[VEC], q[VEC], sh[VEC];
  column_coeffs<VEC>(coeffs, blockIdx.x, int64_t(g % cols) * VEC, s.c, p, q, sh);  // one division per thread
  const int64_t base = int64_t(blockIdx.x) * s.rows * s.c;
  const T *a = in0 + base, *b = TERMS == 2 ? in1 + base : in0 + base;
  T* o = out + base;
  const I end = I(s.rows * s.c), step = stride * VEC;
#pragma unroll 4
  for (I v = g * VEC; v < end; v += step) {
    float x0[VEC], x1[VEC], r[VEC];
    load<VEC>(a + v, x0);
    if constexpr (TERMS == 2) load<VEC>(b + v, x1);
#pragma unroll
    for (int j = 0; j < VEC; ++j) r[j] = affine_term<TERMS>(p[j], x0[j], q[j], TERMS == 2 ? x1[j] : 0.f, sh[j]);
    store<VEC>(o + v, r);
  }
}

template <int TERMS, int VEC, class Coeffs, class T>
void launch_apply_vec(const T* in0, const T* in1, NormShape s, Coeffs k, T* out) {
  const int64_t cols = s.c / VEC, per_n = s.rows * cols;
  const int64_t want = (int64_t(grid_for(s.n * per_n)) + s.n - 1) / s.n;  // blocks per microbatch
  const int64_t blocks = std::min<int64_t>(65535, std::max((cols + kThreads - 1) / kThreads, want));
  const dim3 grid(unsigned(s.n), unsigned(blocks));
  if (s.rows * s.c + blocks * kThreads * VEC < (int64_t(1) << 31))
    launch<affine_apply<TERMS, VEC, uint32_t, Coeffs, T>>(grid, kThreads, 0, in0, in1, s, k, out);
  else
    launch<affine_apply<TERMS, VEC, int64_t, Coeffs, T>>(grid, kThreads, 0, in0, in1, s, k, out);
}

template <int TERMS, class Coeffs, class T>
void launch_apply(const T* in0, const T* in1, NormShape s, Coeffs k, T* out) {
  if (s.numel() == 0) return;
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0; };  // 4 elements
  if (s.c % 4 == 0 && aligned(in0) && aligned(in1 ? in1 : in0) && aligned(out))
    launch_apply_vec<TERMS, 4>(in0, in1, s, k, out);
  else
    launch_apply_vec<TERMS, 1>(in0, in1, s, k, out);
}

}  // namespace
}  // namespace renorm::kernels::cuda
