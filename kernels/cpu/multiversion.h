// CPU-internal: runtime choice of the instruction set for our own loops. A function marked
// RENORM_MULTIVERSION is compiled three times (x86-64-v4: AVX-512; x86-64-v3: AVX2 + FMA; the baseline)
// and the loader picks the one the CPU runs (GCC/Clang target_clones, an ifunc). Mark the serial worker
// a parallel loop calls, not the function holding `#pragma omp parallel`: OpenMP outlines the parallel
// body into a function of its own, which the clones would not cover.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RENORM_NO_MULTIVERSION)
#define RENORM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RENORM_MULTIVERSION
#endif
