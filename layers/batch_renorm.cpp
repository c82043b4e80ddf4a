#include "layers/batch_renorm.h"

#include <cmath>
#include <string>

#include "runtime/error.h"

namespace renorm {

namespace {
float ramp(int64_t step, int64_t start, int64_t end, float from, float to) {
  if (step <= start) return from;
  if (step >= end) return to;
  return from + (to - from) * static_cast<float>(step - start) / static_cast<float>(end - start);
}
}  // namespace

ClipSchedule ClipSchedule::paper(int64_t total_steps) {
  if (total_steps <= 0) throw ConfigError("clip schedule: total steps must be > 0, got " + std::to_string(total_steps));
  auto scaled = [&](int64_t s) {
    return static_cast<int64_t>(std::llround(double(s) * double(total_steps) / double(kPaperTotalSteps)));
  };
  ClipSchedule c;
  c.warmup_steps = scaled(5000);
  c.rmax_steps = scaled(40000);
  c.dmax_steps = scaled(25000);
  return c;
}

ClipSchedule ClipSchedule::constant(float rmax, float dmax) {
  ClipSchedule c;
  c.warmup_steps = c.rmax_steps = c.dmax_steps = -1;
  c.rmax_final = rmax;
  c.dmax_final = dmax;
  return c;
}

float ClipSchedule::rmax(int64_t step) const { return ramp(step, warmup_steps, rmax_steps, 1.f, rmax_final); }
float ClipSchedule::dmax(int64_t step) const { return ramp(step, warmup_steps, dmax_steps, 0.f, dmax_final); }

void ClipSchedule::validate() const {
  if (!(rmax_final >= 1.f)) throw ConfigError("clip schedule: rmax must be >= 1, got " + std::to_string(rmax_final));
  if (!(dmax_final >= 0.f)) throw ConfigError("clip schedule: dmax must be >= 0, got " + std::to_string(dmax_final));
  if (rmax_steps < warmup_steps || dmax_steps < warmup_steps)
    throw ConfigError("clip schedule: the ramps must end after the warmup (warmup " + std::to_string(warmup_steps) +
                      ", rmax at " + std::to_string(rmax_steps) + ", dmax at " + std::to_string(dmax_steps) + ")");
}

void BatchRenormConfig::validate() const {
  if (microbatch && *microbatch <= 0)
    throw ConfigError("batch renorm: microbatch must be >= 1, got " + std::to_string(*microbatch));
  if (!(eps > 0.f)) throw ConfigError("batch renorm: eps must be > 0, got " + std::to_string(eps));
  if (!(alpha > 0.f && alpha <= 1.f))
    throw ConfigError("batch renorm: alpha must be in (0, 1], got " + std::to_string(alpha));
  schedule.validate();
}

BatchRenorm::BatchRenorm(int64_t channels, BatchRenormConfig config, Device device) : config_(config) {
  if (channels <= 0) throw ConfigError("batch renorm: channels must be > 0, got " + std::to_string(channels));
  config_.validate();
  gamma = Tensor::full(Shape{channels}, 1.f, device).requires_grad_();
  beta = Tensor::zeros(Shape{channels}, device).requires_grad_();
  running_mean = Tensor::zeros(Shape{channels}, device);
  running_std = Tensor::full(Shape{channels}, 1.f, device);
}

float BatchRenorm::rmax() const { return config_.batchnorm ? 1.f : config_.schedule.rmax(step_); }
float BatchRenorm::dmax() const { return config_.batchnorm ? 0.f : config_.schedule.dmax(step_); }

Tensor BatchRenorm::forward(const Tensor& x) {
  if (!training_) return batch_renorm_inference(x, gamma, beta, running_mean, running_std);
  RenormOptions o;
  o.microbatch = config_.microbatch.value_or(0);
  o.eps = config_.eps;
  o.alpha = config_.alpha;
  o.rmax = rmax();
  o.dmax = dmax();
  RenormSaved saved;
  Tensor y = batch_renorm_train(x, gamma, beta, running_mean, running_std, o, &saved);
  clip_counts_ = saved.clip_counts;
  last_nc_ = saved.mean.numel();
  ++step_;
  return y;
}

ClipFractions BatchRenorm::last_clip_fractions() const {
  if (!clip_counts_.defined()) return {};
  const std::vector<float> c = clip_counts_.to_vector();
  return {c[0] / static_cast<float>(last_nc_), c[1] / static_cast<float>(last_nc_)};
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
BatchRenormConfig as_batchnorm(BatchRenormConfig c) {
  c.batchnorm = true;
  return c;
}
}  // namespace

BatchNorm::BatchNorm(int64_t channels, BatchRenormConfig config, Device device)
    : BatchRenorm(channels, as_batchnorm(config), device) {}

}  // namespace renorm
