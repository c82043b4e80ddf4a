#include "runtime/device.h"

#include <omp.h>

#include "runtime/error.h"
#if RENORM_HAS_CUDA
#include "runtime/detail/cuda_context.h"
#endif

namespace renorm {

const char* device_name(Device d) { return d == Device::CUDA ? "cuda" : "cpu"; }

Device default_device() { return cuda_available() ? Device::CUDA : Device::CPU; }

Device parse_device(const std::string& s, const std::string& what) {
  if (s == "auto") return default_device();
  if (s == "cpu") return Device::CPU;
  if (s == "cuda") {
    if (!cuda_available()) throw DeviceError(what + " cuda: " + cuda_unavailable_reason());
    return Device::CUDA;
  }
  throw ConfigError(what + ": '" + s + "' is not one of auto, cpu, cuda");
}

std::string device_description(Device d) {
  if (d == Device::CPU) return "CPU (" + std::to_string(omp_get_max_threads()) + " threads)";
#if RENORM_HAS_CUDA
  int dev = 0;
  RENORM_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  RENORM_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  return prop.name;
#else
  throw DeviceError(cuda_unavailable_reason());
#endif
}

void synchronize(Device d) {
#if RENORM_HAS_CUDA
  if (d == Device::CUDA) RENORM_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
#endif
}

}  // namespace renorm
