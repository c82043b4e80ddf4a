#include "train/optim.h"

#include "train/metrics.h"  // format_number

#include <cmath>

#include "tensor/autograd.h"
#include "runtime/error.h"
#include "kernels/detail/dispatch.h"
#include "kernels/optim.h"

namespace renorm {

namespace {
// The one device of `params` (CPU when there are none): the step's words live there.
Device params_device(const NamedTensors& params) {
  const Device d = params.empty() ? Device::CPU : params.front().second.device();
  for (const auto& [name, p] : params)
    if (p.device() != d)
      throw ConfigError("optimizer: parameter " + name + " is on " + device_name(p.device()) + ", the first on " +
                        device_name(d) + "; one optimizer steps the parameters of one device");
  return d;
}
}  // namespace

Optimizer::Optimizer(NamedTensors params, float lr, std::shared_ptr<StepScalars> scalars)
    : params_(std::move(params)), lr_(lr), scalars_(std::move(scalars)) {
  if (!(lr >= 0.f)) throw ConfigError("optimizer: learning rate must be >= 0, got " + std::to_string(lr));
  const Device d = params_device(params_);
  if (!scalars_) scalars_ = std::make_shared<StepScalars>(d);
  if (scalars_->device() != d)
    throw ConfigError(std::string("optimizer: the step-scalar block is on ") + device_name(scalars_->device()) +
                      ", the parameters on " + device_name(d));
  word_ = scalars_->reserve(3, "optimizer");
}

void Optimizer::write_step() {
  ++steps_;
  write_rates(steps_);
}

void Optimizer::step() {
  write_step();
  scalars_->upload();
  apply();
}

void Optimizer::make_state(std::vector<std::string> slots) {
  slots_ = std::move(slots);
  for (auto& [name, p] : params_) {
    std::vector<Tensor> s;
    for (size_t i = 0; i < slots_.size(); ++i) s.push_back(Tensor::zeros(p.shape(), p.device()));
    state_.push_back(std::move(s));
  }
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
}

NamedTensors Optimizer::named_state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i)
    for (size_t k = 0; k < slots_.size(); ++k) out.emplace_back(params_[i].first + "." + slots_[k], state_[i][k]);
  return out;
}

void SgdOptions::validate() const {
  if (!(momentum >= 0.f && momentum < 1.f)) throw ConfigError("sgd: momentum must be in [0, 1), got " + format_number(momentum));
  if (!(weight_decay >= 0.f)) throw ConfigError("sgd: weight-decay must be >= 0, got " + format_number(weight_decay));
}

Sgd::Sgd(NamedTensors params, float lr, SgdOptions o, std::shared_ptr<StepScalars> scalars)
    : Optimizer(std::move(params), lr, std::move(scalars)), o_(o) {
  o.validate();
  make_state({"momentum"});
}

template <class Run>
void Optimizer::for_each_list(Run&& run) {
  kernels::TensorList list;
  Device device = Device::CPU;
  auto flush = [&] {
    if (list.count > 0) run(device, list);
    list.count = 0;
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].second;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (list.count == kernels::kTensorList || (list.count > 0 && p.device() != device)) flush();
    device = p.device();
    const int k = list.count++;
    list.p[k] = p.data(), list.g[k] = g.data(), list.n[k] = p.numel();
    list.s0[k] = state_[i][0].data(), list.s1[k] = state_[i].size() > 1 ? state_[i][1].data() : nullptr;
  }
  flush();
}

void Sgd::write_rates(int64_t) { scalars_->set(word_, lr_); }

void Sgd::apply() {
  NoGradGuard no_grad;
  const kernels::SgdParams h{o_.momentum, o_.weight_decay, o_.nesterov, step_words()};
  for_each_list([&](Device d, const kernels::TensorList& l) { RENORM_DISPATCH(d, sgd_step, l, h); });
}

void AdamOptions::validate() const {
  if (!(beta1 >= 0.f && beta1 < 1.f)) throw ConfigError("adam: beta1 (--momentum) must be in [0, 1), got " + format_number(beta1));
  if (!(beta2 >= 0.f && beta2 < 1.f)) throw ConfigError("adam: beta2 must be in [0, 1), got " + format_number(beta2));
  if (!(eps > 0.f)) throw ConfigError("adam: eps must be > 0, got " + format_number(eps));
  if (!(weight_decay >= 0.f)) throw ConfigError("adam: weight-decay must be >= 0, got " + format_number(weight_decay));
}

Adam::Adam(NamedTensors params, float lr, AdamOptions o, std::shared_ptr<StepScalars> scalars)
    : Optimizer(std::move(params), lr, std::move(scalars)), o_(o) {
  o.validate();
  make_state({"m", "v"});
}

void Adam::write_rates(int64_t t) {
  scalars_->set(word_, lr_);
  scalars_->set(word_ + 1, 1.f - std::pow(o_.beta1, float(t)));
  scalars_->set(word_ + 2, 1.f - std::pow(o_.beta2, float(t)));
}

void Adam::apply() {
  NoGradGuard no_grad;
  const kernels::AdamParams h{o_.beta1, o_.beta2, o_.eps, o_.weight_decay, step_words()};
  for_each_list([&](Device d, const kernels::TensorList& l) { RENORM_DISPATCH(d, adam_step, l, h); });
}

float LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) return base * float(step + 1) / float(warmup_steps);
  switch (kind) {
    case Kind::Constant:
      return base;
    case Kind::Step:
      return base * std::pow(gamma, float(step / std::max<int64_t>(step_size, 1)));
    case Kind::Cosine: {
      const double span = double(std::max<int64_t>(total_steps - warmup_steps, 1));
      const double t = std::min(1.0, double(step - warmup_steps) / span);
      return min_lr + (base - min_lr) * float(0.5 * (1.0 + std::cos(M_PI * t)));
    }
  }
  return base;
}

const EnumNames<LrSchedule::Kind>& enum_names(LrSchedule::Kind) {
  static const EnumNames<LrSchedule::Kind> names = {
      {"constant", LrSchedule::Kind::Constant}, {"step", LrSchedule::Kind::Step}, {"cosine", LrSchedule::Kind::Cosine}};
  return names;
}

const EnumNames<OptimizerKind>& enum_names(OptimizerKind) {
  static const EnumNames<OptimizerKind> names = {{"sgd", OptimizerKind::Sgd}, {"adam", OptimizerKind::Adam}};
  return names;
}

}  // namespace renorm
