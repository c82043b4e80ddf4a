// TensorFloat-32 (issue 26): the arithmetic of convolutions and matrix products under
// `--precision tf32`. A TF32 value is a float32 with 10 of its 23 mantissa bits (8 exponent bits, so
// float32's range): the operands of each product are reduced to TF32, the products (at most 22
// significant bits) are exact in float32, and the sums are float32. Storage stays float32.
// - CUDA: cuDNN's tensor-op math and cuBLAS's TF32 math do the reduction inside their kernels, on the
//   tensor cores. Which reduction they apply: PyTorch's notes say the tensor cores read the first 10 mantissa bits
//   (truncation, relative error < 2^-10); a kernel may round first instead (cvt.rna.tf32.f32).
// - CPU (no TF32 hardware): the operands rounded to nearest TF32, ties away from zero (cvt.rna's
//   rounding, relative error <= 2^-11), into float32 copies that the float32 kernels then read — the
//   same numbers the tensor cores compute, up to that choice of rounding, so a CPU run measures TF32's
//   effect on training.
#pragma once
#include <cstdint>
#include <cstring>

#include "runtime/hd.h"

namespace renorm {

// How a convolution or matrix product multiplies: float32 operands as they are, or reduced to TF32.
enum class MatMath : uint8_t { Fp32, Tf32 };

// The largest relative error of one operand reduced to TF32 by either rounding above (truncation's;
// rounding to nearest has half of it): what tolerances derive from (tests/support/parity.h).
constexpr double kTf32UnitRoundoff = 1.0 / 1024.0;

// x rounded to the nearest TF32 value, ties away from zero; infinities and NaN (payload kept) pass
// through; past the largest finite TF32 value the result is infinity, as in IEEE rounding.
RENORM_HD float round_to_tf32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // infinity or NaN
  u = (u + 0x1000u) & 0xffffe000u;  // half an ulp of TF32 (bit 12), then the low 13 bits dropped
  std::memcpy(&x, &u, sizeof u);
  return x;
}

}  // namespace renorm
