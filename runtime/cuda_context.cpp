// The CUDA side of the device layer: run-time detection, per-device stream and handles (cuBLAS with its
// workspace), the arrival counters and the error helpers; the caching allocator is allocator.cpp's.
// Compiled always; empty of CUDA calls when RENORM_HAS_CUDA=0.
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
#if RENORM_HAS_CUDA
// What the CUDA emulator adds to an error's code (renorm_emu::error_detail); nothing on a GPU.
std::string emulator_detail([[maybe_unused]] cudaError_t e) {
#if RENORM_CUDA_EMULATION
  return renorm_emu::error_detail(e);
#else
  return std::string();
#endif
}
#endif
}  // namespace

std::string cuda_unavailable_reason() {
#if RENORM_HAS_CUDA
  if (forced_cpu()) return "RENORM_DEVICE=cpu forces the CPU";
  static const std::string reason = [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error so later queries start clean
      const std::string detail = emulator_detail(e);
      return std::string("no usable CUDA device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")" +
             (detail.empty() ? "" : ": " + detail);
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
                      " at " + file + ":" + std::to_string(line),
                  emulator_detail(e));
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
  unsigned* counters = nullptr;  // arrival_counters: the block launches are given now
  size_t counters_n = 0;
  std::vector<unsigned*> retired;  // blocks outgrown: never freed (a captured graph may hold one)
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

size_t cublas_workspace_bytes() {
  return context().prop.major >= 9 ? size_t(32) << 20 : size_t(4) << 20;  // cuBLAS's advice: 32 MiB on Hopper
}

cublasHandle_t cublas_with_workspace() {
  const cublasHandle_t h = cublas();
  const size_t bytes = cublas_workspace_bytes();
  RENORM_CUBLAS_CHECK(cublasSetWorkspace(h, cuda_library_workspace(bytes), bytes));
  return h;
}
cudnnHandle_t cudnn() { return context().cudnn; }
int multiprocessor_count() { return context().prop.multiProcessorCount; }
const cudaDeviceProp& properties() { return context().prop; }

// A launch captured into a CUDA graph keeps its counter pointer for every replay, so a counter block never
// moves or returns to any allocator: an outgrown block stays allocated, and zero (each launch's last block
// resets what it used), for the process's life, beside the new one. The blocks come from cudaMalloc, not
// the caching allocator, whose blocks a graph pool hands back to the device cache when it is destroyed.
// The first block holds kFirstCounters; a larger need takes twice the last (so all blocks together hold
// under twice the largest need) — before a capture: growing during one is a DeviceError.
unsigned* arrival_counters(size_t n) {
  constexpr size_t kFirstCounters = 4096;  // 16 KiB: a grid of 4,096 groups (microbatches × channel tiles)
  PerDevice& c = context();
  static std::mutex grow_mutex;
  std::lock_guard<std::mutex> lock(grow_mutex);
  if (n > c.counters_n) {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    RENORM_CUDA_CHECK(cudaStreamIsCapturing(c.stream, &status));
    if (status != cudaStreamCaptureStatusNone)
      throw DeviceError("a launch needs " + std::to_string(n) + " arrival counters, more than the " +
                        std::to_string(c.counters_n) + " that exist, while the renorm stream captures a graph: run "
                        "the captured work once uncaptured first");
    const size_t grown = std::max({n, 2 * c.counters_n, kFirstCounters}), bytes = grown * sizeof(unsigned);
    void* p = nullptr;
    RENORM_CUDA_CHECK(cudaMalloc(&p, bytes));
    RENORM_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, c.stream));
    if (c.counters) c.retired.push_back(c.counters);
    c.counters = static_cast<unsigned*>(p);
    c.counters_n = grown;
  }
  return c.counters;
}

}  // namespace cuda

size_t cuda_arrival_counter_capacity() { return cuda::context().counters_n; }
#else
size_t cuda_arrival_counter_capacity() { return 0; }
#endif

}  // namespace renorm
