// The machine's own fp32 peak, measured in the run that reports against it: independent FMA chains in
// the widest vector unit of the ISA renorm runs (runtime/cpu_isa.h, chosen at run time: AVX-512, AVX2 +
// FMA, or scalar; RENORM_CPU_ISA lowers it), on every OpenMP thread. Benchmarks report their GFLOP/s as
// a share of this.
#pragma once
#include <string>

#include "runtime/cpu_isa.h"

namespace renorm::bench {

struct FmaPeak {
  double gflops = 0;  // all threads together
  int threads = 0;
  std::string isa;    // "avx512f", "avx2+fma" or "scalar"
};

// Runs for about `seconds` and returns the best of 3 repeats.
FmaPeak measure_fma_peak(double seconds = 0.2);
// The same for bfloat16 dot products (VDPBF16PS, AVX512_BF16: 4 flops a 32-bit lane), the peak bf16
// convolutions are reported against; gflops 0 and isa "none" on a CPU without it. On AMX CPUs this is
// the AVX-512 peak, not AMX's (whose tiles oneDNN uses there): no AMX peak is measured.
FmaPeak measure_bf16_peak(double seconds = 0.2);

using renorm::cpu_description;  // runtime/cpu_isa.h: "MODEL NAME (ISA flags that matter here)"

}  // namespace renorm::bench
