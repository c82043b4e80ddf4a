// CUDA kernels of the residual network's ops (kernels/residual.h): grid-stride loops over the outputs,
// each element its own gather through the formulas both backends share. One launch each.
#include "kernels/cuda/launch.cuh"
#include "kernels/residual.h"

namespace renorm::kernels::cuda {

namespace {
// Thread per (n, c): consecutive threads take consecutive channels, so each row read is coalesced.
template <class T>
__global__ void __launch_bounds__(kThreads) avg_pool_fwd_kernel(const T* x, int64_t b, int64_t hw, int64_t c, T* y) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < b * c; o += int64_t(gridDim.x) * blockDim.x)
    narrow(avg_pool_value(x, hw, c, o / c, o % c), &y[o]);
}

template <class T>
__global__ void __launch_bounds__(kThreads) avg_pool_bwd_kernel(const T* dy, int64_t b, int64_t hw, int64_t c, T* dx) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < b * hw * c; e += int64_t(gridDim.x) * blockDim.x)
    narrow(avg_pool_input_grad(dy, hw, c, e), &dx[e]);
}

template <class T>
__global__ void __launch_bounds__(kThreads) shortcut_fwd_kernel(const T* x, ShortcutShape s, T* y) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < s.out_numel(); o += int64_t(gridDim.x) * blockDim.x)
    narrow(shortcut_value(x, s, o), &y[o]);
}

template <class T>
__global__ void __launch_bounds__(kThreads) shortcut_bwd_kernel(const T* dy, ShortcutShape s, T* dx) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < s.in_numel(); e += int64_t(gridDim.x) * blockDim.x)
    narrow(shortcut_input_grad(dy, s, e), &dx[e]);
}

template <class T>
__global__ void __launch_bounds__(kThreads) add_relu_kernel(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    narrow(add_relu_value(widen(a[i]), widen(b[i])), &y[i]);
}
}  // namespace

template <class T>
void avg_pool_forward(const T* x, int64_t b, int64_t hw, int64_t c, T* y) {
  launch_n<avg_pool_fwd_kernel<T>>(b * c, x, b, hw, c, y);
}
template <class T>
void avg_pool_backward(const T* dy, int64_t b, int64_t hw, int64_t c, T* dx) {
  launch_n<avg_pool_bwd_kernel<T>>(b * hw * c, dy, b, hw, c, dx);
}
template <class T>
void shortcut_forward(const T* x, const ShortcutShape& s, T* y) {
  launch_n<shortcut_fwd_kernel<T>>(s.out_numel(), x, s, y);
}
template <class T>
void shortcut_backward(const T* dy, const ShortcutShape& s, T* dx) {
  launch_n<shortcut_bwd_kernel<T>>(s.in_numel(), dy, s, dx);
}
template <class T>
void add_relu_forward(const T* a, const T* b, T* y, int64_t n) {
  launch_n<add_relu_kernel<T>>(n, a, b, y, n);
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_RESIDUAL_T)

}  // namespace renorm::kernels::cuda
