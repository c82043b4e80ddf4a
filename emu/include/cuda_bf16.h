// The CUDA emulator's <cuda_bf16.h>: the bfloat16 types and conversions kernels/cuda/*.cu use, with the
// device's semantics (PTX cvt.rn.bf16.f32 / cvt.rn.bf16x2.f32): round to nearest, ties to even; NaN to
// the canonical quiet NaN 0x7FFF; overflow to infinity; subnormals rounded, not flushed. Written
// independently of renorm's own conversion (runtime/bf16.h, a bit trick): this one picks the nearer of
// the two bfloat16 neighbours by comparing distances in double, so that a test of one against the other
// (tests/test_bf16.cpp) compares two derivations.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "renorm_emu/device.h"

struct __nv_bfloat16 {
  unsigned short __x;
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};

namespace renorm_emu {
inline unsigned short bf16_round_nearest_even(float f) {
  if (std::isnan(f)) return 0x7fff;
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t lo = u & 0xffff0000u;  // the neighbour toward zero
  if (lo == u) return static_cast<unsigned short>(u >> 16);  // exact (zeros, infinities included)
  float below;
  std::memcpy(&below, &lo, sizeof below);
  const double a = std::fabs(double(f)), b = std::fabs(double(below));
  // The neighbour away from zero: one bfloat16 ulp up — 2^-133 among the subnormals (exponent bits 0),
  // 2^(e-7) for a normal 2^e — and past the largest finite bfloat16, 2^128 (rounding to infinity).
  double up;
  if ((lo & 0x7f800000u) == 0) up = b + std::ldexp(1.0, -133);
  else if ((lo & 0x7fffffffu) == 0x7f7f0000u) up = std::ldexp(1.0, 128);
  else up = b + std::ldexp(1.0, std::ilogb(b) - 7);
  const bool away = a - b > up - a || (a - b == up - a && ((lo >> 16) & 1u));
  return static_cast<unsigned short>((away ? lo + 0x10000u : lo) >> 16);
}
}  // namespace renorm_emu

inline __nv_bfloat16 __float2bfloat16_rn(float f) { return {renorm_emu::bf16_round_nearest_even(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline float __bfloat162float(__nv_bfloat16 h) {
  const uint32_t u = uint32_t(h.__x) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return {u}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__float2bfloat16_rn(lo), __float2bfloat16_rn(hi)}; }
inline __nv_bfloat162 __float22bfloat162_rn(float2 f) { return __floats2bfloat162_rn(f.x, f.y); }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return make_float2(__bfloat162float(h.x), __bfloat162float(h.y)); }
inline float __low2float(__nv_bfloat162 h) { return __bfloat162float(h.x); }
inline float __high2float(__nv_bfloat162 h) { return __bfloat162float(h.y); }
