// CPU-internal: one single-threaded OpenBLAS sgemm with explicit leading dimensions (row-major), for
// kernels that parallelize over their own tiles.
#pragma once
#include <cstdint>

namespace renorm::kernels::cpu {
void sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
}
