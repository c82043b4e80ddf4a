#include "benchmarks/fma_peak.h"

#include "runtime/cpu_isa.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace renorm::bench {
namespace {

// Independent accumulators: 4-cycle FMA latency on 2 ports needs 8; AVX-512 has 32 vector registers,
// AVX2 16, of which the two constants take 2 (16 chains there would spill and halve the measured peak).
constexpr int kChains = 16;
constexpr int kChainsAvx2 = 12;

// Each kernel returns a value depending on every accumulator, so the loop cannot be removed.
__attribute__((target("avx512f"))) float fma_loop_avx512(long iters) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(0.001f * float(k));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  __m512 s = acc[0];
  for (int k = 1; k < kChains; ++k) s = _mm512_add_ps(s, acc[k]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(long iters) {
  __m256 acc[kChainsAvx2];
  for (int k = 0; k < kChainsAvx2; ++k) acc[k] = _mm256_set1_ps(0.001f * float(k));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kChainsAvx2; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  float out[8];
  __m256 s = acc[0];
  for (int k = 1; k < kChainsAvx2; ++k) s = _mm256_add_ps(s, acc[k]);
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

// VDPBF16PS: per 32-bit lane two bfloat16 products added to a float32 accumulator (4 flops a lane).
__attribute__((target("avx512f,avx512bf16"))) float dpbf16_loop(long iters) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(0.001f * float(k));
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);  // 1.0, ~6e-8
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
  __m512 s = acc[0];
  for (int k = 1; k < kChains; ++k) s = _mm512_add_ps(s, acc[k]);
  return _mm512_reduce_add_ps(s);
}

float fma_loop_scalar(long iters) {
  float acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = 0.001f * float(k);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = acc[k] * 0.999999f + 1e-7f;
  float s = 0;
  for (float v : acc) s += v;
  return s;
}

struct Kernel {
  const char* isa;
  int lanes, chains;
  float (*run)(long);
  int flops_per_lane = 2;  // an FMA; 4 for a VDPBF16PS
};

// The widest FMA of the ISA renorm's loops use (runtime/cpu_isa.h: the CPU's best unless lowered).
Kernel pick_kernel() {
  if (cpu_isa() == CpuIsa::Avx512) return {"avx512f", 16, kChains, fma_loop_avx512};
  if (cpu_isa() == CpuIsa::Avx2) return {"avx2+fma", 8, kChainsAvx2, fma_loop_avx2};
  return {"scalar", 1, kChains, fma_loop_scalar};
}

// GFLOP/s of one timed run of `iters` iterations on every thread.
double timed_run(const Kernel& k, long iters, int threads) {
  float sum = 0;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
  sum += k.run(iters);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  static volatile float sink;  // keeps the loops' results, and so the loops
  sink = sum;
  return double(k.flops_per_lane) * k.chains * k.lanes * double(iters) * threads / s / 1e9;
}

FmaPeak measure(const Kernel& k, double seconds) {
  const int threads = omp_get_max_threads();
  long iters = 1 << 16;
  while (double(k.flops_per_lane) * k.chains * k.lanes * double(iters) / (timed_run(k, iters, threads) * 1e9 / threads) <
         seconds / 3)
    iters *= 2;  // grow until one repeat lasts a third of the budget
  FmaPeak p;
  p.threads = threads;
  p.isa = k.isa;
  for (int rep = 0; rep < 3; ++rep) p.gflops = std::max(p.gflops, timed_run(k, iters, threads));
  return p;
}

}  // namespace

FmaPeak measure_fma_peak(double seconds) { return measure(pick_kernel(), seconds); }

FmaPeak measure_bf16_peak(double seconds) {
  if (!cpu_has_bf16_math()) return FmaPeak{.gflops = 0, .threads = 0, .isa = "none"};
  return measure(Kernel{"avx512_bf16", 16, kChains, dpbf16_loop, 4}, seconds);
}


}  // namespace renorm::bench
