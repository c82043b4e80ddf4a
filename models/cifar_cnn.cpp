#include "models/cifar_cnn.h"

#include "runtime/error.h"
#include "tensor/autograd.h"
#include "tensor/compare.h"

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

CifarCnn::CifarCnn(const CnnConfig& cfg, Device device) {
  if (cfg.height < 8 || cfg.width < 8 || cfg.channels < 1 || cfg.classes < 2)
    throw ConfigError("CifarCnn: input must be at least 8x8 with >= 1 channel and >= 2 classes");
  const int64_t widths[3] = {32, 64, 128};
  int64_t in = cfg.channels, h = cfg.height, w = cfg.width;
  uint64_t seed = cfg.seed * 1000;
  for (int block = 0; block < 3; ++block) {
    for (int j = 0; j < 2; ++j) {
      ConvOptions co;
      co.pad = 1;
      co.seed = ++seed;
      co.relu = true;  // conv-relu fused: one pass over the activations instead of three
      body_.emplace<Conv2d>(in, widths[block], 3, co, device);
      in = widths[block];
      if (cfg.norm == NormKind::BatchNorm) norms_.push_back(&body_.emplace<BatchNorm>(in, cfg.norm_config, device));
      if (cfg.norm == NormKind::BatchRenorm) norms_.push_back(&body_.emplace<BatchRenorm>(in, cfg.norm_config, device));
    }
    body_.emplace<MaxPool2d>(2, 2);
    h /= 2;
    w /= 2;
    dropouts_.push_back(&body_.emplace<Dropout>(cfg.dropout[block], static_cast<uint32_t>(block), cfg.seed));
    dropouts_.back()->set_first_example(cfg.first_example);
  }
  body_.emplace<Flatten>();
  body_.emplace<Linear>(in * h * w, cfg.classes, true, Init::GlorotUniform, ++seed, device);
}

Tensor CifarCnn::forward(const Tensor& x) { return body_.forward(x); }

void CifarCnn::collect_parameters(const std::string& prefix, NamedTensors& out) const {
  body_.collect_parameters(prefix, out);
}

void CifarCnn::collect_buffers(const std::string& prefix, NamedTensors& out) const {
  body_.collect_buffers(prefix, out);
}

void CifarCnn::train(bool on) {
  Module::train(on);
  body_.train(on);
}

void CifarCnn::set_step(int64_t step) {
  for (BatchRenorm* n : norms_) n->set_step(step);
  for (Dropout* d : dropouts_) d->set_step(step);
}

ClipFractions CifarCnn::clip_fractions() const {
  ClipFractions total;
  if (norms_.empty()) return total;
  for (const BatchRenorm* n : norms_) {
    const ClipFractions f = n->last_clip_fractions();
    total.r += f.r / float(norms_.size());
    total.d += f.d / float(norms_.size());
  }
  return total;
}

void CifarCnn::set_eval_batch_stats(bool on) {
  for (BatchRenorm* n : norms_) n->set_eval_batch_stats(on);
}

std::vector<double> CifarCnn::train_inference_gaps(const Tensor& x) {
  NoGradGuard no_grad;
  train(false);
  std::vector<double> gaps;
  Tensor h = x;
  for (const auto& layer : body_.children()) {
    auto* norm = dynamic_cast<BatchRenorm*>(layer.get());
    if (norm) {
      norm->set_eval_batch_stats(true);
      const Tensor with_batch = norm->forward(h);
      norm->set_eval_batch_stats(false);
      h = norm->forward(h);
      gaps.push_back(compare(h, with_batch).normalized_error);
    } else {
      h = layer->forward(h);
    }
  }
  train(true);
  return gaps;
}

}  // namespace renorm
