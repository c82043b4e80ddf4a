// CUDA kernels of the residual network's ops (kernels/residual.h): grid-stride loops over the outputs,
// each element its own gather through the formulas both backends share. One launch each.
#include "kernels/cuda/launch.cuh"
#include "kernels/residual.h"

namespace renorm::kernels::cuda {

namespace {
// Thread per (n, c): consecutive threads take consecutive channels, so each row read is coalesced.
__global__ void __launch_bounds__(kThreads) avg_pool_fwd_kernel(const float* x, int64_t b, int64_t hw, int64_t c, float* y) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < b * c; o += int64_t(gridDim.x) * blockDim.x)
    y[o] = avg_pool_value(x, hw, c, o / c, o % c);
}

__global__ void __launch_bounds__(kThreads) avg_pool_bwd_kernel(const float* dy, int64_t b, int64_t hw, int64_t c, float* dx) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < b * hw * c; e += int64_t(gridDim.x) * blockDim.x)
    dx[e] = avg_pool_input_grad(dy, hw, c, e);
}

__global__ void __launch_bounds__(kThreads) shortcut_fwd_kernel(const float* x, ShortcutShape s, float* y) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < s.out_numel(); o += int64_t(gridDim.x) * blockDim.x)
    y[o] = shortcut_value(x, s, o);
}

__global__ void __launch_bounds__(kThreads) shortcut_bwd_kernel(const float* dy, ShortcutShape s, float* dx) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < s.in_numel(); e += int64_t(gridDim.x) * blockDim.x)
    dx[e] = shortcut_input_grad(dy, s, e);
}

__global__ void __launch_bounds__(kThreads) add_relu_kernel(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = add_relu_value(a[i], b[i]);
}
}  // namespace

void avg_pool_forward(const float* x, int64_t b, int64_t hw, int64_t c, float* y) {
  launch_n<avg_pool_fwd_kernel>(b * c, x, b, hw, c, y);
}
void avg_pool_backward(const float* dy, int64_t b, int64_t hw, int64_t c, float* dx) {
  launch_n<avg_pool_bwd_kernel>(b * hw * c, dy, b, hw, c, dx);
}
void shortcut_forward(const float* x, const ShortcutShape& s, float* y) {
  launch_n<shortcut_fwd_kernel>(s.out_numel(), x, s, y);
}
void shortcut_backward(const float* dy, const ShortcutShape& s, float* dx) {
  launch_n<shortcut_bwd_kernel>(s.in_numel(), dy, s, dx);
}
void add_relu_forward(const float* a, const float* b, float* y, int64_t n) { launch_n<add_relu_kernel>(n, a, b, y, n); }

}  // namespace renorm::kernels::cuda
