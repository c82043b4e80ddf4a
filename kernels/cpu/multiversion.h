// CPU-internal: renorm's own loops compiled for several instruction sets and chosen at run time.
// RENORM_MULTIVERSION(name, body) defines `name(args...)`, which runs `body(args...)` inlined into one of
// three wrappers compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and the baseline, the one that
// runtime/cpu_isa.h's cpu_isa() names (the best the CPU has unless lowered: RENORM_CPU_ISA, set_cpu_isa;
// tests run every variant on one machine). Write `body` once, as plain loops (`#pragma omp simd`); call
// `name` from inside the parallel loop: OpenMP outlines a parallel body into a function of its own.
#pragma once
#include "runtime/cpu_isa.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RENORM_TARGET_AVX512 __attribute__((target("arch=x86-64-v4"), flatten))
#define RENORM_TARGET_AVX2 __attribute__((target("arch=x86-64-v3"), flatten))
#else
#define RENORM_TARGET_AVX512 __attribute__((flatten))
#define RENORM_TARGET_AVX2 __attribute__((flatten))
#endif

#define RENORM_MULTIVERSION(name, body)                                                    \
  template <class... A>                                                                    \
  RENORM_TARGET_AVX512 void name##_avx512(A... a) {                                        \
    body(a...);                                                                            \
  }                                                                                        \
  template <class... A>                                                                    \
  RENORM_TARGET_AVX2 void name##_avx2(A... a) {                                            \
    body(a...);                                                                            \
  }                                                                                        \
  template <class... A>                                                                    \
  __attribute__((flatten)) void name##_baseline(A... a) {                                  \
    body(a...);                                                                            \
  }                                                                                        \
  template <class... A>                                                                    \
  void name(A... a) {                                                                      \
    switch (::renorm::cpu_isa()) {                                                         \
      case ::renorm::CpuIsa::Avx512: return name##_avx512(a...);                           \
      case ::renorm::CpuIsa::Avx2: return name##_avx2(a...);                               \
      case ::renorm::CpuIsa::Baseline: break;                                              \
    }                                                                                      \
    name##_baseline(a...);                                                                 \
  }
