// CPU sgemm: OpenBLAS, single-threaded inside, parallelized here with OpenMP over blocks of rows (or of
// columns when there are few rows). All CPU parallelism in renorm is OpenMP: OpenBLAS's own pthreads
// spinning beside OpenMP's would fight over the cores.
#include "kernels/cpu/detail/gemm_raw.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/detail/tf32_copy.h"
#include "kernels/gemm.h"

namespace renorm::kernels::cpu {

void sgemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  static const bool single_threaded = (openblas_set_num_threads(1), true);
  (void)single_threaded;
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(std::max<int64_t>(lda, 1)), b, int(std::max<int64_t>(ldb, 1)), beta, c, int(ldc));
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b, float beta,
          float* c, MatMath math) {
  if (math == MatMath::Tf32) return gemm(ta, tb, m, n, k, alpha, Tf32Copy(a, m * k).p, Tf32Copy(b, k * n).p, beta, c);
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads == 1 || m * n * k < (int64_t(1) << 18)) return sgemm_serial(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
  const bool by_rows = m >= n;
  const int64_t extent = by_rows ? m : n, block = (extent + threads - 1) / threads;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    const int64_t lo = std::min(extent, t * block), len = std::min(extent, lo + block) - lo;
    if (len <= 0) continue;
    if (by_rows)  // rows [lo, lo+len) of C and of op(A)
      sgemm_serial(ta, tb, len, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * n, n);
    else  // columns [lo, lo+len) of C and of op(B)
      sgemm_serial(ta, tb, m, len, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo, n);
  }
}

}  // namespace renorm::kernels::cpu
