// The layer modules: Conv2d, Linear, ReLU, MaxPool2d, Flatten, GlobalAvgPool, Dropout, Sequential. Each holds its
// parameters as tensors on its device (the tensor owns the placement) and forwards to the ops in tensor/ops.h.
#pragma once
#include <memory>
#include <vector>

#include "layers/init.h"
#include "layers/module.h"
#include "runtime/tf32.h"
#include "tensor/step_scalars.h"

namespace renorm {

struct ConvOptions {
  int64_t stride = 1, pad = 0;
  bool bias = true;
  Init init = Init::HeNormal;
  uint64_t seed = 0;
  bool relu = false;  // y = relu(conv + bias), fused into the convolution (tensor/ops/conv.h)
  MatMath math = MatMath::Fp32;  // Tf32: operands reduced to TF32 (runtime/tf32.h)
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, ConvOptions options = {},
         Device device = Device::CPU);
  Tensor forward(const Tensor& x) override;
  void collect_parameters(const std::string& prefix, NamedTensors& out) const override;
  const ConvOptions& options() const { return options_; }
  Tensor weight;  // [K,R,S,C]
  Tensor bias;    // [K] or undefined
 private:
  ConvOptions options_;
};

class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias = true, Init init = Init::GlorotUniform, uint64_t seed = 0,
         Device device = Device::CPU, MatMath math = MatMath::Fp32);
  Tensor forward(const Tensor& x) override;
  void collect_parameters(const std::string& prefix, NamedTensors& out) const override;
  MatMath math() const { return math_; }
  Tensor weight;  // [out,in]
  Tensor bias;    // [out] or undefined
 private:
  MatMath math_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel = 2, int64_t stride = 2) : kernel_(kernel), stride_(stride) {}
  Tensor forward(const Tensor& x) override;

 private:
  int64_t kernel_, stride_;
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;  // [B, ...] -> [B, prod(...)]
};

class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override;  // [B,H,W,C] -> [B,C] (tensor/ops/residual.h)
};

// Inverted dropout; identity in eval mode. The mask of a training forward is keyed by (seed, layer id,
// step), the step read on the device from a 32-bit word. On its own the layer advances the step on each
// training forward (set_step restores it on resume); given a model's step-scalar block
// (use_step_scalars, tensor/step_scalars.h: as BatchRenorm's), the block's owner writes each step
// (write_step) and the forward changes no host state.
class Dropout : public Module {
 public:
  Dropout(float p, uint32_t layer_id, uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  int64_t step() const { return step_; }
  void set_step(int64_t step) { write_step(step); }
  void use_step_scalars(std::shared_ptr<StepScalars> scalars);
  void write_step(int64_t step);
  float p() const { return p_; }
  // The index of this process's first example in the whole minibatch (data-parallel shard).
  void set_first_example(int64_t first) { first_example_ = first; }

 private:
  float p_;
  uint32_t layer_;
  uint64_t seed_;
  int64_t step_ = 0, first_example_ = 0;
  StepWords words_{1, "dropout"};  // the step
};

class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> m);
  template <class M, class... Args>
  M& emplace(Args&&... args) {
    auto m = std::make_shared<M>(std::forward<Args>(args)...);
    add(m);
    return *m;
  }
  Tensor forward(const Tensor& x) override;
  void collect_parameters(const std::string& prefix, NamedTensors& out) const override;
  void collect_buffers(const std::string& prefix, NamedTensors& out) const override;
  void train(bool on = true) override;
  const std::vector<std::shared_ptr<Module>>& children() const { return children_; }

 private:
  std::vector<std::shared_ptr<Module>> children_;
};

}  // namespace renorm
