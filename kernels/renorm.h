// Microbatch moments and Batch Renorm (Ioffe 2017, Algorithm 1), forward, backward and inference.
//
// Layout. x: [B,H,W,C] (or [B,C]) NHWC, viewed as (N,M,H,W,C) with N = B/M microbatches; microbatch n
// is the contiguous examples [n·M, (n+1)·M), i.e. R = M·H·W contiguous rows of C channels. Statistics
// are per (n,c) over the R rows: NormShape{n = N, rows = R, c = C}. Batchnorm is the same code with
// rmax = 1, dmax = 0; M = B gives plain batch statistics.
//
// Numerics. Biased variance. CPU: one pass per (n,c) of Σx and Σx² in double over fixed row chunks
// combined in a fixed order (var = E[x²] − μ², whose cancellation costs mean²/var ulps of a double: far
// below a float's for any activation), so results do not depend on the thread count. CUDA: shifted sums
// Σ(x−K), Σ(x−K)² per thread in float (K its first value), merged across threads and chunks with Chan's
// formula (welford_merge below).
//
// Per (n,c), training: σ_n = sqrt(var_n + ε); r_n = clip(σ_n/σ, 1/rmax, rmax);
// d_n = clip((μ_n-μ)/σ, -dmax, dmax); y = γ·((x-μ_n)/σ_n·r_n + d_n) + β, applied as y = a·x + b.
// Moving averages, once per step, with the values from before the step:
// μ += α·(mean_n μ_n - μ), σ += α·(mean_n σ_n - σ). Inference: y = γ·(x-μ)/σ + β.
// Backward, r_n and d_n constant: with x̃ = (x-μ_n)/σ_n, S1 = Σ dy, S2 = Σ dy·x̃ over microbatch n,
// dx = (r_n·γ/σ_n)·(dy - S1/R - x̃·S2/R), dγ = Σ_n (r_n·S2 + d_n·S1), dβ = Σ_n S1.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/storage.h"
#include "runtime/bf16.h"
#include "runtime/hd.h"

namespace renorm::kernels {

struct NormShape {
  int64_t n;     // microbatches N
  int64_t rows;  // rows per microbatch R = M·H·W
  int64_t c;     // channels C
  RENORM_HD int64_t numel() const { return n * rows * c; }
};

// The arguments of one training forward, filled by the op from NormConfig and the step (no defaults
// here: they are NormConfig's). The step's bounds are read from memory on the kernel's device when it
// runs, so one captured graph serves every step of the clipping schedule (tensor/step_scalars.h).
struct RenormParams {
  float eps;
  float alpha;          // moving-average rate
  const float* limits;  // rmax, dmax of this step (unread when fixed_rd)
  bool update_running;  // move running mean/std toward this step's statistics
  bool fixed_rd;        // read r, d from save_r/save_d instead of computing them (gradient checks)
};

// ---- shared per-element formulas (CPU and CUDA call these) ----

RENORM_HD float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// r and d before clipping: σ_n/σ and (μ_n − μ)/σ (also what the norm-statistics probe reports).
RENORM_HD void renorm_rd_raw(float mean_b, float sigma_b, float run_mean, float run_std, float* r, float* d) {
  *r = sigma_b / run_std;
  *d = (mean_b - run_mean) / run_std;
}

// r and d of one (n,c) from the microbatch's μ_n, σ_n and the moving μ, σ. Bit 0 of the result: r was
// clipped; bit 1: d was clipped.
RENORM_HD int renorm_rd(float mean_b, float sigma_b, float run_mean, float run_std, float rmax, float dmax, float* r,
                        float* d) {
  float r_raw, d_raw;
  renorm_rd_raw(mean_b, sigma_b, run_mean, run_std, &r_raw, &d_raw);
  *r = clampf(r_raw, 1.f / rmax, rmax);
  *d = clampf(d_raw, -dmax, dmax);
  return (*r != r_raw ? 1 : 0) | (*d != d_raw ? 2 : 0);
}

// y = γ·((x-μ)·invstd·r + d) + β as y = a·x + b.
RENORM_HD void renorm_affine(float gamma, float beta, float mean, float invstd, float r, float d, float* a, float* b) {
  *a = gamma * invstd * r;
  *b = gamma * d + beta - *a * mean;
}

// dx = k·(dy - S1/R - x̃·S2/R), k = r·γ·invstd, x̃ = (x-μ)·invstd, as dx = p·dy + q·x + s.
RENORM_HD void renorm_dx_coeffs(float gamma, float mean, float invstd, float r, float s1, float s2, float rows,
                                float* p, float* q, float* s) {
  const float k = r * gamma * invstd;
  *p = k;
  *q = -k * invstd * s2 / rows;
  *s = -k * s1 / rows + k * invstd * mean * s2 / rows;
}

// Chan et al.'s merge of two Welford states (count, mean, M2) into the first.
RENORM_HD void welford_merge(float& count, float& mean, float& m2, float count_b, float mean_b, float m2_b) {
  const float total = count + count_b;
  if (count_b == 0.f) return;
  const float delta = mean_b - mean, wb = count_b / total;
  mean += delta * wb;
  m2 += m2_b + delta * delta * count * wb;
  count = total;
}

// ---- the per-(n,c) and per-channel middle steps (CPU loop and CUDA kernel both call these) ----
// The per-(n,c) steps are independent; the per-channel steps sum over n in double in n order, one
// microbatch at a time (the caller's loop: the CUDA kernel reads values other blocks wrote through L2).

// σ of a microbatch from its biased variance: the one formula (the moving average recomputes it from var).
RENORM_HD float renorm_sigma(float var, float eps) { return sqrtf(var + eps); }

// Training forward, one (n,c): from μ_n and the biased var_n, 1/σ_n, r_n and d_n (read from *r, *d
// instead when p.fixed_rd) and the affine coefficients a, b. Returns renorm_rd's clip flags (0 if fixed).
RENORM_HD int renorm_forward_nc(float mean, float var, float gamma, float beta, float run_mean, float run_std,
                                const RenormParams& p, float* invstd, float* r, float* d, float* a, float* b) {
  const float sigma_b = renorm_sigma(var, p.eps);
  *invstd = 1.f / sigma_b;
  const int flags = p.fixed_rd ? 0 : renorm_rd(mean, sigma_b, run_mean, run_std, p.limits[0], p.limits[1], r, d);
  renorm_affine(gamma, beta, mean, *invstd, *r, *d, a, b);
  return flags;
}

// The moving averages of one channel, once per step, toward the means over n of μ_n and σ_n: add each
// microbatch in n order, then update with the values from before the step (every r_n, d_n of the step
// must have been computed from them first).
struct RunningSums {
  double mean = 0.0, sigma = 0.0;
  RENORM_HD void add(float mean_n, float var_n, float eps) {
    mean += mean_n;
    sigma += renorm_sigma(var_n, eps);
  }
  RENORM_HD void update(int64_t n, float alpha, float* run_mean, float* run_std) const {
    const float rm = *run_mean, rs = *run_std;
    *run_mean = rm + alpha * (static_cast<float>(mean / static_cast<double>(n)) - rm);
    *run_std = rs + alpha * (static_cast<float>(sigma / static_cast<double>(n)) - rs);
  }
};

// dγ = Σ_n (r_n·S2 + d_n·S1) and dβ = Σ_n S1 of one channel: add each microbatch in n order.
struct AffineGrads {
  double dgamma = 0.0, dbeta = 0.0;
  RENORM_HD void add(float r, float d, float s1, float s2) {
    dgamma += static_cast<double>(r) * s2 + static_cast<double>(d) * s1;
    dbeta += s1;
  }
};

// Channel c of `k` parts of moments (parts: (k, 3, C): count, mean, M2 each), merged in part order with
// Chan's formula into the mean and biased variance: the moments of all ranks' examples (--sync-norm).
RENORM_HD void merge_moments_channel(const float* parts, int64_t k, int64_t channels, int64_t c, float* mean,
                                     float* var) {
  float count = 0.f, mu = 0.f, m2 = 0.f;
  for (int64_t j = 0; j < k; ++j) {
    const float* part = parts + j * 3 * channels;
    welford_merge(count, mu, m2, part[c], part[channels + c], part[2 * channels + c]);
  }
  mean[c] = mu;
  var[c] = m2 / count;
}

// ---- kernels: cpu:: and cuda:: share these signatures. Buffers (N,C) are row-major n-major. ----
// The training forward is moments + renorm_forward_from_moments, the backward renorm_backward_sums +
// renorm_backward_from_sums: a data-parallel run with --sync-norm reduces across ranks in between.
// T: the storage of x, dy, y and dx — float, or bf16_bits (bfloat16, issue 25): read widened to float,
// written rounded to nearest even (runtime/bf16.h); every statistic, coefficient and sum stays float
// or double either way. The kernels are templates on T, declared here with P = `template <class T>`;
// each backend defines them and instantiates both storages with P = `template` (kernels/storage.h).
#define RENORM_DECLARE_RENORM_T(P, T)                                                                     \
  /* mean, var: (N,C) */                                                                               \
  P void moments(const T* x, NormShape s, float* mean, float* var);                                      \
  /* x, y: (N,R,C); gamma, beta, run_mean, run_std: (C); save_*: (N,C); clip_counts: 2 floats (r, d   \
     clipped, summed over (n,c)). run_mean/run_std are updated in place when p.update_running. */      \
  P void renorm_forward_train(const T* x, NormShape s, const float* gamma, const float* beta,           \
                            float* run_mean, float* run_std, RenormParams p, T* y, float* save_mean,    \
                            float* save_invstd, float* save_r, float* save_d, float* clip_counts);        \
  /* the same from given moments mean, var (N,C) (save_mean is `mean`) */                              \
  P void renorm_forward_from_moments(const T* x, NormShape s, const float* mean, const float* var,       \
                                   const float* gamma, const float* beta, float* run_mean,             \
                                   float* run_std, RenormParams p, T* y, float* save_invstd,           \
                                   float* save_r, float* save_d, float* clip_counts);                  \
  /* dx: (N,R,C); dgamma, dbeta: (C), overwritten */                                                   \
  P void renorm_backward(const T* x, const T* dy, NormShape s, const float* gamma,                       \
                       const float* save_mean, const float* save_invstd, const float* save_r,          \
                       const float* save_d, T* dx, float* dgamma, float* dbeta);                       \
  /* sums: (2,N,C), S1 = Σ dy then S2 = Σ dy·x̃ per (n,c) */                                            \
  P void renorm_backward_sums(const T* x, const T* dy, NormShape s, const float* save_mean,               \
                            const float* save_invstd, float* sums);                                    \
  /* the backward from sums over `rows` rows per (n,c) */                                              \
  P void renorm_backward_from_sums(const T* x, const T* dy, NormShape s, const float* sums,               \
                                 float rows, const float* gamma, const float* save_mean,               \
                                 const float* save_invstd, const float* save_r, const float* save_d,   \
                                 T* dx, float* dgamma, float* dbeta);                                  \
  /* x, y: (rows, C), any number of rows */                                                            \
  P void renorm_inference(const T* x, int64_t rows, int64_t c, const float* gamma, const float* beta,     \
                        const float* run_mean, const float* run_std, T* y);

#define RENORM_DECLARE_RENORM                                                                          \
  RENORM_DECLARE_RENORM_T(template <class T>, T)                                                       \
  /* parts: (k,3,C) count, mean, M2; mean, var: (C) (merge_moments_channel) */                        \
  void merge_moments(const float* parts, int64_t k, int64_t c, float* mean, float* var);

namespace cpu {
RENORM_DECLARE_RENORM
}
namespace cuda {
RENORM_DECLARE_RENORM
// The cooperative single launch (kernels/cuda/renorm_coop.cu): renorm_forward_train's and
// renorm_backward's results in one launch that reads x (and dy) once, holding them in registers across
// grid barriers. False, and nothing launched, where the device cannot hold the shape's grid at once.
// Measured against the two launches by renorm-bench-kernels; the ops use the two launches (docs/design.md).
bool renorm_forward_train_cooperative(const float* x, NormShape s, const float* gamma, const float* beta,
                                      float* run_mean, float* run_std, RenormParams p, float* y, float* save_mean,
                                      float* save_invstd, float* save_r, float* save_d, float* clip_counts);
bool renorm_backward_cooperative(const float* x, const float* dy, NormShape s, const float* gamma,
                                 const float* save_mean, const float* save_invstd, const float* save_r,
                                 const float* save_d, float* dx, float* dgamma, float* dbeta);
}

}  // namespace renorm::kernels
