#include <algorithm>
#include <chrono>
#include <vector>

#include "benchmarks/cuda_bench.h"
#include "runtime/allocator.h"
#include "runtime/detail/cuda_context.h"

namespace renorm::bench {

namespace {
struct Flush {
  void* p = nullptr;
  size_t bytes = 0;
  Flush() {
    int dev = 0, l2 = 0;
    RENORM_CUDA_CHECK(cudaGetDevice(&dev));
    RENORM_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    bytes = size_t(std::max(l2, 1 << 20)) * 2;
    RENORM_CUDA_CHECK(cudaMalloc(&p, bytes));
  }
  void operator()() const { RENORM_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda::stream())); }
};
}  // namespace

double cuda_time_ms(const std::function<void()>& f, int repeats) {
  static Flush flush;
  cudaEvent_t start, stop;
  RENORM_CUDA_CHECK(cudaEventCreate(&start));
  RENORM_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < 3; ++i) f();  // warm-up: plans, caches, clocks
  std::vector<float> ms;
  for (int i = 0; i < repeats; ++i) {
    flush();
    RENORM_CUDA_CHECK(cudaEventRecord(start, cuda::stream()));
    f();
    RENORM_CUDA_CHECK(cudaEventRecord(stop, cuda::stream()));
    RENORM_CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0;
    RENORM_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  RENORM_CUDA_CHECK(cudaEventDestroy(start));
  RENORM_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

PipelinedTime cuda_pipelined_ms(const std::function<void()>& step, int steps) {
  cudaEvent_t start, stop;
  RENORM_CUDA_CHECK(cudaEventCreate(&start));
  RENORM_CUDA_CHECK(cudaEventCreate(&stop));
  RENORM_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
  const auto t0 = std::chrono::steady_clock::now();
  RENORM_CUDA_CHECK(cudaEventRecord(start, cuda::stream()));
  for (int i = 0; i < steps; ++i) step();
  RENORM_CUDA_CHECK(cudaEventRecord(stop, cuda::stream()));
  const double host = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  RENORM_CUDA_CHECK(cudaEventSynchronize(stop));
  float gpu = 0;
  RENORM_CUDA_CHECK(cudaEventElapsedTime(&gpu, start, stop));
  RENORM_CUDA_CHECK(cudaEventDestroy(start));
  RENORM_CUDA_CHECK(cudaEventDestroy(stop));
  return {host / steps, double(gpu) / steps};
}

double cuda_copy_gbs() {
  const size_t bytes = size_t(1) << 30;
  void *a = nullptr, *b = nullptr;
  RENORM_CUDA_CHECK(cudaMalloc(&a, bytes));
  RENORM_CUDA_CHECK(cudaMalloc(&b, bytes));
  RENORM_CUDA_CHECK(cudaMemsetAsync(a, 1, bytes, cuda::stream()));
  const double ms = cuda_time_ms([&] { RENORM_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, cuda::stream())); }, 10);
  RENORM_CUDA_CHECK(cudaFree(a));
  RENORM_CUDA_CHECK(cudaFree(b));
  return 2.0 * double(bytes) / (ms * 1e6);
}

double cuda_copy_ms(double bytes_moved, int repeats) {
  const size_t bytes = std::max<size_t>(256, size_t(bytes_moved / 2) / 256 * 256);
  void *a = nullptr, *b = nullptr;
  RENORM_CUDA_CHECK(cudaMalloc(&a, bytes));
  RENORM_CUDA_CHECK(cudaMalloc(&b, bytes));
  RENORM_CUDA_CHECK(cudaMemsetAsync(a, 1, bytes, cuda::stream()));
  const double ms = cuda_time_ms([&] { RENORM_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, cuda::stream())); }, repeats);
  RENORM_CUDA_CHECK(cudaFree(a));
  RENORM_CUDA_CHECK(cudaFree(b));
  return ms;
}

struct CudnnBatchNorm::Impl {
  cudnnTensorDescriptor_t x = nullptr, param = nullptr;
};

CudnnBatchNorm::CudnnBatchNorm(int b, int h, int w, int c) : impl(new Impl) {
  RENORM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&impl->x));
  RENORM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&impl->param));
  RENORM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(impl->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, b, c, h, w));
  RENORM_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(impl->param, impl->x, CUDNN_BATCHNORM_SPATIAL_PERSISTENT));
}

CudnnBatchNorm::~CudnnBatchNorm() {
  cudnnDestroyTensorDescriptor(impl->x);
  cudnnDestroyTensorDescriptor(impl->param);
  delete impl;
}

void CudnnBatchNorm::forward_training(const float* x, float* y, const float* gamma, const float* beta, float* run_mean,
                                      float* run_var, float* save_mean, float* save_invvar) {
  const float one = 1.f, zero = 0.f;
  RENORM_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(cuda::cudnn(), CUDNN_BATCHNORM_SPATIAL_PERSISTENT, &one, &zero,
                                                            impl->x, x, impl->x, y, impl->param, gamma, beta, 0.01,
                                                            run_mean, run_var, 1e-3, save_mean, save_invvar));
}

void CudnnBatchNorm::backward(const float* x, const float* dy, float* dx, const float* gamma, float* dgamma,
                              float* dbeta, const float* save_mean, const float* save_invvar) {
  const float one = 1.f, zero = 0.f;
  RENORM_CUDNN_CHECK(cudnnBatchNormalizationBackward(cuda::cudnn(), CUDNN_BATCHNORM_SPATIAL_PERSISTENT, &one, &zero, &one,
                                                     &zero, impl->x, x, impl->x, dy, impl->x, dx, impl->param, gamma,
                                                     dgamma, dbeta, 1e-3, save_mean, save_invvar));
}

}  // namespace renorm::bench
