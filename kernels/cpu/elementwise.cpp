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
template <class T>
void add(const T* a, const T* b, T* y, int64_t n) { RENORM_CPU_MAP(narrow(widen(a[i]) + widen(b[i]), &y[i])) }
void mul(const float* a, const float* b, float* y, int64_t n) { RENORM_CPU_MAP(y[i] = a[i] * b[i]) }
void scale(const float* x, float alpha, float* y, int64_t n) { RENORM_CPU_MAP(y[i] = alpha * x[i]) }
void axpy(float alpha, const float* x, float* y, int64_t n) { RENORM_CPU_MAP(y[i] += alpha * x[i]) }
void broadcast_scalar(const float* s, float alpha, float* y, int64_t n) {
  const float v = alpha * s[0];
  RENORM_CPU_MAP(y[i] = v)
}
template <class T>
void relu_forward(const T* x, T* y, int64_t n) { RENORM_CPU_MAP(narrow(relu_value(widen(x[i])), &y[i])) }
template <class T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n) {
  RENORM_CPU_MAP(narrow(relu_grad(widen(x[i]), widen(dy[i])), &dx[i]))
}
RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_ELEMENTWISE_T)

void uniform(float* y, int64_t n, uint64_t seed, float lo, float hi) {
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = philox_uniform_in(seed, static_cast<uint64_t>(i), lo, hi);
}

void normal(float* y, int64_t n, uint64_t seed, float mean, float stddev) {
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = philox_normal_with(seed, static_cast<uint64_t>(i), mean, stddev);
}

}  // namespace renorm::kernels::cpu
