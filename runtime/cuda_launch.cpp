// Launch checks: every kernel launch (kernels/cuda/launch.cuh) is checked here before it is queued,
// so that a configuration the device or the kernel cannot run fails with a LaunchError naming the kernel
// instead of a bare cudaErrorLaunchOutOfResources from a later call.
#include <mutex>
#include <string>
#include <unordered_map>

#include "runtime/error.h"

#if RENORM_HAS_CUDA
#include "runtime/detail/cuda_context.h"

namespace renorm::cuda {

namespace {
const cudaFuncAttributes& attributes(const void* func) {
  static std::mutex mutex;
  static auto* cache = new std::unordered_map<const void*, cudaFuncAttributes>();  // never destroyed
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache->find(func);
  if (it == cache->end()) {
    cudaFuncAttributes a{};
    RENORM_CUDA_CHECK(cudaFuncGetAttributes(&a, func));
    it = cache->emplace(func, a).first;
  }
  return it->second;
}

std::string dims(dim3 d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}
}  // namespace

std::string kernel_name_from_signature(const char* pretty) {
  const std::string s(pretty);
  const size_t at = s.find(" = ");
  const size_t end = s.rfind(']');
  if (at == std::string::npos || end == std::string::npos || end < at) return s;
  return s.substr(at + 3, end - at - 3);
}

void check_launch(const char* kernel, const void* func, dim3 grid, dim3 block, size_t shared_bytes) {
  const cudaDeviceProp& p = properties();
  const auto fail = [&](const std::string& why) {
    throw LaunchError(std::string("kernel ") + kernel + " cannot launch with grid " + dims(grid) + ", block " +
                      dims(block) + ", " + std::to_string(shared_bytes) + " bytes of dynamic shared memory on " +
                      p.name + ": " + why);
  };
  const unsigned g[3] = {grid.x, grid.y, grid.z}, b[3] = {block.x, block.y, block.z};
  for (int i = 0; i < 3; ++i) {
    if (g[i] == 0 || g[i] > unsigned(p.maxGridSize[i]))
      fail("grid dimension " + std::to_string(i) + " must be in [1, " + std::to_string(p.maxGridSize[i]) + "]");
    if (b[i] == 0 || b[i] > unsigned(p.maxThreadsDim[i]))
      fail("block dimension " + std::to_string(i) + " must be in [1, " + std::to_string(p.maxThreadsDim[i]) + "]");
  }
  const uint64_t threads = uint64_t(b[0]) * b[1] * b[2];
  if (threads > uint64_t(p.maxThreadsPerBlock))
    fail(std::to_string(threads) + " threads exceed the device's " + std::to_string(p.maxThreadsPerBlock) + " per block");
  const cudaFuncAttributes& a = attributes(func);
  if (threads > uint64_t(a.maxThreadsPerBlock))
    fail(std::to_string(threads) + " threads exceed the kernel's " + std::to_string(a.maxThreadsPerBlock) +
         " (its launch bounds, or " + std::to_string(a.numRegs) + " registers per thread)");
  if (a.sharedSizeBytes + shared_bytes > p.sharedMemPerBlock)
    fail(std::to_string(a.sharedSizeBytes) + " bytes of static and " + std::to_string(shared_bytes) +
         " of dynamic shared memory exceed " + std::to_string(p.sharedMemPerBlock) + " per block");
}

}  // namespace renorm::cuda
#endif
