// cuBLAS under the CUDA emulator: handles can be made and configured; cublasSgemm answers
// CUBLAS_STATUS_NOT_SUPPORTED (its parity tests need a real GPU) unless the reference libraries are on
// (renorm_emu::set_reference_libraries, emu/libraries.cpp): then a plain host loop computes it, for the
// training step's account, never for a parity test. Counted as a library call either way. The math
// mode is kept (one per process, as there is one handle): CUBLAS_TF32_TENSOR_OP_MATH reduces the
// operands of the reference GEMM to TF32, as the tensor cores read them (emu/libraries.cpp).
#pragma once
#include "cuda_runtime.h"

struct cublasContext;
using cublasHandle_t = cublasContext*;
enum cublasStatus_t : int { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7, CUBLAS_STATUS_NOT_SUPPORTED = 15 };
enum cublasOperation_t : int { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasMath_t : int { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };

inline cublasStatus_t cublasCreate(cublasHandle_t* h) {
  static char token;
  *h = reinterpret_cast<cublasHandle_t>(&token);
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasDestroy(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
// Setting the stream resets the handle to the library's own workspace, as cuBLAS documents; a workspace
// of the caller's (device memory, 256-byte aligned) is used by every later call instead of the library
// allocating one (emu/libraries.cpp counts those allocations).
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t);
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void* workspace, size_t bytes);
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t mode);
cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* a, int lda, const float* b, int ldb, const float* beta,
                           float* c, int ldc);
inline const char* cublasGetStatusName(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS"
         : s == CUBLAS_STATUS_INVALID_VALUE ? "CUBLAS_STATUS_INVALID_VALUE" : "CUBLAS_STATUS_NOT_SUPPORTED";
}
inline const char* cublasGetStatusString(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? "success" : "cuBLAS is not emulated by the renorm CUDA emulator: needs a real GPU (or renorm_emu::set_reference_libraries)";
}
