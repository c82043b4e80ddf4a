// One dispatch per op (the dlib pattern): the op's device picks cpu:: or cuda:: with the same
// arguments. CUDA is optional at build time; a CUDA tensor cannot exist without it, but the branch
// still throws a DeviceError rather than falling back silently. Library-internal (uses RENORM_HAS_CUDA).
#pragma once
#include "runtime/device.h"
#include "runtime/error.h"

#if RENORM_HAS_CUDA
#define RENORM_DISPATCH(device, fn, ...)                                   \
  do {                                                                     \
    if ((device) == ::renorm::Device::CUDA) ::renorm::kernels::cuda::fn(__VA_ARGS__); \
    else ::renorm::kernels::cpu::fn(__VA_ARGS__);                          \
  } while (0)
#else
#define RENORM_DISPATCH(device, fn, ...)                                                   \
  do {                                                                                     \
    if ((device) == ::renorm::Device::CUDA)                                                \
      throw ::renorm::DeviceError(std::string(#fn) + ": renorm was built without CUDA");   \
    ::renorm::kernels::cpu::fn(__VA_ARGS__);                                               \
  } while (0)
#endif
