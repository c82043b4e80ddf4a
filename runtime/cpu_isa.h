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

CpuIsa cpu_isa() noexcept;   // what the loops use now (never throws: it runs inside parallel loops)
CpuIsa cpu_isa_supported();  // the best this CPU runs
// Throws ConfigError when `isa` is above cpu_isa_supported().
void set_cpu_isa(CpuIsa isa);
// Throws ConfigError naming RENORM_CPU_ISA when its value is not an ISA this CPU runs (the loops then run
// the CPU's best). The CPU allocator calls it before fresh host memory, so a run fails at its first
// tensor with that line rather than silently ignoring the setting.
void check_cpu_isa_environment();
const char* cpu_isa_name(CpuIsa isa);
// Whether this CPU multiplies bfloat16 in hardware (AVX512_BF16, which every AMX-BF16 CPU has too) at the ISA in use: where
// it does not, bfloat16 convolutions run slower than float32 ones.
bool cpu_has_bf16_math() noexcept;
// Whether the CPU reports AMX-BF16 (CPUID.(7,0):EDX bit 22), for describing the machine beside a number.
bool cpu_has_amx_bf16() noexcept;
// The CPU's model name (/proc/cpuinfo) and the vector extensions it reports, e.g. "AMD EPYC 9R14 (avx512f
// avx512bw avx512vl avx2 fma avx512_bf16)": to print beside a number measured on it.
std::string cpu_description();
// Parses a cpu_isa_name; ConfigError naming `what` otherwise.
CpuIsa parse_cpu_isa(const std::string& s, const std::string& what = "RENORM_CPU_ISA");

}  // namespace renorm
