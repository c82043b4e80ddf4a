// CPU-internal: an operand of a convolution or GEMM reduced to TF32 (runtime/tf32.h: rounded to
// nearest) in a float32 copy, which the float32 kernels then read: MatMath::Tf32 on the CPU.
#pragma once
#include <cstdint>

#include "kernels/cpu/detail/host_buffer.h"
#include "runtime/tf32.h"

namespace renorm::kernels::cpu {

struct Tf32Copy {
  HostBuffer buffer;
  const float* p;
  Tf32Copy(const float* x, int64_t n) : buffer(size_t(n) * sizeof(float)), p(buffer.as<float>()) {
    float* out = buffer.as<float>();
#pragma omp parallel for simd if (n >= (int64_t(1) << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = round_to_tf32(x[i]);
  }
};

}  // namespace renorm::kernels::cpu
