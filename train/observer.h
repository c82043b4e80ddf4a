// What a training run reports while it runs. The library itself never prints: renorm-train's and
// renorm-reproduce's terminal display (apps/progress.h) implements this; the default ignores it all.
#pragma once
#include <cstdint>
#include <string>

#include "train/metrics.h"

namespace renorm {

struct RunStart {
  std::string dataset, model, norm, device, out_dir;
  int64_t parameters = 0;  // the model's trainable values
  int64_t batch = 0, microbatch = 0, total_steps = 0, steps_per_epoch = 0;
  bool renorm = false;  // Batch Renorm: the clipping schedule below applies
  int64_t clip_warmup = 0, rmax_steps = 0, dmax_steps = 0;
  float rmax = 1, dmax = 0, alpha = 0;
  int ranks = 1;  // data parallel: each rank takes batch/ranks examples of every minibatch
  std::string precision;  // fp32 | bf16 | tf32
  bool bf16_slow = false;  // bf16 on a CPU without bfloat16 arithmetic (runtime/cpu_isa.h): slower than fp32
};

class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void started(const RunStart&) {}
  // A metrics row (every log_every steps and at every validation; `evaluated` when it has one), with the
  // estimated seconds left.
  virtual void row(const MetricsRow&, int64_t total_steps, bool evaluated, double eta_s) {}
  // Between rows, every log_every/10 steps, from the host clock only (no device sync): a progress
  // display may redraw. last_loss/last_acc: the values of the last row (NaN before the first).
  virtual void tick(int64_t step, int64_t total_steps, double images_per_s, double eta_s, double last_loss,
                    double last_acc) {}
  virtual void finished() {}
  // Asked after every step (so it must be cheap: read a flag): true stops the run after a checkpoint
  // (renorm-train and renorm-reproduce answer it from their SIGINT/SIGTERM handler).
  virtual bool stop_requested() { return false; }
};

}  // namespace renorm
