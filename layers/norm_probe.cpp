#include "layers/norm_probe.h"

#include <algorithm>
#include <cmath>

#include "kernels/renorm.h"
#include "runtime/error.h"

namespace renorm {

namespace {
double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

// The 90th percentile (nearest rank) of v; v is reordered.
double p90_of(std::vector<double>& v) {
  if (v.empty()) return 0.0;
  const size_t k = std::min(v.size() - 1, size_t(std::ceil(0.9 * double(v.size()))) - 1);
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
  return v[k];
}

// The whole minibatch's σ_B of channel c from its N equal microbatches: the mean of their variances plus
// the variance of their means (the law of total variance), then the forward's σ = sqrt(var + eps).
void batch_moments(const NormProbeInput& in, int64_t c, double* mean, double* sigma) {
  double m = 0, within = 0;
  for (int64_t n = 0; n < in.n; ++n) {
    const double inv = in.invstd[size_t(n * in.c + c)];
    m += in.mean[size_t(n * in.c + c)];
    within += 1.0 / (inv * inv) - in.eps;
  }
  m /= double(in.n);
  double between = 0;
  for (int64_t n = 0; n < in.n; ++n) {
    const double dm = in.mean[size_t(n * in.c + c)] - m;
    between += dm * dm;
  }
  *mean = m;
  *sigma = std::sqrt(std::max(0.0, within / double(in.n) + between / double(in.n)) + in.eps);
}
}  // namespace

NormProbe probe_norm(const NormProbeInput& in) {
  const size_t nc = size_t(in.n * in.c);
  if (in.n <= 0 || in.c <= 0 || in.mean.size() != nc || in.invstd.size() != nc || in.run_mean.size() != size_t(in.c) ||
      in.run_std.size() != size_t(in.c))
    throw ShapeError("norm probe: inputs do not match N = " + std::to_string(in.n) + ", C = " + std::to_string(in.c));
  NormProbe p;
  std::vector<double> r_dev, d_abs;
  r_dev.reserve(nc);
  d_abs.reserve(nc);
  int64_t clipped_r = 0, clipped_d = 0;
  for (int64_t n = 0; n < in.n; ++n)
    for (int64_t c = 0; c < in.c; ++c) {
      const size_t i = size_t(n * in.c + c);
      float r, d;
      kernels::renorm_rd_raw(in.mean[i], 1.f / in.invstd[i], in.run_mean[size_t(c)], in.run_std[size_t(c)], &r, &d);
      r_dev.push_back(std::fabs(double(r) - 1.0));
      d_abs.push_back(std::fabs(double(d)));
      clipped_r += (r < 1.f / in.rmax || r > in.rmax) ? 1 : 0;
      clipped_d += (d < -in.dmax || d > in.dmax) ? 1 : 0;
    }
  p.r_dev_mean = mean_of(r_dev);
  p.d_abs_mean = mean_of(d_abs);
  p.r_dev_p90 = p90_of(r_dev);
  p.d_abs_p90 = p90_of(d_abs);
  p.clip_r = double(clipped_r) / double(nc);
  p.clip_d = double(clipped_d) / double(nc);
  for (int64_t c = 0; c < in.c; ++c) {
    double mb, sb;
    batch_moments(in, c, &mb, &sb);
    const double mu = in.run_mean[size_t(c)], sigma = in.run_std[size_t(c)];
    p.lag_mean += std::fabs(mb - mu) / sigma;
    p.lag_std += std::fabs(sb / sigma - 1.0);
    p.log_std_ratio += std::log(sb / sigma);
  }
  p.lag_mean /= double(in.c);
  p.lag_std /= double(in.c);
  p.log_std_ratio /= double(in.c);
  return p;
}

}  // namespace renorm
