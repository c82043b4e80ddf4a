// A build without CUDA has no cooperative launch: the entry points kernels/renorm.h declares for it
// throw DeviceError, as the dispatch does for every other CUDA kernel (kernels/detail/dispatch.h).
#include "kernels/renorm.h"
#include "runtime/error.h"

#if !RENORM_HAS_CUDA
namespace renorm::kernels::cuda {
bool renorm_forward_train_cooperative(const float*, NormShape, const float*, const float*, float*, float*,
                                      RenormParams, float*, float*, float*, float*, float*, float*) {
  throw DeviceError("renorm_forward_train_cooperative: renorm was built without CUDA");
}
bool renorm_backward_cooperative(const float*, const float*, NormShape, const float*, const float*, const float*,
                                 const float*, const float*, float*, float*, float*) {
  throw DeviceError("renorm_backward_cooperative: renorm was built without CUDA");
}
}  // namespace renorm::kernels::cuda
#endif
