// resolve_norm (train/run_norm.h): the one place a run's norm settings become concrete.
#include <catch2/catch.hpp>

#include "runtime/error.h"
#include "train/run_norm.h"

using namespace renorm;

TEST_CASE("run norm: M concrete per rank, --sync-norm's group, one message per rule", "[config][renorm]") {
  TrainConfig c;
  c.batch = 128;
  NormGroup g = resolve_norm_group(c, 1);  // --microbatch 0: the whole minibatch
  CHECK(g.microbatch == 128);
  CHECK(g.group == 128);
  CHECK(g.rank_batch == 128);
  g = resolve_norm_group(c, 4);  // each rank its own 32 examples (the paper's workers)
  CHECK(g.microbatch == 32);
  CHECK(g.group == 32);
  c.sync_norm = true;  // one group of all 128 across the ranks
  g = resolve_norm_group(c, 4);
  CHECK(g.sync);
  CHECK(g.group == 128);
  CHECK(g.microbatch == 32);
  CHECK(resolve_norm(c, 4, 100).config.microbatch == 0);  // the op: this rank's examples as one group
  CHECK_FALSE(resolve_norm_group(c, 1).sync);  // one process: nothing to synchronize
  c.norm_config.microbatch = 4;
  CHECK_THROWS_WITH(resolve_norm_group(c, 4), "--sync-norm normalizes over the whole minibatch across ranks: "
                                              "--microbatch must be 0 or 128, got 4");
  c.sync_norm = false;
  CHECK(resolve_norm(c, 4, 100).config.microbatch == 4);
  CHECK(default_out_dir(c, resolve_norm_group(c, 1)) == "runs/cifar10-brn-m4-s1");
  c.norm_config.microbatch = 3;
  CHECK_THROWS_WITH(resolve_norm_group(c, 1), "--microbatch 3 does not divide --batch 128");
  CHECK_THROWS_WITH(resolve_norm_group(c, 1, "--noniid-microbatch"), "--noniid-microbatch 3 does not divide --batch 128");
  c.norm_config.microbatch = 64;
  CHECK_THROWS_WITH(resolve_norm_group(c, 4), "--microbatch 64 does not divide each rank's 32 examples "
                                              "(--batch 128 over 4 ranks)");
  CHECK_THROWS_WITH(resolve_norm_group(c, 3), Catch::Contains("--batch 128 is not divisible by the 3 ranks"));
  c.norm_config.microbatch = -2;
  CHECK_THROWS_WITH(resolve_norm_group(c, 1), "--microbatch must be >= 1 (or 0: the whole minibatch), got -2");
}

TEST_CASE("run norm: the clipping schedule completed for the run, given steps kept", "[config][renorm]") {
  TrainConfig c;
  c.norm_config.microbatch = 4;
  const ClipSchedule run = ClipSchedule::for_run(1500, 0.01f);
  RunNorm n = resolve_norm(c, 1, 1500);  // nothing given: for_run's schedule, the default bounds
  CHECK(n.config.schedule.warmup_steps == run.warmup_steps);
  CHECK(n.config.schedule.rmax_steps == run.rmax_steps);
  CHECK(n.config.schedule.dmax_steps == run.dmax_steps);
  CHECK(n.config.schedule.rmax_final == 3.f);
  c.norm_config.schedule.warmup_steps = 10;  // --clip-warmup 10 --rmax 2: the rest from the run
  c.norm_config.schedule.rmax_final = 2.f;
  n = resolve_norm(c, 1, 1500);
  CHECK(n.config.schedule.warmup_steps == 10);
  CHECK(n.config.schedule.rmax_steps == run.rmax_steps);
  CHECK(n.config.schedule.rmax_final == 2.f);
  CHECK(n.config.schedule.rmax(10) == 1.f);
  c.norm_config.schedule.warmup_steps = 1000;  // after the run's rmax and dmax ramps
  CHECK_THROWS_WITH(resolve_norm(c, 1, 1500), "--rmax-steps " + std::to_string(run.rmax_steps) + " and dmax-steps " +
                                                  std::to_string(run.dmax_steps) +
                                                  " must not come before the warmup's end, step 1000");
  c.norm_config.schedule.warmup_steps = -5;
  CHECK_THROWS_WITH(resolve_norm(c, 1, 1500), "--clip-warmup must be >= 0 (or -1: from the run's length), got -5");
  c.norm_config.schedule.warmup_steps = ClipSchedule::kFromRun;
  c.norm_config.eps = 0.f;
  CHECK_THROWS_WITH(resolve_norm(c, 1, 1500), "--eps must be > 0 and finite, got 0.000000");
  // constant(): bounds from step 0 on, and a complete schedule
  const ClipSchedule k = ClipSchedule::constant(2.f, 1.f);
  CHECK(k.is_set());
  CHECK(k.rmax(0) == 2.f);
  CHECK(k.dmax(0) == 1.f);
  CHECK_NOTHROW(k.validate());
}
