// CUDA-only internals: the per-device stream and library handles (created once), the caching
// allocator, and the checking macros that turn failing calls into typed exceptions naming the call
// and its source location. Include only from translation units built with RENORM_HAS_CUDA=1.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

#include "runtime/error.h"

namespace renorm::cuda {

[[noreturn]] void throw_cuda(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas(cublasStatus_t s, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn(cudnnStatus_t s, const char* call, const char* file, int line);

// The stream every renorm kernel, copy and library call runs on (current device).
cudaStream_t stream();
cublasHandle_t cublas();
// The cuBLAS handle with a workspace of renorm's set for the next call: the graph pool's inside a
// CudaPoolScope (so a captured GEMM holds no memory node of cuBLAS's own), else the device's
// (runtime/allocator.h cuda_library_workspace). Call it for every cuBLAS compute call.
cublasHandle_t cublas_with_workspace();
size_t cublas_workspace_bytes();  // 32 MiB on Hopper and later, 4 MiB before: cuBLAS's advice
cudnnHandle_t cudnn();
int multiprocessor_count();
// The current device's properties, read once.
const cudaDeviceProp& properties();
// At least n zeroed counters on the current device, for kernels whose last block to finish a group
// merges the group's partials (kernels/cuda/arrival.cuh). They are zero between launches: each kernel's
// last arriving block resets the counter it used. Allocated and zeroed (on the stream) only when a launch
// needs more than any before, so a warm step neither allocates nor clears them; a block once handed out
// is never freed or moved (a captured graph keeps its pointer), and growing during a capture is a
// DeviceError.
unsigned* arrival_counters(size_t n);

// Checks a launch of `func` (a __global__ function, named `kernel` in messages) before it is queued:
// grid and block against the device's limits, the block against the threads the kernel's registers
// and launch bounds allow and its static + dynamic shared memory against the per-block limit
// (cudaFuncGetAttributes, read once per kernel). Throws LaunchError naming the kernel and the limit.
void check_launch(const char* kernel, const void* func, dim3 grid, dim3 block, size_t shared_bytes);
// "name" from a __PRETTY_FUNCTION__ of the form "... [with auto K = name]" (the launch helper's).
std::string kernel_name_from_signature(const char* pretty);

}  // namespace renorm::cuda

#define RENORM_CUDA_CHECK(call)                                                   \
  do {                                                                            \
    const cudaError_t renorm_e_ = (call);                                         \
    if (renorm_e_ != cudaSuccess) ::renorm::cuda::throw_cuda(renorm_e_, #call, __FILE__, __LINE__); \
  } while (0)
#define RENORM_CUBLAS_CHECK(call)                                                 \
  do {                                                                            \
    const cublasStatus_t renorm_s_ = (call);                                      \
    if (renorm_s_ != CUBLAS_STATUS_SUCCESS) ::renorm::cuda::throw_cublas(renorm_s_, #call, __FILE__, __LINE__); \
  } while (0)
#define RENORM_CUDNN_CHECK(call)                                                  \
  do {                                                                            \
    const cudnnStatus_t renorm_s_ = (call);                                       \
    if (renorm_s_ != CUDNN_STATUS_SUCCESS) ::renorm::cuda::throw_cudnn(renorm_s_, #call, __FILE__, __LINE__); \
  } while (0)
// After every kernel launch: launch-configuration errors surface here, without a device sync.
#define RENORM_CUDA_LAUNCH_CHECK() RENORM_CUDA_CHECK(cudaGetLastError())
