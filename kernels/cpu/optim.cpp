#include "kernels/optim.h"

namespace renorm::kernels::cpu {

void sgd_step(float* p, const float* g, float* v, int64_t n, const SgdParams& h) {
#pragma omp parallel for simd if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i) sgd_update(p[i], g[i], v[i], h);
}

void adam_step(float* p, const float* g, float* m, float* v, int64_t n, const AdamParams& h) {
#pragma omp parallel for simd if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i) adam_update(p[i], g[i], m[i], v[i], h);
}

}  // namespace renorm::kernels::cpu
