// BatchRenorm and BatchNorm layers (Ioffe 2017, Algorithm 1, with per-microbatch r and d).
#pragma once
#include <cstdint>
#include <optional>

#include "tensor/ops/renorm.h"
#include "layers/module.h"

namespace renorm {

// rmax = 1 and dmax = 0 up to warmup_steps, then linear ramps reaching rmax_final at rmax_steps and
// dmax_final at dmax_steps; constant after. The default is the paper's schedule (5k, 40k, 25k steps of
// about 160k); paper(total) scales it to a run of `total` steps.
struct ClipSchedule {
  int64_t warmup_steps = 5000;
  int64_t rmax_steps = 40000;
  int64_t dmax_steps = 25000;
  float rmax_final = 3.f;
  float dmax_final = 5.f;

  static constexpr int64_t kPaperTotalSteps = 160000;
  static ClipSchedule paper(int64_t total_steps);
  static ClipSchedule constant(float rmax, float dmax);
  float rmax(int64_t step) const;
  float dmax(int64_t step) const;
  void validate() const;  // ConfigError naming the bad value
};

struct BatchRenormConfig {
  std::optional<int64_t> microbatch;  // M, must divide the batch; unset: the whole minibatch
  float eps = 1e-3f;
  float alpha = 0.01f;  // moving-average rate, in (0, 1]
  ClipSchedule schedule;
  bool batchnorm = false;  // rmax = 1, dmax = 0 at every step (the schedule is ignored)
  void validate() const;   // ConfigError naming the bad value
};

struct ClipFractions {
  float r = 0.f, d = 0.f;  // fraction of the N·C values of r (d) that hit their bound in the last step
};

class BatchRenorm : public Module {
 public:
  BatchRenorm(int64_t channels, BatchRenormConfig config = {}, Device device = Device::CPU);

  // Train mode: batch renorm with this step's rmax/dmax, updates the moving averages, advances the
  // step. Eval mode: y = γ·(x-μ)/σ + β.
  Tensor forward(const Tensor& x) override;

  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }  // on resume
  float rmax() const;                            // at the current step
  float dmax() const;
  ClipFractions last_clip_fractions() const;  // copies two floats to the host: for logging only
  const BatchRenormConfig& config() const { return config_; }

  void collect_parameters(const std::string& prefix, NamedTensors& out) const override;
  void collect_buffers(const std::string& prefix, NamedTensors& out) const override;

  Tensor gamma, beta;               // (C), parameters; init 1 and 0
  Tensor running_mean, running_std;  // (C), buffers; init 0 and 1

 private:
  BatchRenormConfig config_;
  int64_t step_ = 0;
  Tensor clip_counts_;  // (2), on the device, from the last training forward
  int64_t last_nc_ = 0;
};

// Batchnorm: the same layer and kernels with rmax = 1, dmax = 0 fixed.
class BatchNorm : public BatchRenorm {
 public:
  BatchNorm(int64_t channels, BatchRenormConfig config = {}, Device device = Device::CPU);
};

}  // namespace renorm
