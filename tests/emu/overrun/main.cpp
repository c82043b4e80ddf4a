// renorm_emu_overrun: an emulated kernel writes one float past the end of a CUDA tensor.
//   renorm_emu_overrun exact     the caching allocator in exact-size mode: AddressSanitizer reports a
//                                heap-buffer-overflow (CTest expects that report)
//   renorm_emu_overrun rounded   the default 512-byte buckets: the write lands inside the rounding and
//                                nothing notices (CTest expects a clean exit: the reason the mode exists)
// Built and registered only in the sanitizer preset.
#include <cstdio>
#include <cstring>

#include "runtime/allocator.h"
#include "tensor/tensor.h"
#include "kernels/cuda/launch.cuh"

namespace {
__global__ void __launch_bounds__(32) write_one_past(float* y, int n) {
  if (threadIdx.x == 0) y[n] = 1.f;
}
}  // namespace

int main(int argc, char** argv) {
  const bool exact = argc > 1 && std::strcmp(argv[1], "exact") == 0;
  renorm::set_exact_allocation(exact);
  renorm::Tensor t = renorm::Tensor::zeros(renorm::Shape{100}, renorm::Device::CUDA);
  renorm::kernels::cuda::launch<write_one_past>(1, 32, 0, t.data(), 100);
  std::printf("overrun of a %s allocation went unnoticed\n", exact ? "exact-size" : "rounded");
  return 0;
}
