// sum: two deterministic passes, no atomics and no host sync.
// Pass 1: each of G blocks sums a grid-stride slice of x (n floats read) into partial[G] (double).
// Pass 2: one block sums the G partials into out[0]. Bytes moved: 4n + small.
#include "runtime/allocator.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/reduce.h"

namespace renorm::kernels::cuda {

namespace {
template <int kBlock>
__device__ double block_sum(double v) {
  __shared__ double shared[kBlock / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = threadIdx.x < kBlock / 32 ? shared[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

__global__ void __launch_bounds__(kThreads) sum_partial(const float* x, int64_t n, double* partial) {
  double s = 0.0;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n; i += int64_t(gridDim.x) * kThreads) s += x[i];
  s = block_sum<kThreads>(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void __launch_bounds__(kThreads) sum_final(const double* partial, int g, float* out) {
  double s = 0.0;
  for (int i = threadIdx.x; i < g; i += kThreads) s += partial[i];
  s = block_sum<kThreads>(s);
  if (threadIdx.x == 0) out[0] = static_cast<float>(s);
}
}  // namespace

void sum(const float* x, int64_t n, float* out) {
  const unsigned g = grid_for(n);
  Scratch scratch(g * sizeof(double));
  double* partial = scratch.as<double>();
  launch<sum_partial>(g, kThreads, 0, x, n, partial);
  launch<sum_final>(1, kThreads, 0, partial, static_cast<int>(g), out);
}

}  // namespace renorm::kernels::cuda
