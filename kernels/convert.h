// float32 <-> bfloat16, element by element, through runtime/bf16.h's conversions (the one definition
// both backends call: round to nearest even, the canonical NaN). Same signatures on cpu:: and cuda::.
#pragma once
#include <cstdint>

#include "runtime/bf16.h"

namespace renorm::kernels {

#define RENORM_DECLARE_CONVERT                              \
  void to_bf16(const float* x, bf16_bits* y, int64_t n);    \
  void to_f32(const bf16_bits* x, float* y, int64_t n);

namespace cpu {
RENORM_DECLARE_CONVERT
}
namespace cuda {
RENORM_DECLARE_CONVERT
}

}  // namespace renorm::kernels
