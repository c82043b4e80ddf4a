// CPU float32 <-> bfloat16 (kernels/convert.h): one parallel loop each; GCC vectorizes the shared
// bit-level conversion on every ISA variant (it is integer arithmetic on the float's bits).
#include "kernels/convert.h"

namespace renorm::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 16;  // below this, threads cost more than they save
}

void to_bf16(const float* x, bf16_bits* y, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_bf16(x[i]);
}

void to_f32(const bf16_bits* x, float* y, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_float(x[i]);
}

}  // namespace renorm::kernels::cpu
