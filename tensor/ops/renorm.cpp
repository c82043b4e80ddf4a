#include "tensor/ops/renorm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "tensor/autograd.h"
#include "runtime/error.h"
#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"

namespace renorm {

const EnumNames<NormKind>& enum_names(NormKind) {
  static const EnumNames<NormKind> names = {
      {"none", NormKind::None}, {"bn", NormKind::BatchNorm}, {"brn", NormKind::BatchRenorm}};
  return names;
}

NormKind parse_norm(const std::string& name) { return enum_parse<NormKind>(name, "norm"); }

const char* norm_name(NormKind k) {
  for (const auto& [name, e] : enum_names(k))
    if (e == k) return name.c_str();
  return "?";
}

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
  c.warmup_steps = scaled(kPaperWarmupSteps);
  c.rmax_steps = scaled(kPaperRmaxSteps);
  c.dmax_steps = scaled(kPaperDmaxSteps);
  return c;
}

int64_t ClipSchedule::settle_steps(float alpha) {
  // 0.01f is 0.0099999998: 3/alpha is 300.000006, which must count as 300, not 301.
  return static_cast<int64_t>(std::ceil(3.0 / double(alpha) * (1.0 - 1e-6)));
}

ClipSchedule ClipSchedule::for_run(int64_t total_steps, float alpha) {
  ClipSchedule s = paper(total_steps);
  if (!(alpha > 0.f && alpha <= 1.f)) throw ConfigError("clip schedule: alpha must be in (0, 1], got " + std::to_string(alpha));
  const int64_t floor_warmup = settle_steps(alpha);
  if (s.warmup_steps < floor_warmup) {
    s.warmup_steps = std::min(floor_warmup, total_steps);
    // The ramps after the later warmup keep the paper's shares of the steps after its warmup.
    const double rest = double(total_steps - s.warmup_steps), after = double(kPaperTotalSteps - kPaperWarmupSteps);
    s.rmax_steps = s.warmup_steps + std::llround(rest * double(kPaperRmaxSteps - kPaperWarmupSteps) / after);
    s.dmax_steps = s.warmup_steps + std::llround(rest * double(kPaperDmaxSteps - kPaperWarmupSteps) / after);
  }
  return s;
}

ClipSchedule ClipSchedule::completed(int64_t total_steps, float alpha) const {
  ClipSchedule s = for_run(total_steps, alpha);
  for (auto [mine, run] : {std::pair{warmup_steps, &s.warmup_steps}, {rmax_steps, &s.rmax_steps}, {dmax_steps, &s.dmax_steps}})
    if (mine != kFromRun) *run = mine;
  s.rmax_final = rmax_final;
  s.dmax_final = dmax_final;
  return s;
}

ClipSchedule ClipSchedule::constant(float rmax, float dmax) {
  ClipSchedule c;
  c.warmup_steps = c.rmax_steps = c.dmax_steps = kAlways;
  c.rmax_final = rmax;
  c.dmax_final = dmax;
  return c;
}

float ClipSchedule::rmax(int64_t step) const { return ramp(step, warmup_steps, rmax_steps, 1.f, rmax_final); }
float ClipSchedule::dmax(int64_t step) const { return ramp(step, warmup_steps, dmax_steps, 0.f, dmax_final); }

void ClipSchedule::validate() const {
  if (!(rmax_final >= 1.f && std::isfinite(rmax_final)))
    throw ConfigError("clip schedule: rmax must be >= 1 and finite, got " + std::to_string(rmax_final));
  if (!(dmax_final >= 0.f && std::isfinite(dmax_final)))
    throw ConfigError("clip schedule: dmax must be >= 0 and finite, got " + std::to_string(dmax_final));
  // The names are renorm-train's flags (its messages swap "clip schedule: " for "--").
  for (auto [name, v] : {std::pair{"clip-warmup", warmup_steps}, {"rmax-steps", rmax_steps}, {"dmax-steps", dmax_steps}})
    if (v < kFromRun && v != kAlways)
      throw ConfigError(std::string("clip schedule: ") + name + " must be >= 0 (or -1: from the run's length), got " +
                        std::to_string(v));
  if (is_set() && (rmax_steps < warmup_steps || dmax_steps < warmup_steps))
    throw ConfigError("clip schedule: rmax-steps " + std::to_string(rmax_steps) + " and dmax-steps " +
                      std::to_string(dmax_steps) + " must not come before the warmup's end, step " +
                      std::to_string(warmup_steps));
}

void NormConfig::validate() const {
  if (microbatch < 0)
    throw ConfigError("norm: microbatch must be >= 1 (or 0 for the whole minibatch), got " + std::to_string(microbatch));
  if (!(eps > 0.f && std::isfinite(eps))) throw ConfigError("norm: eps must be > 0 and finite, got " + std::to_string(eps));
  if (!(alpha > 0.f && alpha <= 1.f)) throw ConfigError("norm: alpha must be in (0, 1], got " + std::to_string(alpha));
  schedule.validate();
}

kernels::NormShape norm_shape(const Tensor& x, int64_t microbatch, const char* op) {
  if (!x.defined() || x.rank() < 2)
    throw ShapeError(std::string(op) + ": input must be [B,...,C] of rank 2 to 5, got " + x.str());
  const int64_t b = x.dim(0), c = x.dim(-1);
  if (b == 0 || c == 0) throw ShapeError(std::string(op) + ": empty input " + x.shape().str());
  const int64_t m = microbatch == 0 ? b : microbatch;
  if (m < 0) throw ConfigError(std::string(op) + ": microbatch must be >= 1, got " + std::to_string(m));
  if (b % m != 0)
    throw ConfigError(std::string(op) + ": microbatch " + std::to_string(m) + " does not divide the batch size " +
                      std::to_string(b) + " of input " + x.shape().str());
  return kernels::NormShape{b / m, m * (x.numel() / b / c), c};
}

namespace {
void check_param(const char* op, const char* what, const Tensor& x, const Tensor& t, int64_t c) {
  check_same_device(op, x, t);
  check_shape(op, what, t, Shape{c});
}
}  // namespace

namespace {
// This rank's moments (one group: s.n == 1) merged with every other rank's in rank order: the mean and
// biased variance of all ranks' examples, each (1,C).
void synced_moments(const Tensor& x, kernels::NormShape s, Communicator& comm, Tensor& mean, Tensor& var) {
  const Device dev = x.device();
  const int64_t k = comm.size(), c = s.c;
  Tensor parts = Tensor::zeros(Shape{k, 3, c}, dev);  // (count, mean, M2) per rank; others' slots 0
  float* mine = parts.data() + comm.rank() * 3 * c;
  visit_storage(x.dtype(), [&](auto t) { RENORM_DISPATCH(dev, moments, x.data_as<decltype(t)>(), s, mine + c, mine + 2 * c); });
  RENORM_DISPATCH(dev, fill, mine, c, static_cast<float>(s.rows));
  RENORM_DISPATCH(dev, scale, mine + 2 * c, static_cast<float>(s.rows), mine + 2 * c, c);  // var -> M2
  comm.allreduce_sum(parts.data(), parts.numel());  // an all-gather: each slot has one non-zero rank
  RENORM_DISPATCH(dev, merge_moments, parts.data(), k, c, mean.data(), var.data());
}
}  // namespace

namespace {
// The training op's backward for storage T of x, dy and dx (the statistics float32).
template <class T>
std::vector<Tensor> renorm_backward_op(const Tensor& x, const Tensor& g, const Tensor& gamma, const RenormSaved& sv,
                                       kernels::NormShape s, Communicator* sync) {
  const Device d = x.device();
  Tensor dx = Tensor::empty(x.shape(), d, x.dtype());
  Tensor dgamma = Tensor::empty(Shape{s.c}, d), dbeta = Tensor::empty(Shape{s.c}, d);
  if (!sync) {  // sums + apply (CUDA: 2 launches)
    RENORM_DISPATCH(d, renorm_backward, x.data_as<T>(), g.data_as<T>(), s, gamma.data(), sv.mean.data(), sv.invstd.data(),
                    sv.r.data(), sv.d.data(), dx.data_as<T>(), dgamma.data(), dbeta.data());
    return {dx, dgamma, dbeta};
  }
  Tensor sums = Tensor::empty(Shape{2, s.n, s.c}, d);  // S1, S2 over all ranks' examples
  RENORM_DISPATCH(d, renorm_backward_sums, x.data_as<T>(), g.data_as<T>(), s, sv.mean.data(), sv.invstd.data(), sums.data());
  sync->allreduce_sum(sums.data(), sums.numel());
  const float rows = static_cast<float>(s.rows) * static_cast<float>(sync->size());
  RENORM_DISPATCH(d, renorm_backward_from_sums, x.data_as<T>(), g.data_as<T>(), s, sums.data(), rows, gamma.data(),
                  sv.mean.data(), sv.invstd.data(), sv.r.data(), sv.d.data(), dx.data_as<T>(), dgamma.data(), dbeta.data());
  // dγ, dβ from the global sums are every rank's total: each reports its 1/K share, so that the
  // gradients' average over ranks (GradReducer) is the total's average, as for every parameter
  const float share = 1.f / static_cast<float>(sync->size());
  RENORM_DISPATCH(d, scale, dgamma.data(), share, dgamma.data(), s.c);
  RENORM_DISPATCH(d, scale, dbeta.data(), share, dbeta.data(), s.c);
  return {dx, dgamma, dbeta};
}
}  // namespace

Tensor batch_renorm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                          const Tensor& running_std, const NormConfig& config, const RenormStep& o,
                          RenormSaved* saved_out, Communicator* sync) {
  static constexpr const char* op = "batch_renorm";
  const kernels::NormShape s = norm_shape(x, config.microbatch, op);
  if (sync && s.n != 1)
    throw ConfigError(std::string(op) + ": normalizing across ranks needs this rank's examples as one group, got " +
                      std::to_string(s.n) + " microbatches (--sync-norm: --microbatch 0)");
  check_param(op, "gamma", x, gamma, s.c);
  check_param(op, "beta", x, beta, s.c);
  check_param(op, "running_mean", x, running_mean, s.c);
  check_param(op, "running_std", x, running_std, s.c);
  const Device dev = x.device();
  RenormSaved sv;
  sv.mean = Tensor::empty(Shape{s.n, s.c}, dev);
  sv.invstd = Tensor::empty(Shape{s.n, s.c}, dev);
  sv.clip_counts = Tensor::empty(Shape{2}, dev);
  kernels::RenormParams p;
  p.eps = config.eps;
  p.alpha = config.alpha;
  const Tensor limits = o.limits.defined() ? o.limits : Tensor::from_vector({o.rmax, o.dmax}, Shape{2}, dev);
  check_param(op, "limits", x, limits, 2);
  p.limits = limits.data();
  p.update_running = o.update_running;
  p.fixed_rd = o.fixed_r.defined();
  if (p.fixed_rd) {
    check_param(op, "fixed_r", x, o.fixed_r.reshape(Shape{-1}), s.n * s.c);
    check_param(op, "fixed_d", x, o.fixed_d.reshape(Shape{-1}), s.n * s.c);
    sv.r = o.fixed_r.detach().clone();
    sv.d = o.fixed_d.detach().clone();
  } else {
    sv.r = Tensor::empty(Shape{s.n, s.c}, dev);
    sv.d = Tensor::empty(Shape{s.n, s.c}, dev);
  }
  Tensor y = Tensor::empty(x.shape(), dev, x.dtype());  // x's storage; every statistic float32
  visit_storage(x.dtype(), [&](auto t) {
    using T = decltype(t);
    if (sync) {  // the moments of every rank's examples, then the rest of the forward
      Tensor var = Tensor::empty(Shape{s.n, s.c}, dev);
      synced_moments(x, s, *sync, sv.mean, var);
      RENORM_DISPATCH(dev, renorm_forward_from_moments, x.data_as<T>(), s, sv.mean.data(), var.data(), gamma.data(),
                      beta.data(), running_mean.data(), running_std.data(), p, y.data_as<T>(), sv.invstd.data(),
                      sv.r.data(), sv.d.data(), sv.clip_counts.data());
    } else {  // statistics + apply (CUDA: 2 launches)
      RENORM_DISPATCH(dev, renorm_forward_train, x.data_as<T>(), s, gamma.data(), beta.data(), running_mean.data(),
                      running_std.data(), p, y.data_as<T>(), sv.mean.data(), sv.invstd.data(), sv.r.data(), sv.d.data(),
                      sv.clip_counts.data());
    }
  });
  if (saved_out) *saved_out = sv;
  return record(op, y, {x, gamma, beta}, [x = x.detach(), gamma = gamma.detach(), sv, s, sync](const Tensor& g) {
    return visit_storage(x.dtype(), [&](auto t) { return renorm_backward_op<decltype(t)>(x, g, gamma, sv, s, sync); });
  });
}

Tensor batch_renorm_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                              const Tensor& running_std) {
  static constexpr const char* op = "batch_renorm_inference";
  const kernels::NormShape s = norm_shape(x, 0, op);
  check_param(op, "gamma", x, gamma, s.c);
  check_param(op, "beta", x, beta, s.c);
  check_param(op, "running_mean", x, running_mean, s.c);
  check_param(op, "running_std", x, running_std, s.c);
  Tensor y = Tensor::empty(x.shape(), x.device(), x.dtype());
  visit_storage(x.dtype(), [&](auto t) {
    using T = decltype(t);
    RENORM_DISPATCH(x.device(), renorm_inference, x.data_as<T>(), s.rows, s.c, gamma.data(), beta.data(),
                    running_mean.data(), running_std.data(), y.data_as<T>());
  });
  return y;
}

void microbatch_moments(const Tensor& x, int64_t microbatch, Tensor* mean, Tensor* var) {
  const kernels::NormShape s = norm_shape(x, microbatch, "microbatch_moments");
  *mean = Tensor::empty(Shape{s.n, s.c}, x.device());
  *var = Tensor::empty(Shape{s.n, s.c}, x.device());
  visit_storage(x.dtype(), [&](auto t) { RENORM_DISPATCH(x.device(), moments, x.data_as<decltype(t)>(), s, mean->data(), var->data()); });
}

}  // namespace renorm
