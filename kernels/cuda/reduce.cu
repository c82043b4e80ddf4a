// sum: one launch, deterministic, no host sync. Each of G blocks sums a grid-stride slice of x (n floats
// read) into partial[G] (double); the last block to finish (kernels/cuda/arrival.cuh) sums the G
// partials in a fixed order into out[0]. Bytes moved: 4n + small.
#include "runtime/allocator.h"
#include "kernels/cuda/arrival.cuh"
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

__global__ void __launch_bounds__(kThreads) sum_kernel(const float* x, int64_t n, double* partial, unsigned* counter, float* out) {
  double s = 0.0;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n; i += int64_t(gridDim.x) * kThreads) s += x[i];
  s = block_sum<kThreads>(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
  if (!arrive_last(counter, gridDim.x)) return;
  s = 0.0;
  for (unsigned i = threadIdx.x; i < gridDim.x; i += kThreads) s += __ldcg(partial + i);
  s = block_sum<kThreads>(s);
  if (threadIdx.x == 0) out[0] = static_cast<float>(s);
}
}  // namespace

void sum(const float* x, int64_t n, float* out) {
  const unsigned g = grid_for(n);
  Scratch scratch(g * sizeof(double));
  double* partial = scratch.as<double>();
  launch<sum_kernel>(g, kThreads, 0, x, n, partial, ::renorm::cuda::arrival_counters(1), out);
}

}  // namespace renorm::kernels::cuda
