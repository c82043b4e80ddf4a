#include "models/model.h"

#include "tensor/autograd.h"

namespace renorm {

const EnumNames<ModelKind>& enum_names(ModelKind) {
  static const EnumNames<ModelKind> names = {{"cifar-cnn", ModelKind::CifarCnn}, {"resnet20", ModelKind::ResNet20}};
  return names;
}

const EnumNames<Precision>& enum_names(Precision) {
  static const EnumNames<Precision> names = {{"fp32", Precision::Fp32}, {"bf16", Precision::Bf16}, {"tf32", Precision::Tf32}};
  return names;
}

DType activation_dtype(Precision p) { return p == Precision::Bf16 ? DType::BF16 : DType::F32; }
MatMath matmul_math(Precision p) { return p == Precision::Tf32 ? MatMath::Tf32 : MatMath::Fp32; }

void Model::train(bool on) {
  Module::train(on);
  body_.train(on);
}

void Model::write_step(int64_t step) {
  for (BatchRenorm* n : norms_) n->write_step(step);
  for (Dropout* d : dropouts_) d->write_step(step);
}

void Model::set_step(int64_t step) {
  write_step(step);
  scalars_->upload();
}

void Model::add_norm(Sequential& into, int64_t channels, const ModelConfig& c, Device device) {
  if (c.norm == NormKind::BatchNorm) norms_.push_back(&into.emplace<BatchNorm>(channels, c.norm_config, device));
  if (c.norm == NormKind::BatchRenorm) norms_.push_back(&into.emplace<BatchRenorm>(channels, c.norm_config, device));
  if (c.norm != NormKind::None) norms_.back()->use_step_scalars(scalars_);
}

void Model::add_dropout(Sequential& into, float p, uint32_t id, const ModelConfig& c) {
  Dropout& d = into.emplace<Dropout>(p, id, c.seed);
  d.set_first_example(c.first_example);
  d.use_step_scalars(scalars_);
  dropouts_.push_back(&d);
}

int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

ClipFractions Model::clip_fractions() const {
  ClipFractions total;
  for (const BatchRenorm* n : norms_) {
    const ClipFractions f = n->last_clip_fractions();
    total.r += f.r / float(norms_.size());
    total.d += f.d / float(norms_.size());
  }
  return total;
}

void Model::set_eval_batch_stats(bool on) {
  for (BatchRenorm* n : norms_) n->set_eval_batch_stats(on);
}

std::vector<double> Model::train_inference_gaps(const Tensor& x) {
  NoGradGuard no_grad;
  train(false);
  for (BatchRenorm* n : norms_) n->set_gap_probe(true);
  forward(x);
  std::vector<double> gaps;
  for (BatchRenorm* n : norms_) {
    n->set_gap_probe(false);
    gaps.push_back(n->last_gap());
  }
  train(true);
  return gaps;
}

}  // namespace renorm
