#include "layers/batch_renorm.h"

#include <cmath>
#include <string>

#include "runtime/error.h"
#include "tensor/compare.h"

namespace renorm {

BatchRenorm::BatchRenorm(int64_t channels, NormConfig config, Device device) : config_(config) {
  if (channels <= 0) throw ConfigError("batch renorm: channels must be > 0, got " + std::to_string(channels));
  config_.validate();
  if (!config_.batchnorm && !config_.schedule.is_set())
    throw ConfigError("batch renorm: NormConfig::schedule has no steps; set it for the run's length: "
                      "ClipSchedule::for_run(total_steps, alpha) (what renorm-train does), ClipSchedule::paper(total_steps) "
                      "or ClipSchedule::constant(rmax, dmax)");
  gamma = Tensor::full(Shape{channels}, 1.f, device).requires_grad_();
  beta = Tensor::zeros(Shape{channels}, device).requires_grad_();
  running_mean = Tensor::zeros(Shape{channels}, device);
  running_std = Tensor::full(Shape{channels}, 1.f, device);
}

float BatchRenorm::rmax() const { return config_.batchnorm ? 1.f : config_.schedule.rmax(step_); }
float BatchRenorm::dmax() const { return config_.batchnorm ? 0.f : config_.schedule.dmax(step_); }

void BatchRenorm::use_step_scalars(std::shared_ptr<StepScalars> scalars) {
  words_.attach(std::move(scalars));
  write_step(step_);
}

void BatchRenorm::write_step(int64_t step) {
  step_ = step;
  if (StepScalars* b = words_.block()) {
    b->set(words_.first(), rmax());
    b->set(words_.first() + 1, dmax());
  }
}

void BatchRenorm::set_step(int64_t step) { write_step(step); }

Tensor BatchRenorm::forward(const Tensor& x) {
  StepScalars& block = words_.use(x.device());
  if (words_.own()) {  // a layer on its own: this step's bounds uploaded here
    write_step(step_);
    block.upload();
  }
  RenormStep step;
  step.limits = words_.view();
  if (!training_) {
    step.update_running = false;  // batch statistics, nothing moved
    auto with_batch = [&] { return batch_renorm_train(x, gamma, beta, running_mean, running_std, config_, step, nullptr, sync_); };
    if (eval_batch_stats_) return with_batch();
    Tensor y = batch_renorm_inference(x, gamma, beta, running_mean, running_std);
    if (gap_probe_) last_gap_ = compare(y, with_batch()).normalized_error;
    return y;
  }
  if (stats_probe_) {
    probe_run_mean_ = running_mean.clone();
    probe_run_std_ = running_std.clone();
    probe_rmax_ = rmax();
    probe_dmax_ = dmax();
  }
  RenormSaved saved;
  Tensor y = batch_renorm_train(x, gamma, beta, running_mean, running_std, config_, step, &saved, sync_);
  clip_counts_ = saved.clip_counts;
  if (stats_probe_) {
    probe_mean_ = saved.mean;
    probe_invstd_ = saved.invstd;
  }
  last_nc_ = saved.mean.numel();
  if (words_.own()) ++step_;
  return y;
}

ClipFractions BatchRenorm::last_clip_fractions() const {
  if (!clip_counts_.defined()) return {};
  const std::vector<float> c = clip_counts_.to_vector();
  return {c[0] / static_cast<float>(last_nc_), c[1] / static_cast<float>(last_nc_)};
}

NormProbe BatchRenorm::probe() const {
  if (!probe_mean_.defined())
    throw ConfigError("batch renorm: probe() before a training forward with set_stats_probe(true)");
  NormProbeInput in{probe_mean_.to_vector(), probe_invstd_.to_vector(), probe_run_mean_.to_vector(),
                    probe_run_std_.to_vector(), probe_mean_.shape()[0], probe_mean_.shape()[1], config_.eps,
                    probe_rmax_, probe_dmax_};
  return probe_norm(in);
}

void BatchRenorm::collect_parameters(const std::string& prefix, NamedTensors& out) const {
  out.emplace_back(prefix + "gamma", gamma);
  out.emplace_back(prefix + "beta", beta);
}

void BatchRenorm::collect_buffers(const std::string& prefix, NamedTensors& out) const {
  out.emplace_back(prefix + "running_mean", running_mean);
  out.emplace_back(prefix + "running_std", running_std);
}

namespace {
NormConfig as_batchnorm(NormConfig c) {
  c.batchnorm = true;
  return c;
}
}  // namespace

BatchNorm::BatchNorm(int64_t channels, NormConfig config, Device device)
    : BatchRenorm(channels, as_batchnorm(config), device) {}

}  // namespace renorm
