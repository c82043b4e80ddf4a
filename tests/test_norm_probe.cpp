// The norm-statistics probe (layers/norm_probe.h): r and d before clipping, their clip fractions and the
// moving averages' lag, against values worked by hand.
#include <catch2/catch.hpp>

#include <cmath>

#include "layers/norm_probe.h"
#include "runtime/error.h"

using namespace renorm;

TEST_CASE("norm probe: r and d before clipping, clip fractions and lag, worked by hand", "[renorm]") {
  // Two microbatches, two channels; moving μ = (0, 1), σ = (2, 1); eps 0 so that σ_n = 1/invstd.
  // Channel 0: μ_n = 1, 3 and σ_n = 1, 3 -> r = 0.5, 1.5 (|r-1| 0.5, 0.5), d = 0.5, 1.5.
  // Channel 1: μ_n = 1, 1 and σ_n = 2, 2 -> r = 2, 2 (|r-1| 1, 1), d = 0, 0.
  NormProbeInput in;
  in.n = 2;
  in.c = 2;
  in.mean = {1, 1, 3, 1};
  in.invstd = {1.f, 0.5f, 1.f / 3.f, 0.5f};
  in.run_mean = {0, 1};
  in.run_std = {2, 1};
  in.eps = 0;
  in.rmax = 1.75f;
  in.dmax = 1.f;
  const NormProbe p = probe_norm(in);
  CHECK(p.r_dev_mean == Approx(0.75));
  CHECK(p.r_dev_p90 == Approx(1.0));  // nearest rank: the 4th of 4
  CHECK(p.d_abs_mean == Approx(0.5));
  CHECK(p.d_abs_p90 == Approx(1.5));
  CHECK(p.clip_r == Approx(0.75));  // 0.5 < 1/1.75 and both r = 2 > 1.75; only 1.5 is inside
  CHECK(p.clip_d == Approx(0.25));  // d = 1.5 > 1
  // The minibatch's own statistics: channel 0 mean 2, var (1 + 9)/2 + 1 = 6; channel 1 mean 1, var 4.
  // lag_mean = (|2 - 0|/2 + 0)/2 = 0.5; lag_std = (|sqrt(6)/2 - 1| + |2 - 1|)/2; log ratio likewise.
  CHECK(p.lag_mean == Approx(0.5));
  CHECK(p.lag_std == Approx((std::sqrt(6.0) / 2 - 1 + 1) / 2));
  CHECK(p.log_std_ratio == Approx((std::log(std::sqrt(6.0) / 2) + std::log(2.0)) / 2));
  in.run_std.pop_back();
  CHECK_THROWS_AS(probe_norm(in), ShapeError);
}
