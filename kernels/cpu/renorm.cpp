// CPU microbatch moments and Batch Renorm. Per-(n,c) sums run over fixed chunks of kChunkRows rows in
// parallel and are combined in a fixed order (deterministic for any thread count); elementwise passes
// are y = a·x + b with per-(n,c) coefficients from the shared formulas in kernels/renorm.h.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/renorm.h"

namespace renorm::kernels::cpu {

namespace {
constexpr int64_t kChunkRows = 256;

// Runs body(n, r0, r1, acc) over every chunk of rows [r0,r1) of every microbatch n, acc being that
// chunk's zeroed double[width]; returns the per-microbatch totals (N, width).
template <class Body>
std::vector<double> reduce_rows(NormShape s, int64_t width, Body&& body) {
  const int64_t per_n = std::max<int64_t>(1, (s.rows + kChunkRows - 1) / kChunkRows);
  const int64_t tasks = s.n * per_n;
  std::vector<double> partial(static_cast<size_t>(tasks * width), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / per_n, r0 = (t % per_n) * kChunkRows, r1 = std::min(r0 + kChunkRows, s.rows);
    body(n, r0, r1, partial.data() + t * width);
  }
  std::vector<double> total(static_cast<size_t>(s.n * width), 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t k = 0; k < per_n; ++k) {
      const double* p = partial.data() + (n * per_n + k) * width;
      double* out = total.data() + n * width;
      for (int64_t j = 0; j < width; ++j) out[j] += p[j];
    }
  return total;
}

// y[n,r,c] = a[n,c]·x[n,r,c] + b[n,c]  (x, y: (N,R,C); a, b: (N,C))
void apply_affine(const float* x, NormShape s, const float* a, const float* b, float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < s.n * s.rows; ++t) {
    const int64_t n = t / s.rows;
    const float* an = a + n * s.c;
    const float* bn = b + n * s.c;
    const float* xr = x + t * s.c;
    float* yr = y + t * s.c;
#pragma omp simd
    for (int64_t c = 0; c < s.c; ++c) yr[c] = an[c] * xr[c] + bn[c];
  }
}
}  // namespace

void moments(const float* x, NormShape s, float* mean, float* var) {
  const double inv_rows = 1.0 / static_cast<double>(s.rows);
  const std::vector<double> sums = reduce_rows(s, s.c, [&](int64_t n, int64_t r0, int64_t r1, double* acc) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = x + (n * s.rows + r) * s.c;
      for (int64_t c = 0; c < s.c; ++c) acc[c] += row[c];
    }
  });
  std::vector<double> mu(sums.size());
  for (size_t i = 0; i < sums.size(); ++i) mu[i] = sums[i] * inv_rows;
  const std::vector<double> sq = reduce_rows(s, s.c, [&](int64_t n, int64_t r0, int64_t r1, double* acc) {
    const double* m = mu.data() + n * s.c;
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = x + (n * s.rows + r) * s.c;
      for (int64_t c = 0; c < s.c; ++c) acc[c] += (row[c] - m[c]) * (row[c] - m[c]);
    }
  });
  for (size_t i = 0; i < sums.size(); ++i) {
    mean[i] = static_cast<float>(mu[i]);
    var[i] = static_cast<float>(sq[i] * inv_rows);
  }
}

void renorm_forward_from_moments(const float* x, NormShape s, const float* mean, const float* var, const float* gamma,
                                 const float* beta, float* run_mean, float* run_std, RenormParams p, float* y,
                                 float* save_invstd, float* save_r, float* save_d, float* clip_counts) {
  const int64_t nc = s.n * s.c;
  std::vector<float> a(nc), b(nc);
  ClipCount clipped;
  for (int64_t c = 0; c < s.c; ++c) {
    const ClipCount k = renorm_forward_channel(c, s, mean, var, gamma[c], beta[c], run_mean, run_std, p, save_invstd,
                                               save_r, save_d, a.data(), b.data());
    clipped.r += k.r;
    clipped.d += k.d;
  }
  clip_counts[0] = static_cast<float>(clipped.r);
  clip_counts[1] = static_cast<float>(clipped.d);
  apply_affine(x, s, a.data(), b.data(), y);
}

void renorm_forward_train(const float* x, NormShape s, const float* gamma, const float* beta, float* run_mean,
                          float* run_std, RenormParams p, float* y, float* save_mean, float* save_invstd,
                          float* save_r, float* save_d, float* clip_counts) {
  std::vector<float> var(s.n * s.c);
  moments(x, s, save_mean, var.data());
  renorm_forward_from_moments(x, s, save_mean, var.data(), gamma, beta, run_mean, run_std, p, y, save_invstd, save_r,
                              save_d, clip_counts);
}

void renorm_backward_sums(const float* x, const float* dy, NormShape s, const float* save_mean,
                          const float* save_invstd, float* sums) {
  // (S1, S2) per (n,c): Σ dy and Σ dy·x̃ over the microbatch's rows.
  const std::vector<double> acc = reduce_rows(s, 2 * s.c, [&](int64_t n, int64_t r0, int64_t r1, double* out) {
    const float* m = save_mean + n * s.c;
    const float* is = save_invstd + n * s.c;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t off = (n * s.rows + r) * s.c;
      for (int64_t c = 0; c < s.c; ++c) {
        const float g = dy[off + c];
        out[c] += g;
        out[s.c + c] += g * ((x[off + c] - m[c]) * is[c]);
      }
    }
  });
  const int64_t nc = s.n * s.c;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c) {
      sums[n * s.c + c] = static_cast<float>(acc[n * 2 * s.c + c]);
      sums[nc + n * s.c + c] = static_cast<float>(acc[n * 2 * s.c + s.c + c]);
    }
}

void renorm_backward_from_sums(const float* x, const float* dy, NormShape s, const float* sums, float rows,
                               const float* gamma, const float* save_mean, const float* save_invstd,
                               const float* save_r, const float* save_d, float* dx, float* dgamma, float* dbeta) {
  const int64_t nc = s.n * s.c;
  std::vector<float> pq(2 * nc), sh(nc);
  for (int64_t c = 0; c < s.c; ++c)
    renorm_backward_channel(c, s, rows, sums, sums + nc, gamma[c], save_mean, save_invstd, save_r, save_d, pq.data(),
                            pq.data() + nc, sh.data(), dgamma, dbeta);
  const float* p = pq.data();
  const float* q = pq.data() + nc;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < s.n * s.rows; ++t) {
    const int64_t n = t / s.rows;
    const float *pn = p + n * s.c, *qn = q + n * s.c, *sn = sh.data() + n * s.c;
    const float* xr = x + t * s.c;
    const float* gr = dy + t * s.c;
    float* dr = dx + t * s.c;
#pragma omp simd
    for (int64_t c = 0; c < s.c; ++c) dr[c] = pn[c] * gr[c] + qn[c] * xr[c] + sn[c];
  }
}

void renorm_backward(const float* x, const float* dy, NormShape s, const float* gamma, const float* save_mean,
                     const float* save_invstd, const float* save_r, const float* save_d, float* dx, float* dgamma,
                     float* dbeta) {
  std::vector<float> sums(2 * s.n * s.c);
  renorm_backward_sums(x, dy, s, save_mean, save_invstd, sums.data());
  renorm_backward_from_sums(x, dy, s, sums.data(), static_cast<float>(s.rows), gamma, save_mean, save_invstd, save_r,
                            save_d, dx, dgamma, dbeta);
}

void merge_moments(const float* parts, int64_t k, int64_t c, float* mean, float* var) {
  for (int64_t j = 0; j < c; ++j) merge_moments_channel(parts, k, c, j, mean, var);
}

void renorm_inference(const float* x, int64_t rows, int64_t c, const float* gamma, const float* beta,
                      const float* run_mean, const float* run_std, float* y) {
  std::vector<float> a(c), b(c);
  for (int64_t j = 0; j < c; ++j) renorm_affine(gamma[j], beta[j], run_mean[j], 1.f / run_std[j], 1.f, 0.f, &a[j], &b[j]);
  apply_affine(x, NormShape{1, rows, c}, a.data(), b.data(), y);
}

}  // namespace renorm::kernels::cpu
