// CUDA float32 <-> bfloat16 (kernels/convert.h): a grid-stride loop over pairs of elements, each pair one
// 8-byte float2 and one 4-byte word of two bfloat16s (both halves converted by runtime/bf16.h's
// formula, which is cvt.rn.bf16.f32 on the device); the odd last element, if any, alone. One launch.
#include <cuda_bf16.h>

#include "kernels/convert.h"
#include "kernels/cuda/launch.cuh"

namespace renorm::kernels::cuda {

namespace {
__global__ void __launch_bounds__(kThreads) to_bf16_kernel(const float* x, bf16_bits* y, int64_t n) {
  const int64_t pairs = (n + 1) / 2;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < pairs; p += int64_t(gridDim.x) * blockDim.x) {
    if (2 * p + 1 < n) {
      const float2 v = reinterpret_cast<const float2*>(x)[p];
      reinterpret_cast<uint32_t*>(y)[p] = uint32_t(float_to_bf16(v.x)) | uint32_t(float_to_bf16(v.y)) << 16;
    } else {
      y[2 * p] = float_to_bf16(x[2 * p]);
    }
  }
}

__global__ void __launch_bounds__(kThreads) to_f32_kernel(const bf16_bits* x, float* y, int64_t n) {
  const int64_t pairs = (n + 1) / 2;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < pairs; p += int64_t(gridDim.x) * blockDim.x) {
    if (2 * p + 1 < n) {
      const uint32_t w = reinterpret_cast<const uint32_t*>(x)[p];
      reinterpret_cast<float2*>(y)[p] = make_float2(bf16_to_float(bf16_bits(w & 0xffffu)), bf16_to_float(bf16_bits(w >> 16)));
    } else {
      y[2 * p] = bf16_to_float(x[2 * p]);
    }
  }
}
}  // namespace

void to_bf16(const float* x, bf16_bits* y, int64_t n) { launch_n<to_bf16_kernel>((n + 1) / 2, x, y, n); }
void to_f32(const bf16_bits* x, float* y, int64_t n) { launch_n<to_f32_kernel>((n + 1) / 2, x, y, n); }

}  // namespace renorm::kernels::cuda
