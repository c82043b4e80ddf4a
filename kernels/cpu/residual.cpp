// CPU kernels of the residual network's ops (kernels/residual.h): the shared per-element formulas, one
// parallel loop each over the outputs.
#include "kernels/residual.h"

namespace renorm::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;  // below this, threads cost more than they save
}

void avg_pool_forward(const float* x, int64_t b, int64_t hw, int64_t c, float* y) {
#pragma omp parallel for if (b * hw * c >= kParallelMin)
  for (int64_t o = 0; o < b * c; ++o) y[o] = avg_pool_value(x, hw, c, o / c, o % c);
}

void avg_pool_backward(const float* dy, int64_t b, int64_t hw, int64_t c, float* dx) {
  const int64_t n = b * hw * c;
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) dx[e] = avg_pool_input_grad(dy, hw, c, e);
}

void shortcut_forward(const float* x, const ShortcutShape& s, float* y) {
  const int64_t n = s.out_numel();
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t o = 0; o < n; ++o) y[o] = shortcut_value(x, s, o);
}

void shortcut_backward(const float* dy, const ShortcutShape& s, float* dx) {
  const int64_t n = s.in_numel();
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t e = 0; e < n; ++e) dx[e] = shortcut_input_grad(dy, s, e);
}

void add_relu_forward(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = add_relu_value(a[i], b[i]);
}

}  // namespace renorm::kernels::cpu
