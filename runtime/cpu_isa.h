// The instruction set of renorm's own CPU loops (kernels/cpu/multiversion.h), chosen at run time: the
// best this CPU has, or a lower one when asked (RENORM_CPU_ISA=avx512|avx2|baseline in the environment,
// or set_cpu_isa), so that one machine can run, test and time every variant. oneDNN's convolutions
// follow the same choice when it is lowered before their first use (dnnl set_max_cpu_isa).
#pragma once
#include <string>

namespace renorm {

// x86-64 levels: Baseline (SSE2), Avx2 (x86-64-v3: AVX2, FMA, BMI2), Avx512 (x86-64-v4: AVX-512
// F/BW/CD/DQ/VL). Other architectures: Baseline only.
enum class CpuIsa { Baseline, Avx2, Avx512 };

CpuIsa cpu_isa();            // what the loops use now
CpuIsa cpu_isa_supported();  // the best this CPU runs
// Throws ConfigError when `isa` is above cpu_isa_supported().
void set_cpu_isa(CpuIsa isa);
const char* cpu_isa_name(CpuIsa isa);  // "avx512", "avx2", "baseline"
// Parses a cpu_isa_name; ConfigError naming `what` otherwise.
CpuIsa parse_cpu_isa(const std::string& s, const std::string& what = "RENORM_CPU_ISA");

}  // namespace renorm
