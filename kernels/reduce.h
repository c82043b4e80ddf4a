// Reductions. sum: out[0] = Σ x[i] over n elements, out a one-element array on the same device.
// Deterministic on both devices: CPU accumulates in double; CUDA reduces per block, then once more.
#pragma once
#include <cstdint>

namespace renorm::kernels {

#define RENORM_DECLARE_REDUCE void sum(const float* x, int64_t n, float* out);

namespace cpu {
RENORM_DECLARE_REDUCE
}
namespace cuda {
RENORM_DECLARE_REDUCE
}

}  // namespace renorm::kernels
