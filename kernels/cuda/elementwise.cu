// Elementwise kernels: grid-stride loops, one read of each input and one write of y per element.
#include "runtime/philox.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/elementwise.h"

namespace renorm::kernels::cuda {

namespace {
template <class F>
__global__ void __launch_bounds__(kThreads) map_kernel(int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) f(i);
}

template <class F>
void launch_map(int64_t n, F f) {
  launch_n<map_kernel<F>>(n, n, f);
}
}  // namespace

void fill(float* y, int64_t n, float value) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = value; });
}
template <class T>
void add(const T* a, const T* b, T* y, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { narrow(widen(a[i]) + widen(b[i]), &y[i]); });
}
void mul(const float* a, const float* b, float* y, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = a[i] * b[i]; });
}
void scale(const float* x, float alpha, float* y, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = alpha * x[i]; });
}
void axpy(float alpha, const float* x, float* y, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { y[i] += alpha * x[i]; });
}
void broadcast_scalar(const float* s, float alpha, float* y, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = alpha * s[0]; });
}
template <class T>
void relu_forward(const T* x, T* y, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { narrow(relu_value(widen(x[i])), &y[i]); });
}
template <class T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { narrow(relu_grad(widen(x[i]), widen(dy[i])), &dx[i]); });
}
RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_ELEMENTWISE_T)
void uniform(float* y, int64_t n, uint64_t seed, float lo, float hi) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = philox_uniform_in(seed, static_cast<uint64_t>(i), lo, hi); });
}
void normal(float* y, int64_t n, uint64_t seed, float mean, float stddev) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = philox_normal_with(seed, static_cast<uint64_t>(i), mean, stddev); });
}

}  // namespace renorm::kernels::cuda
