// Batch Renorm as differentiable ops (the layer in layers/batch_renorm.h wraps these). x is [B,H,W,C]
// or [B,C] (channels last); statistics are per (microbatch n, channel c), microbatch n being examples
// [n·M, (n+1)·M). Math and numerics: kernels/renorm.h.
#pragma once
#include <cstdint>
#include <limits>

#include "runtime/comm.h"
#include "runtime/named_enum.h"
#include "tensor/tensor.h"
#include "kernels/renorm.h"

namespace renorm {

// Which normalization a network's norm layers do: none, batchnorm (rmax = 1, dmax = 0 always) or Batch
// Renorm; the settings of either are NormConfig's (below).
enum class NormKind { None, BatchNorm, BatchRenorm };
const EnumNames<NormKind>& enum_names(NormKind);  // "none", "bn", "brn"
NormKind parse_norm(const std::string& name);
const char* norm_name(NormKind k);

// rmax = 1 and dmax = 0 up to warmup_steps, then linear ramps reaching rmax_final at rmax_steps and
// dmax_final at dmax_steps; constant after. A default-constructed schedule has its final bounds (the
// paper's 3 and 5) but no steps (kFromRun): a run's length decides them, so a BatchRenorm layer refuses
// it rather than silently acting as batchnorm for the paper's absolute 5000-step warmup. Set one of:
// for_run(total, alpha), what both apps use: the paper's schedule scaled to `total` steps, but the ramps
// never start before 3/alpha steps (three time constants of the moving averages, so that r and d pull
// towards estimates that have settled; docs/reproduction.md); completed(total, alpha): for_run's steps
// where this schedule has none (--clip-warmup, --rmax-steps, --dmax-steps -1), its own elsewhere;
// paper(total), the paper's 5k, 40k, 25k steps of about 160k scaled to `total`; constant(rmax, dmax).
struct ClipSchedule {
  static constexpr int64_t kFromRun = -1;  // a step not given: completed() takes it from for_run
  static constexpr int64_t kAlways = std::numeric_limits<int64_t>::min();  // constant(): the ramps end before step 0
  int64_t warmup_steps = kFromRun;
  int64_t rmax_steps = kFromRun;
  int64_t dmax_steps = kFromRun;
  float rmax_final = 3.f;
  float dmax_final = 5.f;

  // The paper's schedule (section 4.1, about 160k steps): rmax = 1, dmax = 0 for 5k steps, then rmax
  // reaches 3 at 40k and dmax 5 at 25k. Written here once; paper() scales it, for_run() keeps its ratios.
  static constexpr int64_t kPaperTotalSteps = 160000, kPaperWarmupSteps = 5000, kPaperRmaxSteps = 40000,
                           kPaperDmaxSteps = 25000;
  static ClipSchedule paper(int64_t total_steps);
  static ClipSchedule for_run(int64_t total_steps, float alpha);
  static int64_t settle_steps(float alpha);  // 3/alpha, rounded up: the shortest warmup for_run gives
  static ClipSchedule constant(float rmax, float dmax);
  ClipSchedule completed(int64_t total_steps, float alpha) const;
  bool is_set() const { return warmup_steps != kFromRun && rmax_steps != kFromRun && dmax_steps != kFromRun; }
  float rmax(int64_t step) const;
  float dmax(int64_t step) const;
  void validate() const;  // ConfigError naming the bad value (an incomplete schedule is the layer's to refuse)
};

// The configuration of a norm layer — its one definition: every default here, one validate(). The op,
// the BatchRenorm/BatchNorm layers, the CNN, the trainer (TrainConfig::norm) and both apps use it.
struct NormConfig {
  int64_t microbatch = 0;  // M: examples per normalization group, must divide the batch; 0: the whole minibatch
  float eps = 1e-3f;
  float alpha = 0.01f;    // moving-average rate, in (0, 1]
  ClipSchedule schedule;  // rmax and dmax by step (Batch Renorm): must be set (ClipSchedule)
  bool batchnorm = false;  // rmax = 1, dmax = 0 at every step (the schedule is ignored)
  void validate() const;   // ConfigError naming the setting
};

// One call of the training op: this step's clipping bounds (from the schedule), and what tests vary.
// `limits`, when defined: the bounds as a (2) float32 tensor {rmax, dmax} on x's device, read when the
// kernels run (the layers' step scalars, tensor/step_scalars.h: what a captured graph replays with);
// undefined: a tensor made from rmax and dmax for this call (a host-to-device copy on CUDA).
struct RenormStep {
  float rmax = 1.f;
  float dmax = 0.f;
  Tensor limits;
  bool update_running = true;
  // Gradient checks only: when defined ((N,C) each), r and d are taken from here instead of computed.
  Tensor fixed_r, fixed_d;
};

// What the forward saved for backward, each (N,C); clip_counts: (2) — r and d clipped, counted over (n,c).
struct RenormSaved {
  Tensor mean, invstd, r, d, clip_counts;
};

// The (N,R,C) view of x for microbatch size M (0: M = B); throws ShapeError/ConfigError naming the
// shape and M when x is not channels-last of rank 2..5 or M does not divide B.
kernels::NormShape norm_shape(const Tensor& x, int64_t microbatch, const char* op);

// Training forward with config.microbatch, eps and alpha and this step's bounds: y, and the moving
// averages running_mean/running_std ((C) each) updated in place (when step.update_running).
// Differentiable in x, gamma, beta with r and d held constant.
// `sync` (data parallel, --sync-norm): x is this rank's share of a minibatch normalized as one group
// across the ranks of `sync` (config.microbatch must make x one group): the moments are merged across
// ranks (count, mean, M2, Chan's formula in rank order) and the backward's sums all-reduced, so every
// rank computes batchnorm / Batch Renorm over all ranks' examples; dγ and dβ are this rank's 1/K share of
// the total, which the gradients' average over ranks (train/grad_reducer.h) turns back into the total's
// average. `sync` must outlive the backward.
Tensor batch_renorm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                          const Tensor& running_std, const NormConfig& config, const RenormStep& step,
                          RenormSaved* saved = nullptr, Communicator* sync = nullptr);

// Inference (eval mode): y = γ·(x-μ)/σ + β with the moving averages. Not recorded by autograd: a
// backward through it throws "does not require grad" rather than returning a wrong gradient.
Tensor batch_renorm_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                              const Tensor& running_std);

// Mean and biased variance per (n,c), each (N,C).
void microbatch_moments(const Tensor& x, int64_t microbatch, Tensor* mean, Tensor* var);

}  // namespace renorm
