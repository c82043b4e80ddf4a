// renorm's own CPU loops (kernels/cpu/multiversion.h) in every instruction-set variant this machine runs
// (AVX-512, AVX2, baseline: runtime/cpu_isa.h), each against the baseline: bit for bit where the loop has
// no sum (max-pool, dropout, the epilogue's forward and ReLU mask), to the parity tolerance where a
// vector width changes a sum's order (moments, Batch Renorm, the bias gradient). So an AVX-512 machine
// also tests the AVX2 code an AVX2-only machine would run, and the other way round for the baseline.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernels/nn.h"
#include "kernels/renorm.h"
#include "runtime/cpu_isa.h"
#include "runtime/error.h"
#include "support/parity.h"

using namespace renorm;
namespace k = renorm::kernels;

namespace {
const float kLimits[2] = {3.f, 5.f};  // rmax, dmax

std::vector<float> random_vector(size_t n, unsigned seed, bool with_nan = false) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.3f, 1.f);
  std::vector<float> v(n);
  for (float& f : v) f = d(gen);
  if (with_nan) v[n / 3] = v[n / 2] = NAN;
  return v;
}

// Every output of the loops under test, as float vectors: the exact ones, then the summed ones.
struct Outputs {
  std::vector<std::vector<float>> exact, summed;
};

Outputs run_all() {
  Outputs o;
  // Max-pool over an odd-sized NHWC input with NaN (uncovered edges; NaN wins its window), 37 channels.
  const k::PoolShape ps{3, 9, 7, 37, 2, 2};
  const std::vector<float> x = random_vector(size_t(ps.b * ps.h * ps.w * ps.c), 1, true);
  const size_t ny = size_t(ps.b * ps.oh() * ps.ow() * ps.c);
  std::vector<float> y(ny), arg(ny), dx(x.size());
  k::cpu::maxpool_forward(x.data(), ps, y.data(), arg.data());
  k::cpu::maxpool_backward(random_vector(ny, 2).data(), arg.data(), ps, dx.data());
  o.exact.insert(o.exact.end(), {y, arg, dx});
  // Dropout of a shard starting inside a group of 4, long enough for several parallel blocks.
  const std::vector<float> xd = random_vector(100003, 3);
  std::vector<float> yd(xd.size());
  const uint32_t step = 9;
  k::cpu::dropout_apply(xd.data(), yd.data(), int64_t(xd.size()), 3, 0.3f, 17, 2, &step);
  o.exact.push_back(yd);
  // The epilogue: bias + ReLU forward in place, its backward (mask and bias gradient), bias alone.
  const int64_t rows = 3001, c = 33;
  const std::vector<float> bias = random_vector(size_t(c), 4), dy = random_vector(size_t(rows * c), 5);
  std::vector<float> z = random_vector(size_t(rows * c), 6, true), zb = z, dz(z.size()), db(static_cast<size_t>(c)), db2(static_cast<size_t>(c));
  k::cpu::epilogue_forward(z.data(), rows, c, k::Epilogue{bias.data(), true});
  k::cpu::epilogue_forward(zb.data(), rows, c, k::Epilogue{bias.data(), false});
  k::cpu::epilogue_backward(z.data(), dy.data(), dz.data(), db.data(), rows, c);
  k::cpu::epilogue_backward<float>(nullptr, dy.data(), nullptr, db2.data(), rows, c);
  std::vector<float> dz_only(z.size());  // ReLU without bias: the mask alone; no ReLU and no bias: nothing
  k::cpu::epilogue_backward(z.data(), dy.data(), dz_only.data(), nullptr, rows, c);
  k::cpu::epilogue_backward<float>(nullptr, dy.data(), nullptr, nullptr, rows, c);
  o.exact.insert(o.exact.end(), {z, zb, dz, dz_only});
  o.summed.insert(o.summed.end(), {db, db2});
  // Batch Renorm over microbatches: moments, forward, backward.
  const k::NormShape s{4, 2 * 6 * 5, 37};
  const std::vector<float> xr = random_vector(size_t(s.numel()), 7), gr = random_vector(size_t(s.numel()), 8);
  const std::vector<float> gamma(size_t(s.c), 1.3f), beta(size_t(s.c), -0.2f);
  std::vector<float> rm(static_cast<size_t>(s.c), 0.1f), rs(static_cast<size_t>(s.c), 1.4f), yr(xr.size()),
      mean(static_cast<size_t>(s.n * s.c)),
      invstd(mean.size()), r(mean.size()), d(mean.size()), clips(2), dxr(xr.size()), dg(static_cast<size_t>(s.c)),
      dbt(static_cast<size_t>(s.c));
  k::cpu::renorm_forward_train(xr.data(), s, gamma.data(), beta.data(), rm.data(), rs.data(),
                               k::RenormParams{1e-3f, 0.01f, kLimits, true, false}, yr.data(), mean.data(), invstd.data(),
                               r.data(), d.data(), clips.data());
  k::cpu::renorm_backward(xr.data(), gr.data(), s, gamma.data(), mean.data(), invstd.data(), r.data(), d.data(), dxr.data(),
                          dg.data(), dbt.data());
  o.summed.insert(o.summed.end(), {yr, mean, invstd, rm, rs, dxr, dg, dbt});
  return o;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

struct IsaGuard {  // restores the ISA the test found
  CpuIsa before = cpu_isa();
  ~IsaGuard() { set_cpu_isa(before); }
};

}  // namespace

TEST_CASE("cpu isa: every variant of renorm's CPU loops matches the baseline", "[isa]") {
  IsaGuard guard;
  set_cpu_isa(CpuIsa::Baseline);
  const Outputs base = run_all();
  CHECK(same_bits(base.exact[7], base.exact[6]));  // the ReLU mask is the same with or without the bias gradient
  for (CpuIsa isa : {CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(cpu_isa_supported())) {
      WARN("this CPU does not run " << cpu_isa_name(isa) << ": that variant is not tested here");
      continue;
    }
    set_cpu_isa(isa);
    const Outputs got = run_all();
    for (size_t i = 0; i < base.exact.size(); ++i) {
      INFO(cpu_isa_name(isa) << ", exact output " << i);
      CHECK(same_bits(got.exact[i], base.exact[i]));
    }
    for (size_t i = 0; i < base.summed.size(); ++i) {
      INFO(cpu_isa_name(isa) << ", summed output " << i);
      std::vector<double> ref(base.summed[i].begin(), base.summed[i].end());
      CHECK(test::reference_error(got.summed[i], ref) <= test::kParityTol);
    }
  }
}

TEST_CASE("cpu isa: names parse, and an ISA above the CPU's is a ConfigError", "[isa]") {
  for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) CHECK(parse_cpu_isa(cpu_isa_name(isa)) == isa);
  CHECK_THROWS_WITH(parse_cpu_isa("sse9", "--isa"), Catch::Contains("--isa: 'sse9' is not one of avx512, avx2, baseline"));
  if (cpu_isa_supported() != CpuIsa::Avx512)
    CHECK_THROWS_AS(set_cpu_isa(CpuIsa::Avx512), ConfigError);
#if defined(__x86_64__)
  CHECK((cpu_isa_supported() == CpuIsa::Avx512) == (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")));
#endif
}

// The Linux kernel's flags for this CPU: the CPUID bits cpu_isa.cpp reads must agree with them.
static bool cpuinfo_flag(const std::string& flag) {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("flags", 0) == 0) return (line + " ").find(" " + flag + " ") != std::string::npos;
  return false;
}

TEST_CASE("cpu isa: bfloat16 hardware is what /proc/cpuinfo says", "[isa]") {
  if (!std::ifstream("/proc/cpuinfo")) {
    WARN("no /proc/cpuinfo: nothing to compare with");
    return;
  }
  CHECK(cpu_has_amx_bf16() == cpuinfo_flag("amx_bf16"));
  CHECK(cpu_has_bf16_math() == (cpuinfo_flag("avx512_bf16") && cpu_isa() == CpuIsa::Avx512));
}
