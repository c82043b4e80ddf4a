// The interface the trainer, the reproduction and the benchmarks train through (issue 24): a network
// is a Sequential body (its top-level layers, for per-layer timing) and its norm layers, which the
// model exposes for the clipping schedule, the clip fractions and the train/inference gap. The models
// (models/cifar_cnn.h, models/resnet.h) are built by models/factory.h alone; nothing in train/ or data/
// names one (scripts/check_floors.py).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "layers/batch_renorm.h"
#include "layers/layers.h"
#include "tensor/step_scalars.h"
#include "runtime/dtype.h"
#include "runtime/named_enum.h"

namespace renorm {

enum class ModelKind { CifarCnn, ResNet20 };
const EnumNames<ModelKind>& enum_names(ModelKind);  // "cifar-cnn", "resnet20"

// The numbers a step computes in (issue 25). Fp32: float32 throughout. Bf16: the activations between
// the layers in bfloat16 — the convolutions and GEMMs read bfloat16 and accumulate in float32, the norm
// layers compute their statistics, r, d and moving averages in float32 and write bfloat16 — while the
// weights, the optimizer's state, the gradients of the weights and the loss stay float32. Tf32 (issue
// 26): float32 throughout, but the convolutions and GEMMs multiply operands reduced to TF32 (runtime/tf32.h:
// cuDNN's and cuBLAS's tensor-op math on CUDA, rounded copies on the CPU).
enum class Precision { Fp32, Bf16, Tf32 };
const EnumNames<Precision>& enum_names(Precision);  // "fp32", "bf16", "tf32"
DType activation_dtype(Precision p);
MatMath matmul_math(Precision p);  // how the convolutions and GEMMs multiply
// The --precision flag's help, for every program that takes one.
inline constexpr const char* kPrecisionHelp =
    "fp32 | bf16 (bfloat16 activations, float32 weights, statistics and loss) | tf32 (float32, the convolutions' and "
    "GEMMs' operands reduced to TensorFloat-32)";

// What any model is built from: the input, the norm, the seed; the fields one model alone reads say so.
struct ModelConfig {
  ModelKind kind = ModelKind::CifarCnn;
  int64_t height = 32, width = 32, channels = 3, classes = 10;
  NormKind norm = NormKind::BatchRenorm;
  NormConfig norm_config;  // microbatch (concrete), eps, alpha, the clipping schedule
  uint64_t seed = 1;
  int64_t first_example = 0;  // data parallel: this rank's first example in the whole minibatch (dropout)
  float dropout[3] = {0.2f, 0.3f, 0.4f};  // cifar-cnn: after each of its three blocks
  Precision precision = Precision::Fp32;
};

class Model : public Module {
 public:
  Model(const ModelConfig& config, Device device)
      : activations_(activation_dtype(config.precision)), scalars_(std::make_shared<StepScalars>(device)) {}
  // Logits [B, classes], float32 whatever the activations (the loss reads float32); x float32.
  Tensor forward(const Tensor& x) override { return body_.forward(x.to(activations_)).to(DType::F32); }
  DType activations() const { return activations_; }  // the storage between the layers
  void collect_parameters(const std::string& prefix, NamedTensors& out) const override { body_.collect_parameters(prefix, out); }
  void collect_buffers(const std::string& prefix, NamedTensors& out) const override { body_.collect_buffers(prefix, out); }
  void train(bool on = true) override;

  // The per-step scalars of the norm layers (their bounds) and dropouts (their step), one block on the
  // model's device; an optimizer given it (Sgd/Adam's `scalars`) keeps its words there too, so one copy
  // a step moves them all (tensor/step_scalars.h).
  const std::shared_ptr<StepScalars>& step_scalars() const { return scalars_; }
  // Training step `step` (0-based) next: every layer's values written to the block's host words, which
  // the caller uploads once (the trainer, after the optimizer's write_step) before the step runs.
  // Nothing in forward advances the step: the model's owner calls this before every step.
  void write_step(int64_t step);
  // write_step, then the block uploaded (a caller driving the model alone; on resume).
  void set_step(int64_t step);
  // The norm layers in forward order (empty with NormKind::None), and how many the architecture places
  // (the same with any norm: metrics.csv's gap columns).
  const std::vector<BatchRenorm*>& norms() const { return norms_; }
  virtual int64_t norm_positions() const = 0;
  // Mean over the norm layers of the fraction of r and d clipped in the last step (host sync: logging).
  ClipFractions clip_fractions() const;
  // Eval mode with the norm layers normalizing over the batch's own microbatches, as in training (dropout
  // off, moving averages untouched): BatchRenorm::set_eval_batch_stats on every norm layer.
  void set_eval_batch_stats(bool on);
  // Per norm layer, on the batch x in eval mode: ||y_train − y_infer|| / ||y_infer||, y_train its output
  // with the batch's statistics (as in training), y_infer with the moving averages (inference), each
  // layer fed the inference-mode network's input (BatchRenorm::set_gap_probe). Leaves the model in train
  // mode, nothing moved.
  std::vector<double> train_inference_gaps(const Tensor& x);
  int64_t parameter_count() const;  // trainable values
  // The top-level layers in order, for per-layer timing.
  const Sequential& body() const { return body_; }

 protected:
  // Adds a norm layer of `kind` over `channels` to `into` (nothing for NormKind::None) and lists it.
  void add_norm(Sequential& into, int64_t channels, const ModelConfig& c, Device device);
  // Adds a dropout of probability p with stream id `id` to `into` and lists it.
  void add_dropout(Sequential& into, float p, uint32_t id, const ModelConfig& c);
  DType activations_;
  std::shared_ptr<StepScalars> scalars_;
  Sequential body_;
  std::vector<BatchRenorm*> norms_;
  std::vector<Dropout*> dropouts_;
};

}  // namespace renorm
