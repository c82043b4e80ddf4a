// CPU kernels of the residual network's ops (kernels/residual.h): the shared per-element formulas, one
// parallel loop each over the outputs.
#include "kernels/residual.h"

namespace renorm::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;  // below this, threads cost more than they save
}

template <class T>
void avg_pool_forward(const T* x, int64_t b, int64_t hw, int64_t c, T* y) {
#pragma omp parallel for if (b * hw * c >= kParallelMin)
  for (int64_t o = 0; o < b * c; ++o) narrow(avg_pool_value(x, hw, c, o / c, o % c), &y[o]);
}

template <class T>
void avg_pool_backward(const T* dy, int64_t b, int64_t hw, int64_t c, T* dx) {
  const int64_t n = b * hw * c;
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) narrow(avg_pool_input_grad(dy, hw, c, e), &dx[e]);
}

template <class T>
void shortcut_forward(const T* x, const ShortcutShape& s, T* y) {
  const int64_t n = s.out_numel();
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t o = 0; o < n; ++o) narrow(shortcut_value(x, s, o), &y[o]);
}

template <class T>
void shortcut_backward(const T* dy, const ShortcutShape& s, T* dx) {
  const int64_t n = s.in_numel();
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) narrow(shortcut_input_grad(dy, s, e), &dx[e]);
}

template <class T>
void add_relu_forward(const T* a, const T* b, T* y, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) narrow(add_relu_value(widen(a[i]), widen(b[i])), &y[i]);
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_RESIDUAL_T)

}  // namespace renorm::kernels::cpu
