// RENORM_HD marks the per-element helpers shared by the CPU kernels and the CUDA kernels, so the CPU
// tests exercise the very formulas the GPU runs.
#pragma once
#if defined(__CUDACC__)
#define RENORM_HD __host__ __device__ __forceinline__
#else
#define RENORM_HD inline
#endif

// a + b·c with the product and the sum each rounded to float, on every device. nvcc fuses `a + b * c`
// into one FMA in device code by default; the host build enables no FMA (no -march flags), so results
// that must be bitwise identical on CPU and CUDA (seeded draws) use this. The CUDA emulator compiles
// device code as host code and cannot show the difference: only a real GPU does (docs/gpu-report-2026-11-30.md).
RENORM_HD float mul_add_unfused(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, __fmul_rn(b, c));
#else
  return a + b * c;
#endif
}
