// cuDNN under the CUDA emulator: the handle and descriptors can be made and set; algorithm queries and
// convolutions answer CUDNN_STATUS_NOT_SUPPORTED (their parity tests need a real GPU) unless the
// reference libraries are on (below): then plain host loops compute them, for the training step's
// account (tests/emu), never for a parity test.
#pragma once
#include <cstddef>

#include "cuda_runtime.h"

struct cudnnContext;
struct cudnnTensorStruct;
struct cudnnFilterStruct;
struct cudnnConvolutionStruct;
using cudnnHandle_t = cudnnContext*;
using cudnnTensorDescriptor_t = cudnnTensorStruct*;
using cudnnFilterDescriptor_t = cudnnFilterStruct*;
using cudnnConvolutionDescriptor_t = cudnnConvolutionStruct*;
enum cudnnStatus_t : int { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_NOT_SUPPORTED = 3000 };
enum cudnnTensorFormat_t : int { CUDNN_TENSOR_NCHW = 0, CUDNN_TENSOR_NHWC = 1 };
enum cudnnDataType_t : int { CUDNN_DATA_FLOAT = 0, CUDNN_DATA_BFLOAT16 = 9 };
enum cudnnConvolutionMode_t : int { CUDNN_CONVOLUTION = 0, CUDNN_CROSS_CORRELATION = 1 };
enum cudnnMathType_t : int {
  CUDNN_DEFAULT_MATH = 0, CUDNN_TENSOR_OP_MATH = 1, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2, CUDNN_FMA_MATH = 3
};
// cuDNN's values (the reference answers algorithm 0 to every query).
enum cudnnConvolutionFwdAlgo_t : int {
  CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM = 0, CUDNN_CONVOLUTION_FWD_ALGO_FFT = 4, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING = 5,
  CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD = 6, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED = 7
};
enum cudnnConvolutionBwdDataAlgo_t : int {
  CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 = 0, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT = 2, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING = 3,
  CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD = 4, CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED = 5
};
enum cudnnConvolutionBwdFilterAlgo_t : int {
  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 = 0, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT = 2,
  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED = 5, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING = 6
};
enum cudnnDeterminism_t : int { CUDNN_NON_DETERMINISTIC = 0, CUDNN_DETERMINISTIC = 1 };
template <class Algo>
struct cudnnAlgoPerf {
  Algo algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t mathType;  // the math the algorithm runs with: set it on the descriptor before the call
};
using cudnnConvolutionFwdAlgoPerf_t = cudnnAlgoPerf<cudnnConvolutionFwdAlgo_t>;
using cudnnConvolutionBwdDataAlgoPerf_t = cudnnAlgoPerf<cudnnConvolutionBwdDataAlgo_t>;
using cudnnConvolutionBwdFilterAlgoPerf_t = cudnnAlgoPerf<cudnnConvolutionBwdFilterAlgo_t>;

// The descriptors hold what they are set to (the reference convolutions read them).
struct cudnnTensorStruct {
  cudnnTensorFormat_t format;
  int n, c, h, w;
  cudnnDataType_t type;
};
struct cudnnFilterStruct {
  cudnnTensorFormat_t format;
  int k, c, r, s;
  cudnnDataType_t type;
};
struct cudnnConvolutionStruct {
  int pad_h, pad_w, stride_h, stride_w, dil_h, dil_w;
  cudnnConvolutionMode_t mode;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;  // all but CUDNN_FMA_MATH: float32 operands reduced to TF32
};

inline cudnnStatus_t cudnnCreate(cudnnHandle_t* h) {
  static char token;
  *h = reinterpret_cast<cudnnHandle_t>(&token);
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) { return CUDNN_STATUS_SUCCESS; }
inline cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) { return *d = new cudnnTensorStruct{}, CUDNN_STATUS_SUCCESS; }
inline cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) { return *d = new cudnnFilterStruct{}, CUDNN_STATUS_SUCCESS; }
inline cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
  return *d = new cudnnConvolutionStruct{}, CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f, cudnnDataType_t t, int n,
                                                int c, int h, int w) {
  *d = {f, n, c, h, w, t};
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t, cudnnTensorFormat_t f, int k,
                                                int c, int r, int s) {
  *d = {f, k, c, r, s, t};
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int u, int v, int dh,
                                                     int dw, cudnnConvolutionMode_t m, cudnnDataType_t) {
  *d = {ph, pw, u, v, dh, dw, m};
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m) {
  d->math = m;
  return CUDNN_STATUS_SUCCESS;
}

// Everything below answers CUDNN_STATUS_NOT_SUPPORTED unless the reference libraries are on
// (renorm_emu::set_reference_libraries, emu/libraries.cpp): then algorithms with no workspace, and
// convolutions computed by plain loops on the host (NHWC tensors, KRSC filters, cross-correlation),
// each counted as a library call with its bytes (the tensors' sizes) in the account.
// The algorithm queries model what cuDNN may do with CUDNN_TENSOR_OP_MATH, which *allows* TF32: where
// the direction's sum is shorter than renorm_emu::reference_tf32_floor() products (a small shape: cuda_runtime.h) the
// reference declines it — one algorithm, CUDNN_FMA_MATH, and the convolution then computes in plain
// float32 whatever the descriptor says; where it is longer, the list holds an FMA-math algorithm (0)
// first and a tensor-op one (1) second, so a caller that wants TF32 must look at mathType. A
// descriptor with CUDNN_FMA_MATH gets algorithm 0 in FMA math alone.
template <class Perf>
cudnnStatus_t renorm_emu_algorithms(cudnnConvolutionDescriptor_t c, int64_t sum_length, int* returned, Perf* perf) {
  if (!renorm_emu::reference_libraries()) return CUDNN_STATUS_NOT_SUPPORTED;
  const bool tensor_op = c->math != CUDNN_FMA_MATH && sum_length >= renorm_emu::reference_tf32_floor();
  *returned = tensor_op ? 2 : 1;
  for (int i = 0; i < *returned; ++i) {
    perf[i] = Perf{};
    perf[i].algo = static_cast<decltype(perf[i].algo)>(i);
    perf[i].status = CUDNN_STATUS_SUCCESS;
    perf[i].determinism = CUDNN_DETERMINISTIC;  // the reference convolutions sum in a fixed order
    perf[i].mathType = i == 1 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  }
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t w,
                                                            cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t, int,
                                                            int* n, cudnnConvolutionFwdAlgoPerf_t* p) {
  return renorm_emu_algorithms(c, int64_t(w->c) * w->r * w->s, n, p);  // y sums C·R·S products
}
inline cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t, cudnnFilterDescriptor_t w,
                                                                 cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t c,
                                                                 cudnnTensorDescriptor_t, int, int* n,
                                                                 cudnnConvolutionBwdDataAlgoPerf_t* p) {
  return renorm_emu_algorithms(c, int64_t(w->k) * w->r * w->s, n, p);  // dx sums at most K·R·S
}
inline cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t, cudnnTensorDescriptor_t,
                                                                   cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                                   cudnnFilterDescriptor_t, int, int* n,
                                                                   cudnnConvolutionBwdFilterAlgoPerf_t* p) {
  return renorm_emu_algorithms(c, int64_t(dy->n) * dy->h * dy->w, n, p);  // dw sums B·OH·OW
}
inline cudnnStatus_t renorm_emu_no_workspace(size_t* bytes) {
  if (!renorm_emu::reference_libraries()) return CUDNN_STATUS_NOT_SUPPORTED;
  *bytes = 0;
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t,
                                                             cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t,
                                                             cudnnConvolutionFwdAlgo_t, size_t* bytes) {
  return renorm_emu_no_workspace(bytes);
}
inline cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t, cudnnFilterDescriptor_t,
                                                                  cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
                                                                  cudnnTensorDescriptor_t, cudnnConvolutionBwdDataAlgo_t,
                                                                  size_t* bytes) {
  return renorm_emu_no_workspace(bytes);
}
inline cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t, cudnnTensorDescriptor_t,
                                                                    cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
                                                                    cudnnFilterDescriptor_t, cudnnConvolutionBwdFilterAlgo_t,
                                                                    size_t* bytes) {
  return renorm_emu_no_workspace(bytes);
}
// The compute calls (emu/libraries.cpp): counted in the device's account (library_calls) either way.
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t, const void* alpha, cudnnTensorDescriptor_t xd, const void* x,
                                      cudnnFilterDescriptor_t wd, const void* w, cudnnConvolutionDescriptor_t cd,
                                      cudnnConvolutionFwdAlgo_t, void* ws, size_t ws_bytes, const void* beta,
                                      cudnnTensorDescriptor_t yd, void* y);
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t, const void* alpha, cudnnFilterDescriptor_t wd, const void* w,
                                           cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd,
                                           cudnnConvolutionBwdDataAlgo_t, void* ws, size_t ws_bytes, const void* beta,
                                           cudnnTensorDescriptor_t dxd, void* dx);
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t, const void* alpha, cudnnTensorDescriptor_t xd, const void* x,
                                             cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd,
                                             cudnnConvolutionBwdFilterAlgo_t, void* ws, size_t ws_bytes, const void* beta,
                                             cudnnFilterDescriptor_t dwd, void* dw);
inline const char* cudnnGetErrorString(cudnnStatus_t s) {
  return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS"
                                   : "CUDNN_STATUS_NOT_SUPPORTED (cuDNN is not emulated by the renorm CUDA emulator: "
                                     "needs a real GPU, or renorm_emu::set_reference_libraries for the account)";
}
