// Must not compile: launch_cooperative refuses an argument whose type differs from the kernel's parameter
// (an int passed for an int64_t, which cudaLaunchCooperativeKernel would hand the kernel as the wrong
// bytes). tests/CMakeLists.txt compiles it against the emulator's headers and expects the static
// assertion's message; with -DRENORM_COMPILE_OK the same call with the kernel's types compiles.
#include "kernels/cuda/launch.cuh"

__global__ void __launch_bounds__(32) takes_wide(int64_t n, const float* in, float* out) {
  if (threadIdx.x == 0) out[0] = in[0] + float(n);
}

void call(float* in, float* out) {
#ifdef RENORM_COMPILE_OK
  renorm::kernels::cuda::launch_cooperative<takes_wide>(1, 32, 0, int64_t(3), in, out);  // float* for const float*: fine
#else
  renorm::kernels::cuda::launch_cooperative<takes_wide>(1, 32, 0, 3, in, out);
#endif
}
