// Row-major gemm through column-major cuBLAS: C = op(A)op(B) row-major is C^T = op(B)^T op(A)^T
// column-major, so A and B swap places and m and n swap.
#include "runtime/detail/cuda_context.h"
#include "kernels/gemm.h"

namespace renorm::kernels::cuda {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b,
          float beta, float* c, MatMath math) {
  if (m == 0 || n == 0) return;
  // The handle with renorm's workspace (a captured call allocates nothing of cuBLAS's own) and its math
  // mode, both set for this call (host state read as the call is queued, so a captured graph keeps each
  // call's own): TF32 tensor-op math — which allows the tensor cores, cuBLAS does not say whether it used
  // them — or plain float32.
  const cublasHandle_t h = ::renorm::cuda::cublas_with_workspace();
  RENORM_CUBLAS_CHECK(cublasSetMathMode(h, math == MatMath::Tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const int lda = static_cast<int>(trans_a ? m : k), ldb = static_cast<int>(trans_b ? k : n);
  RENORM_CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                                  static_cast<int>(k), &alpha, b, ldb > 0 ? ldb : 1, a, lda > 0 ? lda : 1, &beta, c,
                                  static_cast<int>(n)));
}

}  // namespace renorm::kernels::cuda
