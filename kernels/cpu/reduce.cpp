#include "kernels/reduce.h"

namespace renorm::kernels::cpu {

void sum(const float* x, int64_t n, float* out) {
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) if (n >= (1 << 16))
  for (int64_t i = 0; i < n; ++i) s += x[i];
  out[0] = static_cast<float>(s);
}

}  // namespace renorm::kernels::cpu
