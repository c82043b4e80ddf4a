// bfloat16 <-> float32, the one definition both backends call (RENORM_HD). A bfloat16 is the upper half
// of a float32's bits. To bfloat16: round to nearest, ties to even; NaN becomes the canonical quiet NaN
// 0x7FFF and overflow past the largest finite value rounds to infinity — what CUDA's
// __float2bfloat16_rn (cvt.rn.bf16.f32) gives on the device, where it is called instead (one
// instruction). Subnormal inputs are rounded, not flushed (cvt.rn keeps them; so does this).
#pragma once
#include <cstdint>
#include <cstring>

#include "runtime/hd.h"

#if defined(__CUDA_ARCH__)
#include <cuda_bf16.h>
#endif

namespace renorm {

using bf16_bits = uint16_t;  // a bfloat16 in storage

RENORM_HD float bf16_to_float(bf16_bits b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(uint32_t(b) << 16);
#else
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

RENORM_HD bf16_bits float_to_bf16(float f) {
#if defined(__CUDA_ARCH__)
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_bits(0x7fff);  // NaN: the canonical quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // half an ulp of the result, plus one where its last bit makes a tie odd
  return bf16_bits(u >> 16);
#endif
}

// Kernels templated on their storage T (float or bf16_bits) read and write through these: widen(x[i])
// is the value in float, narrow(v, &y[i]) stores it (rounded for bfloat16).
RENORM_HD float widen(float v) { return v; }
RENORM_HD float widen(bf16_bits v) { return bf16_to_float(v); }
RENORM_HD void narrow(float v, float* out) { *out = v; }
RENORM_HD void narrow(float v, bf16_bits* out) { *out = float_to_bf16(v); }

}  // namespace renorm
