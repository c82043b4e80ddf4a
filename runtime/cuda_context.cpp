// The CUDA side of the device layer: run-time detection, per-device stream and handles, the caching
// allocator and the error helpers. Compiled always; empty of CUDA calls when RENORM_HAS_CUDA=0.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/allocator.h"
#include "runtime/device.h"
#include "runtime/error.h"

#if RENORM_HAS_CUDA
#include "runtime/detail/cuda_context.h"
#endif

namespace renorm {

#ifndef RENORM_CUDA_EMULATION
#define RENORM_CUDA_EMULATION 0
#endif

bool cuda_compiled() { return RENORM_HAS_CUDA != 0; }
bool cuda_emulated() { return RENORM_CUDA_EMULATION != 0; }

namespace {
[[maybe_unused]] bool forced_cpu() {
  const char* e = std::getenv("RENORM_DEVICE");
  return e && std::string(e) == "cpu";
}
}  // namespace

std::string cuda_unavailable_reason() {
#if RENORM_HAS_CUDA
  if (forced_cpu()) return "RENORM_DEVICE=cpu forces the CPU";
  static const std::string reason = [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error so later queries start clean
      return std::string("no usable CUDA device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    }
    if (n == 0) return std::string("no CUDA device found (cudaGetDeviceCount = 0)");
    return std::string();
  }();
  return reason;
#else
  return "renorm was built without CUDA (RENORM_CUDA=OFF or toolkit not found)";
#endif
}

bool cuda_available() { return cuda_unavailable_reason().empty(); }

#if RENORM_HAS_CUDA
namespace cuda {

void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  throw CudaError(std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ") in " + call +
                  " at " + file + ":" + std::to_string(line));
}
void throw_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  throw CublasError(std::string("cuBLAS error ") + cublasGetStatusName(s) + " (" + cublasGetStatusString(s) +
                    ") in " + call + " at " + file + ":" + std::to_string(line));
}
void throw_cudnn(cudnnStatus_t s, const char* call, const char* file, int line) {
  throw CudnnError(std::string("cuDNN error ") + cudnnGetErrorString(s) + " in " + call + " at " + file + ":" +
                   std::to_string(line));
}

namespace {
struct PerDevice {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cudaDeviceProp prop{};
  unsigned* counters = nullptr;  // arrival_counters
  size_t counters_n = 0;
};
std::mutex g_ctx_mutex;
// Intentionally never destroyed: handles outlive every static tensor, and the driver reclaims them at exit.
std::vector<PerDevice>* g_ctx = new std::vector<PerDevice>();

PerDevice& context() {
  if (!cuda_available()) throw DeviceError("CUDA requested but not available: " + cuda_unavailable_reason());
  int dev = 0;
  RENORM_CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lock(g_ctx_mutex);
  if (static_cast<int>(g_ctx->size()) <= dev) g_ctx->resize(dev + 1);
  PerDevice& c = (*g_ctx)[dev];
  if (!c.stream) {
    RENORM_CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
    RENORM_CUBLAS_CHECK(cublasCreate(&c.cublas));
    RENORM_CUBLAS_CHECK(cublasSetStream(c.cublas, c.stream));
    // Plain float32 math (no TF32) so CPU-vs-CUDA parity holds to float32 rounding.
    RENORM_CUBLAS_CHECK(cublasSetMathMode(c.cublas, CUBLAS_DEFAULT_MATH));
    RENORM_CUDNN_CHECK(cudnnCreate(&c.cudnn));
    RENORM_CUDNN_CHECK(cudnnSetStream(c.cudnn, c.stream));
    RENORM_CUDA_CHECK(cudaGetDeviceProperties(&c.prop, dev));
  }
  return c;
}
}  // namespace

cudaStream_t stream() { return context().stream; }
cublasHandle_t cublas() { return context().cublas; }
cudnnHandle_t cudnn() { return context().cudnn; }
int multiprocessor_count() { return context().prop.multiProcessorCount; }
const cudaDeviceProp& properties() { return context().prop; }

unsigned* arrival_counters(size_t n) {
  PerDevice& c = context();
  static std::mutex grow_mutex;  // not g_ctx_mutex: device_allocate takes that one
  std::lock_guard<std::mutex> lock(grow_mutex);
  if (n > c.counters_n) {
    const size_t grown = std::max(n, 2 * c.counters_n), bytes = grown * sizeof(unsigned);
    // The old block goes back to the cache: launches queued before use it first (one stream per device).
    if (c.counters) device_release(Device::CUDA, c.counters, c.counters_n * sizeof(unsigned));
    c.counters = static_cast<unsigned*>(device_allocate(Device::CUDA, bytes));
    RENORM_CUDA_CHECK(cudaMemsetAsync(c.counters, 0, bytes, c.stream));
    c.counters_n = grown;
  }
  return c.counters;
}

}  // namespace cuda
#endif

}  // namespace renorm
