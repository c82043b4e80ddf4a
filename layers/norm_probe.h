// What one norm layer's training forward did at one step, for norm_stats.csv (issue 39): r and d before
// clipping over its N·C values (microbatch n, channel c), how many the step's bounds clipped, and how far
// the moving averages lag behind the statistics of the whole minibatch. Host arithmetic on values copied
// from the device: for log steps only.
#pragma once
#include <cstdint>
#include <vector>

namespace renorm {

struct NormProbe {
  double r_dev_mean = 0, r_dev_p90 = 0;  // |r − 1|, r = σ_n/σ before clipping: mean and 90th percentile
  double d_abs_mean = 0, d_abs_p90 = 0;  // |d|, d = (μ_n − μ)/σ before clipping
  double clip_r = 0, clip_d = 0;         // fraction of the N·C values outside [1/rmax, rmax] ([−dmax, dmax])
  // Per channel, the minibatch's own μ_B and σ_B (its microbatches' moments merged) against the moving μ
  // and σ the step began with, averaged over channels: |μ_B − μ|/σ, |σ_B/σ − 1| and log(σ_B/σ) (signed).
  double lag_mean = 0, lag_std = 0, log_std_ratio = 0;
};

// The probe's inputs as the forward had them: each microbatch's mean and 1/σ_n ((N,C), row-major), the
// moving mean and σ before the step's update ((C) each), eps, and the step's bounds.
struct NormProbeInput {
  std::vector<float> mean, invstd, run_mean, run_std;
  int64_t n = 0, c = 0;
  float eps = 0, rmax = 1, dmax = 0;
};

NormProbe probe_norm(const NormProbeInput& in);

}  // namespace renorm
