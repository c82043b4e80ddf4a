#include "kernels/optim.h"

namespace renorm::kernels::cpu {

void sgd_step(const TensorList& l, const SgdParams& h) {
  const StepRates s = sgd_rates(h);
  for (int t = 0; t < l.count; ++t) {
    float *p = l.p[t], *v = l.s0[t];
    const float* g = l.g[t];
#pragma omp parallel for simd if (l.n[t] >= (1 << 15))
    for (int64_t i = 0; i < l.n[t]; ++i) sgd_update(p[i], g[i], v[i], h, s);
  }
}

void adam_step(const TensorList& l, const AdamParams& h) {
  const StepRates s = adam_rates(h);
  for (int t = 0; t < l.count; ++t) {
    float *p = l.p[t], *m = l.s0[t], *v = l.s1[t];
    const float* g = l.g[t];
#pragma omp parallel for simd if (l.n[t] >= (1 << 15))
    for (int64_t i = 0; i < l.n[t]; ++i) adam_update(p[i], g[i], m[i], v[i], h, s);
  }
}

}  // namespace renorm::kernels::cpu
