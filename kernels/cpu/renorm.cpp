// CPU microbatch moments and Batch Renorm. Per-(n,c) sums run over fixed chunks of kChunkRows rows in
// parallel and are combined in a fixed order (deterministic for any thread count); elementwise passes
// are y = a·x + b with per-(n,c) coefficients from the shared formulas in kernels/renorm.h. The
// forward reads x twice (Σx and Σx² in double in one pass, then y) and the backward twice (Σdy and
// Σdy·x̃, then dx). The row loops are compiled for AVX-512, AVX2 and the baseline and picked at run time.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/renorm.h"

#include "kernels/cpu/multiversion.h"

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

// acc[c] += x[r,c] and acc[C + c] += x[r,c]² over rows [r0, r1) of x (rows of c channels).
template <class T>
void sum_squares_rows_body(const T* x, int64_t c, int64_t r0, int64_t r1, double* acc) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* row = x + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) {
      const double v = widen(row[j]);
      acc[j] += v;
      acc[c + j] += v * v;
    }
  }
}
RENORM_MULTIVERSION(sum_squares_rows, sum_squares_rows_body)

// out[c] += dy[r,c] and out[C + c] += dy[r,c]·(x[r,c] - m[c])·is[c] over rows [r0, r1).
template <class T>
void backward_sums_rows_body(const T* x, const T* dy, int64_t c, const float* m, const float* is, int64_t r0,
                             int64_t r1, double* out) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * c;
    const T* gr = dy + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) {
      const float g = widen(gr[j]);
      out[j] += g;
      out[c + j] += g * ((widen(xr[j]) - m[j]) * is[j]);
    }
  }
}
RENORM_MULTIVERSION(backward_sums_rows, backward_sums_rows_body)

// Rows [t0, t1) of the (N·R, C) view, each in microbatch t / R: y = a·x + b, or with dy given,
// y = a·dy + b·x + e (the backward's dx = p·dy + q·x + shift).
template <class T>
void affine_rows_body(const T* x, const T* dy, NormShape s, const float* a, const float* b, const float* e, T* y,
                      int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t n = t / s.rows;
    const float *an = a + n * s.c, *bn = b + n * s.c;
    const T* xr = x + t * s.c;
    T* yr = y + t * s.c;
    if (!dy) {
#pragma omp simd
      for (int64_t c = 0; c < s.c; ++c) narrow(an[c] * widen(xr[c]) + bn[c], &yr[c]);
      continue;
    }
    const T* gr = dy + t * s.c;
    const float* en = e + n * s.c;
#pragma omp simd
    for (int64_t c = 0; c < s.c; ++c) narrow(an[c] * widen(gr[c]) + bn[c] * widen(xr[c]) + en[c], &yr[c]);
  }
}
RENORM_MULTIVERSION(affine_rows, affine_rows_body)

constexpr int64_t kAffineRows = 64;  // rows per parallel work item of the elementwise passes

template <class T>
void apply_rows(const T* x, const T* dy, NormShape s, const float* a, const float* b, const float* e, T* y) {
  const int64_t rows = s.n * s.rows, blocks = (rows + kAffineRows - 1) / kAffineRows;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < blocks; ++t) affine_rows(x, dy, s, a, b, e, y, t * kAffineRows, std::min(rows, (t + 1) * kAffineRows));
}

// y[n,r,c] = a[n,c]·x[n,r,c] + b[n,c]  (x, y: (N,R,C); a, b: (N,C))
template <class T>
void apply_affine(const T* x, NormShape s, const float* a, const float* b, T* y) {
  apply_rows<T>(x, nullptr, s, a, b, nullptr, y);
}

}  // namespace

template <class T>
void moments(const T* x, NormShape s, float* mean, float* var) {
  // One pass for Σx and Σx² in double: var = E[x²] - μ² loses ~mean²/var ulps of a double, far below a
  // float's for any activation (mean/std < 1e4 keeps the error under 1e-8 relative).
  const double inv_rows = 1.0 / static_cast<double>(s.rows);
  const std::vector<double> sums = reduce_rows(s, 2 * s.c, [&](int64_t n, int64_t r0, int64_t r1, double* acc) {
    sum_squares_rows(x + n * s.rows * s.c, s.c, r0, r1, acc);
  });
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c) {
      const double mu = sums[n * 2 * s.c + c] * inv_rows;
      mean[n * s.c + c] = static_cast<float>(mu);
      var[n * s.c + c] = static_cast<float>(std::max(0.0, sums[n * 2 * s.c + s.c + c] * inv_rows - mu * mu));
    }
}

template <class T>
void renorm_forward_from_moments(const T* x, NormShape s, const float* mean, const float* var, const float* gamma,
                                 const float* beta, float* run_mean, float* run_std, RenormParams p, T* y,
                                 float* save_invstd, float* save_r, float* save_d, float* clip_counts) {
  const int64_t nc = s.n * s.c;
  std::vector<float> a(nc), b(nc);
  int clipped_r = 0, clipped_d = 0;
  for (int64_t i = 0; i < nc; ++i) {
    const int64_t c = i % s.c;
    const int flags = renorm_forward_nc(mean[i], var[i], gamma[c], beta[c], run_mean[c], run_std[c], p, &save_invstd[i],
                                        &save_r[i], &save_d[i], &a[i], &b[i]);
    clipped_r += flags & 1;
    clipped_d += (flags >> 1) & 1;
  }
  if (p.update_running)
    for (int64_t c = 0; c < s.c; ++c) {
      RunningSums sums;
      for (int64_t n = 0; n < s.n; ++n) sums.add(mean[n * s.c + c], var[n * s.c + c], p.eps);
      sums.update(s.n, p.alpha, &run_mean[c], &run_std[c]);
    }
  clip_counts[0] = static_cast<float>(clipped_r);
  clip_counts[1] = static_cast<float>(clipped_d);
  apply_affine(x, s, a.data(), b.data(), y);
}

template <class T>
void renorm_forward_train(const T* x, NormShape s, const float* gamma, const float* beta, float* run_mean,
                          float* run_std, RenormParams p, T* y, float* save_mean, float* save_invstd,
                          float* save_r, float* save_d, float* clip_counts) {
  std::vector<float> var(s.n * s.c);
  moments(x, s, save_mean, var.data());
  renorm_forward_from_moments(x, s, save_mean, var.data(), gamma, beta, run_mean, run_std, p, y, save_invstd, save_r,
                              save_d, clip_counts);
}

template <class T>
void renorm_backward_sums(const T* x, const T* dy, NormShape s, const float* save_mean,
                          const float* save_invstd, float* sums) {
  // (S1, S2) per (n,c): Σ dy and Σ dy·x̃ over the microbatch's rows.
  const std::vector<double> acc = reduce_rows(s, 2 * s.c, [&](int64_t n, int64_t r0, int64_t r1, double* out) {
    const int64_t off = n * s.rows * s.c;
    backward_sums_rows(x + off, dy + off, s.c, save_mean + n * s.c, save_invstd + n * s.c, r0, r1, out);
  });
  const int64_t nc = s.n * s.c;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c) {
      sums[n * s.c + c] = static_cast<float>(acc[n * 2 * s.c + c]);
      sums[nc + n * s.c + c] = static_cast<float>(acc[n * 2 * s.c + s.c + c]);
    }
}

template <class T>
void renorm_backward_from_sums(const T* x, const T* dy, NormShape s, const float* sums, float rows,
                               const float* gamma, const float* save_mean, const float* save_invstd,
                               const float* save_r, const float* save_d, T* dx, float* dgamma, float* dbeta) {
  const int64_t nc = s.n * s.c;
  std::vector<float> pq(2 * nc), sh(nc);
  const float *s1 = sums, *s2 = sums + nc;
  for (int64_t i = 0; i < nc; ++i)
    renorm_dx_coeffs(gamma[i % s.c], save_mean[i], save_invstd[i], save_r[i], s1[i], s2[i], rows, &pq[i], &pq[nc + i],
                     &sh[i]);
  for (int64_t c = 0; c < s.c; ++c) {
    AffineGrads g;
    for (int64_t n = 0; n < s.n; ++n) g.add(save_r[n * s.c + c], save_d[n * s.c + c], s1[n * s.c + c], s2[n * s.c + c]);
    dgamma[c] = static_cast<float>(g.dgamma);
    dbeta[c] = static_cast<float>(g.dbeta);
  }
  apply_rows(x, dy, s, pq.data(), pq.data() + nc, sh.data(), dx);
}

template <class T>
void renorm_backward(const T* x, const T* dy, NormShape s, const float* gamma, const float* save_mean,
                     const float* save_invstd, const float* save_r, const float* save_d, T* dx, float* dgamma,
                     float* dbeta) {
  std::vector<float> sums(2 * s.n * s.c);
  renorm_backward_sums(x, dy, s, save_mean, save_invstd, sums.data());
  renorm_backward_from_sums(x, dy, s, sums.data(), static_cast<float>(s.rows), gamma, save_mean, save_invstd, save_r,
                            save_d, dx, dgamma, dbeta);
}

template <class T>
void renorm_inference(const T* x, int64_t rows, int64_t c, const float* gamma, const float* beta,
                      const float* run_mean, const float* run_std, T* y) {
  std::vector<float> a(c), b(c);
  for (int64_t j = 0; j < c; ++j) renorm_affine(gamma[j], beta[j], run_mean[j], 1.f / run_std[j], 1.f, 0.f, &a[j], &b[j]);
  apply_affine(x, NormShape{1, rows, c}, a.data(), b.data(), y);
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_RENORM_T)

void merge_moments(const float* parts, int64_t k, int64_t c, float* mean, float* var) {
  for (int64_t j = 0; j < c; ++j) merge_moments_channel(parts, k, c, j, mean, var);
}

}  // namespace renorm::kernels::cpu
