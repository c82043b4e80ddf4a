// RENORM_HD marks the per-element helpers shared by the CPU kernels and the CUDA kernels, so the CPU
// tests exercise the very formulas the GPU runs.
#pragma once
#if defined(__CUDACC__)
#define RENORM_HD __host__ __device__ __forceinline__
#else
#define RENORM_HD inline
#endif
