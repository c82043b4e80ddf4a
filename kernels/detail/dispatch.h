// One dispatch per op (the dlib pattern): the op's device picks cpu:: or cuda:: with the same
// arguments. CUDA is optional at build time; a CUDA tensor cannot exist without it, but the branch
// still throws a DeviceError rather than falling back silently. A tensor of a dtype the kernel does not
// take (its arguments' data() or data_bf16() throw) is a DTypeError that names the kernel: every op
// checks its inputs' dtypes through its dispatch. Library-internal (uses RENORM_HAS_CUDA).
#pragma once
#include <string>

#include "runtime/device.h"
#include "runtime/dtype.h"
#include "runtime/error.h"

namespace renorm::detail {
[[noreturn]] inline void dtype_error_in(const char* kernel, const DTypeError& e) {
  throw DTypeError(std::string(kernel) + ": " + e.what());
}
}  // namespace renorm::detail

#if RENORM_HAS_CUDA
#define RENORM_DISPATCH_CALL(device, fn, ...)                                          \
  if ((device) == ::renorm::Device::CUDA) ::renorm::kernels::cuda::fn(__VA_ARGS__); \
  else ::renorm::kernels::cpu::fn(__VA_ARGS__)
#else
#define RENORM_DISPATCH_CALL(device, fn, ...)                                            \
  if ((device) == ::renorm::Device::CUDA)                                                \
    throw ::renorm::DeviceError(std::string(#fn) + ": renorm was built without CUDA");   \
  ::renorm::kernels::cpu::fn(__VA_ARGS__)
#endif
#define RENORM_DISPATCH(device, fn, ...)                                  \
  do {                                                                    \
    try {                                                                 \
      RENORM_DISPATCH_CALL(device, fn, __VA_ARGS__);                      \
    } catch (const ::renorm::DTypeError& renorm_dtype_error) {            \
      ::renorm::detail::dtype_error_in(#fn, renorm_dtype_error);          \
    }                                                                     \
  } while (0)

// RENORM_DISPATCH for a kernel templated on its storage: the arguments may name T, the storage type of
// `dtype` (float or bf16_bits), e.g. RENORM_DISPATCH_STORAGE(x.dtype(), dev, relu_forward, x.data_as<T>(), ...).
#define RENORM_DISPATCH_STORAGE(dtype, device, fn, ...)      \
  ::renorm::visit_storage((dtype), [&](auto renorm_storage) { \
    using T = decltype(renorm_storage);                       \
    RENORM_DISPATCH(device, fn, __VA_ARGS__);                 \
  })
