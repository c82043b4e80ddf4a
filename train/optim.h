// Optimizers (SGD with momentum / Nesterov / weight decay, Adam) and learning-rate schedules. A step is
// one fused kernel per 32 parameter tensors (kernels/optim.h): the constant hyperparameters passed by
// value, the step's learning rate and bias corrections read from a step-scalar block on the device
// (tensor/step_scalars.h), so the same launches — or one captured graph — serve every step. No
// per-element host work and no host-device sync. State tensors are exposed by name for checkpoints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "layers/module.h"
#include "runtime/named_enum.h"
#include "tensor/step_scalars.h"

namespace renorm {

class Optimizer {
 public:
  // `scalars`: the block the step's learning rate and bias corrections go to, on the parameters' device
  // (a model's, Model::step_scalars(): one copy a step moves them with the layers'); null: its own.
  Optimizer(NamedTensors params, float lr, std::shared_ptr<StepScalars> scalars);
  virtual ~Optimizer() = default;
  // One step: write_step(), the block's upload, apply(). Uses each parameter's .grad (parameters without
  // a gradient are skipped).
  void step();
  // The halves of step() for a block shared with others (the trainer: every owner writes its words, the
  // block is uploaded once, then the step runs eagerly or as a replayed graph). write_step advances
  // steps() and writes this step's values on the host; apply queues the update, which reads them on the device.
  void write_step();
  virtual void apply() = 0;
  void zero_grad();
  void set_lr(float lr) { lr_ = lr; }
  float lr() const { return lr_; }
  int64_t steps() const { return steps_; }
  void set_steps(int64_t s) { steps_ = s; }
  // The state, named "<param>.<slot>", for checkpoints.
  NamedTensors named_state() const;

 protected:
  NamedTensors params_;
  std::vector<std::vector<Tensor>> state_;  // per parameter, per slot (zeros like the parameter)
  std::vector<std::string> slots_;
  float lr_;
  int64_t steps_ = 0;
  std::shared_ptr<StepScalars> scalars_;
  int word_ = 0;  // this optimizer's 3 words: lr, 1 - beta1^t, 1 - beta2^t (SGD: lr alone)
  void make_state(std::vector<std::string> slots);
  const float* step_words() const { return scalars_->view(word_, 3).data(); }
  virtual void write_rates(int64_t t) = 0;  // the words of step t (1-based)
  // run(device, list) over the parameters that have a gradient, kernels::kTensorList at a time (one
  // launch each on CUDA), in parameter order.
  template <class Run>
  void for_each_list(Run&& run);
};

struct SgdOptions {
  float momentum = 0.9f, weight_decay = 0.f;
  bool nesterov = false;
  void validate() const;  // ConfigError "sgd: momentum ..." / "sgd: weight-decay ..." (renorm-train's flag names)
};

class Sgd : public Optimizer {
 public:
  Sgd(NamedTensors params, float lr, SgdOptions options = {}, std::shared_ptr<StepScalars> scalars = nullptr);
  void apply() override;

 private:
  void write_rates(int64_t t) override;
  SgdOptions o_;
};

struct AdamOptions {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.f;
  void validate() const;  // ConfigError "adam: ..." naming the field (beta1 is renorm-train's --momentum)
};

class Adam : public Optimizer {
 public:
  Adam(NamedTensors params, float lr, AdamOptions options = {}, std::shared_ptr<StepScalars> scalars = nullptr);
  void apply() override;

 private:
  void write_rates(int64_t t) override;
  AdamOptions o_;
};

// Learning rate at a step: a linear warmup from 0 over warmup_steps, then constant, step decay
// (× gamma every step_size steps) or cosine decay to min_lr at total_steps.
struct LrSchedule {
  enum class Kind { Constant, Step, Cosine };

  Kind kind = Kind::Constant;
  float base = 0.f;  // set by the caller (the run's TrainConfig::lr)
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;  // cosine
  int64_t step_size = 1;    // step
  float gamma = 0.1f;       // step
  float min_lr = 0.f;       // cosine
  float at(int64_t step) const;
};

const EnumNames<LrSchedule::Kind>& enum_names(LrSchedule::Kind);  // "constant", "step", "cosine"

enum class OptimizerKind { Sgd, Adam };
const EnumNames<OptimizerKind>& enum_names(OptimizerKind);  // "sgd", "adam"

}  // namespace renorm
