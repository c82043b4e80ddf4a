#include "kernels/elementwise.h"

#include "runtime/philox.h"

namespace renorm::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;  // below this, threads cost more than they save
}

#define RENORM_CPU_MAP(expr)                                     \
  _Pragma("omp parallel for simd if(n >= kParallelMin)")         \
  for (int64_t i = 0; i < n; ++i) expr;

void fill(float* y, int64_t n, float value) { RENORM_CPU_MAP(y[i] = value) }
void add(const float* a, const float* b, float* y, int64_t n) { RENORM_CPU_MAP(y[i] = a[i] + b[i]) }
void mul(const float* a, const float* b, float* y, int64_t n) { RENORM_CPU_MAP(y[i] = a[i] * b[i]) }
void scale(const float* x, float alpha, float* y, int64_t n) { RENORM_CPU_MAP(y[i] = alpha * x[i]) }
void axpy(float alpha, const float* x, float* y, int64_t n) { RENORM_CPU_MAP(y[i] += alpha * x[i]) }
void broadcast_scalar(const float* s, float alpha, float* y, int64_t n) {
  const float v = alpha * s[0];
  RENORM_CPU_MAP(y[i] = v)
}
void relu_forward(const float* x, float* y, int64_t n) { RENORM_CPU_MAP(y[i] = relu_value(x[i])) }
void relu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  RENORM_CPU_MAP(dx[i] = relu_grad(x[i], dy[i]))
}

void uniform(float* y, int64_t n, uint64_t seed, float lo, float hi) {
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = philox_uniform_in(seed, static_cast<uint64_t>(i), lo, hi);
}

void normal(float* y, int64_t n, uint64_t seed, float mean, float stddev) {
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = philox_normal_with(seed, static_cast<uint64_t>(i), mean, stddev);
}

}  // namespace renorm::kernels::cpu
