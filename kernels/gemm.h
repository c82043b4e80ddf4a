// Row-major single-precision matrix product: C(m,n) = alpha * op(A) * op(B) + beta * C, with
// op(A) (m,k) and op(B) (k,n); A is (m,k) or, transposed, (k,m); B is (k,n) or (n,k). Contiguous.
// CPU: OpenBLAS cblas_sgemm. CUDA: cuBLAS cublasSgemm, plain float32 (no TF32).
#pragma once
#include <cstdint>

namespace renorm::kernels {

#define RENORM_DECLARE_GEMM                                                                  \
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, \
            const float* b, float beta, float* c);

namespace cpu {
RENORM_DECLARE_GEMM
}
namespace cuda {
RENORM_DECLARE_GEMM
}

}  // namespace renorm::kernels
