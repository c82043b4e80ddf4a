// A plain Batch Renorm reference for tests: loops over (n, m, h, w, c) in double precision, written
// from the paper's Algorithm 1 and nothing else in the library.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace renorm::test {

struct RefShape {
  int b, h, w, c, m;  // x: [B,H,W,C]; microbatch M
  int n() const { return b / m; }
  size_t index(int n_, int m_, int h_, int w_, int c_) const {
    return (((size_t(n_) * m + m_) * h + h_) * w + w_) * size_t(c) + c_;
  }
  size_t numel() const { return size_t(b) * h * w * c; }
};

struct RefResult {
  std::vector<double> y, mean, var, r, d;  // y: numel; the rest (N,C)
  std::vector<double> run_mean, run_std;    // after the step
  int clipped_r = 0, clipped_d = 0;
};

inline RefResult ref_forward(const RefShape& s, const std::vector<float>& x, const std::vector<float>& gamma,
                             const std::vector<float>& beta, const std::vector<float>& run_mean,
                             const std::vector<float>& run_std, double eps, double alpha, double rmax, double dmax) {
  RefResult o;
  const int N = s.n();
  const double count = double(s.m) * s.h * s.w;
  o.y.assign(s.numel(), 0.0);
  o.mean.assign(N * s.c, 0.0);
  o.var.assign(N * s.c, 0.0);
  o.r.assign(N * s.c, 0.0);
  o.d.assign(N * s.c, 0.0);
  o.run_mean.assign(run_mean.begin(), run_mean.end());
  o.run_std.assign(run_std.begin(), run_std.end());
  for (int c = 0; c < s.c; ++c) {
    double mean_sum = 0, sigma_sum = 0;
    for (int n = 0; n < N; ++n) {
      double mu = 0, var = 0;
      for (int m = 0; m < s.m; ++m)
        for (int h = 0; h < s.h; ++h)
          for (int w = 0; w < s.w; ++w) mu += x[s.index(n, m, h, w, c)];
      mu /= count;
      for (int m = 0; m < s.m; ++m)
        for (int h = 0; h < s.h; ++h)
          for (int w = 0; w < s.w; ++w) var += std::pow(x[s.index(n, m, h, w, c)] - mu, 2);
      var /= count;
      const double sigma = std::sqrt(var + eps);
      const double r_raw = sigma / run_std[c], d_raw = (mu - run_mean[c]) / run_std[c];
      const double r = std::clamp(r_raw, 1.0 / rmax, rmax), d = std::clamp(d_raw, -dmax, dmax);
      o.clipped_r += r != r_raw;
      o.clipped_d += d != d_raw;
      const int i = n * s.c + c;
      o.mean[i] = mu;
      o.var[i] = var;
      o.r[i] = r;
      o.d[i] = d;
      for (int m = 0; m < s.m; ++m)
        for (int h = 0; h < s.h; ++h)
          for (int w = 0; w < s.w; ++w) {
            const size_t k = s.index(n, m, h, w, c);
            o.y[k] = gamma[c] * ((x[k] - mu) / sigma * r + d) + beta[c];
          }
      mean_sum += mu;
      sigma_sum += sigma;
    }
    o.run_mean[c] += alpha * (mean_sum / N - o.run_mean[c]);
    o.run_std[c] += alpha * (sigma_sum / N - o.run_std[c]);
  }
  return o;
}

// dx, dgamma, dbeta with r, d constant (the paper's gradient), from the forward's statistics.
inline void ref_backward(const RefShape& s, const std::vector<float>& x, const std::vector<float>& dy,
                         const std::vector<float>& gamma, const RefResult& f, double eps, std::vector<double>& dx,
                         std::vector<double>& dgamma, std::vector<double>& dbeta) {
  const int N = s.n();
  const double count = double(s.m) * s.h * s.w;
  dx.assign(s.numel(), 0.0);
  dgamma.assign(s.c, 0.0);
  dbeta.assign(s.c, 0.0);
  for (int c = 0; c < s.c; ++c)
    for (int n = 0; n < N; ++n) {
      const int i = n * s.c + c;
      const double sigma = std::sqrt(f.var[i] + eps);
      double s1 = 0, s2 = 0;
      for (int m = 0; m < s.m; ++m)
        for (int h = 0; h < s.h; ++h)
          for (int w = 0; w < s.w; ++w) {
            const size_t k = s.index(n, m, h, w, c);
            const double xt = (x[k] - f.mean[i]) / sigma;
            s1 += dy[k];
            s2 += dy[k] * xt;
            dgamma[c] += dy[k] * (xt * f.r[i] + f.d[i]);
            dbeta[c] += dy[k];
          }
      for (int m = 0; m < s.m; ++m)
        for (int h = 0; h < s.h; ++h)
          for (int w = 0; w < s.w; ++w) {
            const size_t k = s.index(n, m, h, w, c);
            const double xt = (x[k] - f.mean[i]) / sigma;
            dx[k] = f.r[i] * gamma[c] / sigma * (dy[k] - s1 / count - xt * s2 / count);
          }
    }
}

}  // namespace renorm::test
