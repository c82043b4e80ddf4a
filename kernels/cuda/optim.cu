// Fused optimizer steps: one grid-stride kernel per parameter tensor reading p, g and the state once
// and writing p and the state once (SGD: 5 floats moved per element; Adam: 7).
#include "kernels/cuda/launch.cuh"
#include "kernels/optim.h"

namespace renorm::kernels::cuda {

namespace {
__global__ void __launch_bounds__(kThreads) sgd_kernel(float* p, const float* g, float* v, int64_t n, SgdParams h) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    sgd_update(p[i], g[i], v[i], h);
}
__global__ void __launch_bounds__(kThreads)
    adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamParams h) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adam_update(p[i], g[i], m[i], v[i], h);
}
}  // namespace

void sgd_step(float* p, const float* g, float* v, int64_t n, const SgdParams& h) {
  launch_n<sgd_kernel>(n, p, g, v, n, h);
}

void adam_step(float* p, const float* g, float* m, float* v, int64_t n, const AdamParams& h) {
  launch_n<adam_kernel>(n, p, g, m, v, n, h);
}

}  // namespace renorm::kernels::cuda
