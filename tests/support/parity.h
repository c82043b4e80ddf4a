// CPU-vs-CUDA parity (after ggml's test-backend-ops): run on both, check NaN/Inf first, then the
// normalized error ||cuda - cpu|| / ||cpu|| against one float32 tolerance. The CUDA side is a real GPU
// (renorm_tests) or the CUDA emulator running the kernels' own source (renorm_tests_emu, emu/). Without
// either a parity test prints "SKIPPED: no CUDA device: <reason>" and CTest reports it as skipped: it
// never compares the CPU with itself.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <iostream>
#include <string>

#include "runtime/device.h"
#include "runtime/tf32.h"
#include "tensor/compare.h"
#include "tensor/tensor.h"

namespace renorm::test {

// One tolerance for every parity check: float32 results whose summation order differs.
constexpr double kParityTol = 2e-5;
// Results stored in bfloat16 (issue 25), derived once from its unit roundoff u = 2^-8: each is a float32
// value (agreeing across backends to kParityTol) rounded once, so where the two backends' float values
// straddle a rounding point the stored values differ by one bf16 ulp, at most 2u of the value. The
// normalized error is then at most 2u + kParityTol.
constexpr double kBf16UnitRoundoff = 1.0 / 256.0;
constexpr double kParityTolBf16 = 2 * kBf16UnitRoundoff + kParityTol;

// The rounding error allowed a float32 sum of n products (exact in float32, as products of bfloat16 values
// are) whose exact value is `exact` and whose terms' magnitudes sum to `abs_sum`: Higham's bound
// gamma_n·abs_sum, gamma_n = n·2^-24 / (1 − n·2^-24), for any summation order; when the sum is then
// stored in bfloat16, one more rounding of at most kBf16UnitRoundoff of its magnitude.
inline double higham_gamma(int64_t n) {  // gamma_n for float32: n·2^-24 / (1 − n·2^-24)
  const double nu = double(n) * 0x1p-24;
  return nu / (1 - nu);
}
inline double dot_error_bound(double exact, double abs_sum, int64_t n, bool stored_bf16) {
  const double sum_error = higham_gamma(n) * abs_sum;
  return stored_bf16 ? sum_error + kBf16UnitRoundoff * (std::abs(exact) + sum_error) : sum_error;
}

// The largest difference between two backends' TF32 results for one float32 sum of n products (issue 26;
// runtime/tf32.h), relative to the sum of its terms' magnitudes `abs_sum` as computed in float32 (so at
// least (1 − γ_n) of the exact one). Each operand differs from its float32 value by at most u/2 on one
// side (the CPU rounds to nearest, u = kTf32UnitRoundoff = 2^-10) and by less than u on the other (a
// tensor core may truncate): a product by at most 3u + 1.25u² of its magnitude; then each side's float32
// sum, in any order, adds γ_n of its terms' magnitudes (Higham), at most (1 + u)² of the exact ones'.
inline double tf32_error_bound(double abs_sum, int64_t n) {
  const double u = kTf32UnitRoundoff, gamma = higham_gamma(n);
  return (3 * u + 1.25 * u * u + 2 * gamma * (1 + u) * (1 + u)) * abs_sum / (1 - gamma);
}

inline bool cuda_ready() {
  if (cuda_available()) return true;
  const std::string msg = "SKIPPED: no CUDA device: " + cuda_unavailable_reason();
  std::cout << msg << std::endl;
  WARN(msg);
  return false;
}

// For tests of ops that call cuBLAS or cuDNN (matmul, linear, conv), which the CUDA emulator does not
// emulate: they need a real GPU.
inline bool vendor_cuda_ready() {
  if (!cuda_ready()) return false;
  if (!cuda_emulated()) return true;
  const std::string msg = "SKIPPED: cuBLAS and cuDNN are not emulated (" + device_description(Device::CUDA) +
                          "): needs a real GPU";
  std::cout << msg << std::endl;
  WARN(msg);
  return false;
}

inline void require_close(const Tensor& expected, const Tensor& actual, const std::string& what,
                          double tol = kParityTol) {
  REQUIRE(expected.shape() == actual.shape());
  const Comparison c = compare(expected, actual);
  INFO(what << ": " << c.non_finite << " non-finite values, normalized error " << c.normalized_error);
  REQUIRE(c.non_finite == 0);
  REQUIRE(c.normalized_error <= tol);
}

// Normalized error of float results against a double-precision reference; every value must be finite.
inline double reference_error(const std::vector<float>& actual, const std::vector<double>& reference) {
  REQUIRE(actual.size() == reference.size());
  const Comparison c = compare(reference, actual);
  REQUIRE(c.non_finite == 0);
  return c.normalized_error;
}

}  // namespace renorm::test

// First line of every CUDA test (a real GPU or the CUDA emulator).
#define RENORM_REQUIRE_CUDA_OR_SKIP() \
  if (!::renorm::test::cuda_ready()) return
// First line of a CUDA test that needs cuBLAS or cuDNN (a real GPU).
#define RENORM_REQUIRE_VENDOR_CUDA_OR_SKIP() \
  if (!::renorm::test::vendor_cuda_ready()) return
