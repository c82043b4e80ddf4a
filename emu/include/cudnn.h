// cuDNN under the CUDA emulator: the handle and descriptors can be made and set, and every algorithm
// query or convolution answers CUDNN_STATUS_NOT_SUPPORTED. Convolutions are not emulated; their tests
// need a real GPU.
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
enum cudnnDataType_t : int { CUDNN_DATA_FLOAT = 0 };
enum cudnnConvolutionMode_t : int { CUDNN_CONVOLUTION = 0, CUDNN_CROSS_CORRELATION = 1 };
enum cudnnMathType_t : int { CUDNN_DEFAULT_MATH = 0, CUDNN_FMA_MATH = 3 };
enum cudnnConvolutionFwdAlgo_t : int {};
enum cudnnConvolutionBwdDataAlgo_t : int {};
enum cudnnConvolutionBwdFilterAlgo_t : int {};
template <class Algo>
struct cudnnAlgoPerf {
  Algo algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
};
using cudnnConvolutionFwdAlgoPerf_t = cudnnAlgoPerf<cudnnConvolutionFwdAlgo_t>;
using cudnnConvolutionBwdDataAlgoPerf_t = cudnnAlgoPerf<cudnnConvolutionBwdDataAlgo_t>;
using cudnnConvolutionBwdFilterAlgoPerf_t = cudnnAlgoPerf<cudnnConvolutionBwdFilterAlgo_t>;

namespace renorm_emu::cudnn {
template <class T>
cudnnStatus_t make(T* out) {
  static char token;
  *out = reinterpret_cast<T>(&token);
  return CUDNN_STATUS_SUCCESS;
}
}  // namespace renorm_emu::cudnn

inline cudnnStatus_t cudnnCreate(cudnnHandle_t* h) { return renorm_emu::cudnn::make(h); }
inline cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) { return CUDNN_STATUS_SUCCESS; }
inline cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) { return renorm_emu::cudnn::make(d); }
inline cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) { return renorm_emu::cudnn::make(d); }
inline cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) { return renorm_emu::cudnn::make(d); }
inline cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t, cudnnTensorFormat_t, cudnnDataType_t, int, int,
                                                int, int) {
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t, cudnnDataType_t, cudnnTensorFormat_t, int, int,
                                                int, int) {
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t, int, int, int, int, int, int,
                                                     cudnnConvolutionMode_t, cudnnDataType_t) {
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t, cudnnMathType_t) {
  return CUDNN_STATUS_SUCCESS;
}
#define RENORM_EMU_CUDNN_UNSUPPORTED(name) \
  template <class... A>                    \
  cudnnStatus_t name(A...) {               \
    return CUDNN_STATUS_NOT_SUPPORTED;     \
  }
RENORM_EMU_CUDNN_UNSUPPORTED(cudnnGetConvolutionForwardAlgorithm_v7)
RENORM_EMU_CUDNN_UNSUPPORTED(cudnnGetConvolutionBackwardDataAlgorithm_v7)
RENORM_EMU_CUDNN_UNSUPPORTED(cudnnGetConvolutionBackwardFilterAlgorithm_v7)
RENORM_EMU_CUDNN_UNSUPPORTED(cudnnGetConvolutionForwardWorkspaceSize)
RENORM_EMU_CUDNN_UNSUPPORTED(cudnnGetConvolutionBackwardDataWorkspaceSize)
RENORM_EMU_CUDNN_UNSUPPORTED(cudnnGetConvolutionBackwardFilterWorkspaceSize)
#undef RENORM_EMU_CUDNN_UNSUPPORTED
// The compute calls: not emulated either, but counted in the device's account (library_calls).
#define RENORM_EMU_CUDNN_COMPUTE(name)                        \
  template <class... A>                                       \
  cudnnStatus_t name(A...) {                                  \
    renorm_emu::count(renorm_emu::Counted::LibraryCall);      \
    return CUDNN_STATUS_NOT_SUPPORTED;                        \
  }
RENORM_EMU_CUDNN_COMPUTE(cudnnConvolutionForward)
RENORM_EMU_CUDNN_COMPUTE(cudnnConvolutionBackwardData)
RENORM_EMU_CUDNN_COMPUTE(cudnnConvolutionBackwardFilter)
#undef RENORM_EMU_CUDNN_COMPUTE
inline const char* cudnnGetErrorString(cudnnStatus_t s) {
  return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS"
                                   : "CUDNN_STATUS_NOT_SUPPORTED (cuDNN is not emulated by the renorm CUDA emulator: "
                                     "needs a real GPU)";
}
