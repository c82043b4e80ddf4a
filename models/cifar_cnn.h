// The CIFAR CNN of the paper reproduction: three blocks of [conv3x3-relu-norm, conv3x3-relu-norm,
// maxpool2, dropout .2/.3/.4] with 32/64/128 channels, then dense(10); each ReLU fused into its
// convolution (ConvOptions::relu). Input [B,H,W,C]: 32x32x3
// (CIFAR-10) or 28x28x1 (Fashion-MNIST); any H, W >= 8.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/batch_renorm.h"
#include "runtime/named_enum.h"
#include "layers/layers.h"

namespace renorm {

enum class NormKind { None, BatchNorm, BatchRenorm };
const EnumNames<NormKind>& enum_names(NormKind);  // "none", "bn", "brn"
NormKind parse_norm(const std::string& name);
const char* norm_name(NormKind k);

struct CnnConfig {
  int64_t height = 32, width = 32, channels = 3, classes = 10;
  NormKind norm = NormKind::BatchRenorm;
  NormConfig norm_config;  // microbatch, eps, alpha, clipping schedule
  float dropout[3] = {0.2f, 0.3f, 0.4f};
  uint64_t seed = 1;
  int64_t first_example = 0;  // data parallel: this rank's first example in the whole minibatch (dropout)
};

class CifarCnn : public Module {
 public:
  CifarCnn(const CnnConfig& config, Device device);
  Tensor forward(const Tensor& x) override;  // logits [B, classes]
  void collect_parameters(const std::string& prefix, NamedTensors& out) const override;
  void collect_buffers(const std::string& prefix, NamedTensors& out) const override;
  void train(bool on = true) override;

  // The training step, for the clipping schedule and the dropout streams (restored on resume).
  void set_step(int64_t step);
  const std::vector<BatchRenorm*>& norms() const { return norms_; }
  const std::vector<Dropout*>& dropouts() const { return dropouts_; }
  // Mean over the norm layers of the fraction of r and d clipped in the last step (host sync: logging).
  ClipFractions clip_fractions() const;
  // Eval mode with the norm layers normalizing over the batch's own microbatches, as in training (dropout
  // off, moving averages untouched): BatchRenorm::set_eval_batch_stats on every norm layer.
  void set_eval_batch_stats(bool on);
  // Per norm layer, on the batch x in eval mode: ||y_train - y_infer|| / ||y_infer||, y_train its output
  // with the batch's statistics (as in training), y_infer with the moving averages (inference), each
  // layer fed the inference-mode network's input. Leaves the model in train mode, nothing moved.
  std::vector<double> train_inference_gaps(const Tensor& x);
  // The modules in order, for per-layer timing.
  const Sequential& body() const { return body_; }

 private:
  Sequential body_;
  std::vector<BatchRenorm*> norms_;
  std::vector<Dropout*> dropouts_;
};

}  // namespace renorm
