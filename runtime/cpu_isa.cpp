#include "runtime/cpu_isa.h"

#include <atomic>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <cstdlib>
#include <fstream>
#include <string>

#include "runtime/error.h"

namespace renorm {

namespace {
CpuIsa detect() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  const bool v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl");
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
                  __builtin_cpu_supports("bmi2");
  if (v3 && v4) return CpuIsa::Avx512;
  if (v3) return CpuIsa::Avx2;
#endif
  return CpuIsa::Baseline;
}

// AVX512_BF16 is CPUID.(EAX=7,ECX=1):EAX bit 5, read directly: feature names given to __builtin_cpu_supports
// differ between compilers (clang 14 rejects "amx-bf16", which GCC 12 accepts). Every CPU with AMX-BF16
// (Sapphire Rapids on) also reports AVX512_BF16. avx512f through the builtin checks the OS saves the zmm state.
// Bit `bit` of register `reg` (0 EAX .. 3 EDX) of CPUID leaf/subleaf; false where there is no such leaf.
bool cpuid_bit(unsigned leaf, unsigned subleaf, int reg, int bit) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  unsigned r[4] = {};
  return __get_cpuid_count(leaf, subleaf, &r[0], &r[1], &r[2], &r[3]) && ((r[reg] >> bit) & 1u);
#else
  return false;
#endif
}

bool detect_bf16_math() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && cpuid_bit(7, 1, 0, 5);
#else
  return false;
#endif
}

CpuIsa checked(CpuIsa isa, const std::string& what) {
  if (static_cast<int>(isa) > static_cast<int>(cpu_isa_supported()))
    throw ConfigError(what + ": '" + cpu_isa_name(isa) + "' asked for, but this CPU runs at most '" +
                      cpu_isa_name(cpu_isa_supported()) + "'");
  return isa;
}

// The ISA in use, read from RENORM_CPU_ISA on first use. cpu_isa() runs inside parallel loops, where an
// exception would end the process: a bad value is kept as a message (check_cpu_isa_environment throws
// it) and the CPU's best ISA is used meanwhile.
struct State {
  std::atomic<CpuIsa> isa;
  std::string env_error;
  State() : isa(cpu_isa_supported()) {
    const char* env = std::getenv("RENORM_CPU_ISA");
    if (!env || !*env) return;
    try {
      isa = checked(parse_cpu_isa(env), "RENORM_CPU_ISA");
    } catch (const ConfigError& e) {
      env_error = e.what();
    }
  }
};

State& state() {
  static State s;
  return s;
}
}  // namespace

CpuIsa cpu_isa_supported() {
  static const CpuIsa best = detect();
  return best;
}

CpuIsa cpu_isa() noexcept { return state().isa.load(std::memory_order_relaxed); }

void set_cpu_isa(CpuIsa isa) { state().isa.store(checked(isa, "set_cpu_isa")); }

void check_cpu_isa_environment() {
  if (!state().env_error.empty()) throw ConfigError(state().env_error);
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Avx512: return "avx512";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Baseline: break;
  }
  return "baseline";
}

CpuIsa parse_cpu_isa(const std::string& s, const std::string& what) {
  for (CpuIsa isa : {CpuIsa::Avx512, CpuIsa::Avx2, CpuIsa::Baseline})
    if (s == cpu_isa_name(isa)) return isa;
  throw ConfigError(what + ": '" + s + "' is not one of avx512, avx2, baseline");
}

bool cpu_has_amx_bf16() noexcept { return cpuid_bit(7, 0, 3, 22); }

std::string cpu_description() {
  std::ifstream f("/proc/cpuinfo");
  std::string model = "unknown CPU";
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  __builtin_cpu_init();
  std::string isa;
  auto add = [&](bool has, const char* name) {
    if (has) isa += std::string(isa.empty() ? "" : " ") + name;
  };
  add(__builtin_cpu_supports("avx512f"), "avx512f");
  add(__builtin_cpu_supports("avx512bw"), "avx512bw");
  add(__builtin_cpu_supports("avx512vl"), "avx512vl");
  add(__builtin_cpu_supports("avx2"), "avx2");
  add(__builtin_cpu_supports("fma"), "fma");
  add(__builtin_cpu_supports("avx512bf16"), "avx512_bf16");
  add(cpu_has_amx_bf16(), "amx_bf16");
  return model + " (" + (isa.empty() ? "no AVX" : isa) + ")";
}

bool cpu_has_bf16_math() noexcept {
  static const bool has = detect_bf16_math();
  return has && cpu_isa() == CpuIsa::Avx512;
}

}  // namespace renorm
