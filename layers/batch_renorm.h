// BatchRenorm and BatchNorm layers (Ioffe 2017, Algorithm 1, with per-microbatch r and d).
#pragma once
#include <cstdint>
#include <optional>

#include "layers/norm_probe.h"
#include "tensor/ops/renorm.h"
#include "tensor/step_scalars.h"
#include "layers/module.h"

namespace renorm {

struct ClipFractions {
  float r = 0.f, d = 0.f;  // fraction of the N·C values of r (d) that hit their bound in the last step
};

class BatchRenorm : public Module {
 public:
  BatchRenorm(int64_t channels, NormConfig config, Device device = Device::CPU);  // config.schedule must be set

  // Train mode: batch renorm with this step's rmax/dmax (read on the device from the step scalars),
  // updates the moving averages; a layer with its own scalars advances its step. Eval mode:
  // y = γ·(x-μ)/σ + β.
  Tensor forward(const Tensor& x) override;

  int64_t step() const { return step_; }
  void set_step(int64_t step);  // on resume; with a shared block, write_step
  float rmax() const;           // at the current step
  float dmax() const;
  // The step's bounds {rmax, dmax} as two words of `scalars` (a model's block, shared with its other
  // layers and the optimizer: tensor/step_scalars.h). The block's owner then drives the step: it calls
  // write_step(k) before step k and uploads the block, and forward no longer advances it — nothing on
  // the forward's path changes host state, so a captured graph replays the step. Without a shared
  // block the layer keeps a block of its own, uploaded and advanced by each training forward.
  void use_step_scalars(std::shared_ptr<StepScalars> scalars);
  void write_step(int64_t step);  // step_ = step; its bounds to the block's host words
  ClipFractions last_clip_fractions() const;  // copies two floats to the host: for logging only
  const NormConfig& config() const { return config_; }
  // Data parallel, --sync-norm: normalize over all ranks' examples of `comm` (null: this process's own).
  void set_sync(Communicator* comm) { sync_ = comm; }
  // Eval mode only: normalize with the batch's own statistics as the training forward does (microbatches
  // of M, r and d at the current step) but leave the moving averages and the step alone — what the
  // network saw in training, against what inference shows it (the train/inference gap; off: inference).
  void set_eval_batch_stats(bool on) { eval_batch_stats_ = on; }
  // Eval mode only (and not set_eval_batch_stats): forward returns the inference output y_infer as usual
  // and also computes y_batch, the output with the batch's statistics, keeping ||y_batch − y_infer|| /
  // ||y_infer|| as last_gap() (a host sync: for the train/inference gap measurement, Model).
  void set_gap_probe(bool on) { gap_probe_ = on; }
  // While on, each training forward also keeps what probe() reads: the moving averages it began with (two
  // device copies of (C)) and its per-microbatch moments. probe(): r and d before clipping, the clip
  // fractions at that step's bounds, the averages' lag (layers/norm_probe.h); copies to the host.
  void set_stats_probe(bool on) { stats_probe_ = on; }
  NormProbe probe() const;
  double last_gap() const { return last_gap_; }

  void collect_parameters(const std::string& prefix, NamedTensors& out) const override;
  void collect_buffers(const std::string& prefix, NamedTensors& out) const override;

  Tensor gamma, beta;               // (C), parameters; init 1 and 0
  Tensor running_mean, running_std;  // (C), buffers; init 0 and 1

 private:
  NormConfig config_;
  Communicator* sync_ = nullptr;
  bool eval_batch_stats_ = false, gap_probe_ = false;
  double last_gap_ = 0.0;
  int64_t step_ = 0;
  StepWords words_{2, "batch renorm"};  // rmax, dmax
  Tensor clip_counts_;  // (2), on the device, from the last training forward
  bool stats_probe_ = false;
  Tensor probe_mean_, probe_invstd_, probe_run_mean_, probe_run_std_;  // the last probed forward's
  float probe_rmax_ = 1, probe_dmax_ = 0;
  int64_t last_nc_ = 0;
};

// Batchnorm: the same layer and kernels with rmax = 1, dmax = 0 fixed.
class BatchNorm : public BatchRenorm {
 public:
  BatchNorm(int64_t channels, NormConfig config = {}, Device device = Device::CPU);
};

}  // namespace renorm
