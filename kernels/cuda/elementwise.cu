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
void add(const float* a, const float* b, float* y, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = a[i] + b[i]; });
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
void relu_forward(const float* x, float* y, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = relu_value(x[i]); });
}
void relu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  launch_map(n, [=] __device__(int64_t i) { dx[i] = relu_grad(x[i], dy[i]); });
}
void uniform(float* y, int64_t n, uint64_t seed, float lo, float hi) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = philox_uniform_in(seed, static_cast<uint64_t>(i), lo, hi); });
}
void normal(float* y, int64_t n, uint64_t seed, float mean, float stddev) {
  launch_map(n, [=] __device__(int64_t i) { y[i] = philox_normal_with(seed, static_cast<uint64_t>(i), mean, stddev); });
}

}  // namespace renorm::kernels::cuda
