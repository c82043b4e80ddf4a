// Row-major single-precision matrix product: C(m,n) = alpha * op(A) * op(B) + beta * C, with
// op(A) (m,k) and op(B) (k,n); A is (m,k) or, transposed, (k,m); B is (k,n) or (n,k). Contiguous.
// CPU: OpenBLAS cblas_sgemm. CUDA: cuBLAS cublasSgemm, plain float32 (CUBLAS_DEFAULT_MATH). With
// math = Tf32 (runtime/tf32.h) the operands are reduced to TF32: CUBLAS_TF32_TENSOR_OP_MATH on CUDA,
// rounded copies on the CPU.
#pragma once
#include <cstdint>

#include "runtime/tf32.h"

namespace renorm::kernels {

#define RENORM_DECLARE_GEMM                                                                  \
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, \
            const float* b, float beta, float* c, MatMath math = MatMath::Fp32);

namespace cpu {
RENORM_DECLARE_GEMM
}
namespace cuda {
RENORM_DECLARE_GEMM
}

}  // namespace renorm::kernels
