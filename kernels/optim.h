// Fused optimizer updates over a list of parameter tensors (one launch for up to kTensorList tensors:
// multi-tensor apply, the list passed by value as the kernel's argument), one pass over (param, grad,
// state) each, the per-element rule shared by CPU and CUDA. Constant hyperparameters arrive as plain
// arguments; those that change every step (the learning rate, Adam's bias corrections) are read from
// memory on the kernel's device when it runs (tensor/step_scalars.h), so one captured graph serves every
// step. No host-device sync.
#pragma once
#include <cmath>
#include <cstdint>

#include "runtime/hd.h"

namespace renorm::kernels {

struct SgdParams {
  float momentum, weight_decay;
  bool nesterov;
  const float* step;  // {lr} of this step
};

struct AdamParams {
  float beta1, beta2, eps, weight_decay;  // weight decay added to the gradient (L2), as in Adam
  const float* step;                      // {lr, 1 - beta1^t, 1 - beta2^t} of this step t
};

// The words of SgdParams::step and AdamParams::step, read once per kernel.
struct StepRates {
  float lr, bias1, bias2;
};
RENORM_HD StepRates sgd_rates(const SgdParams& h) { return {h.step[0], 1.f, 1.f}; }
RENORM_HD StepRates adam_rates(const AdamParams& h) { return {h.step[0], h.step[1], h.step[2]}; }

// PyTorch's SGD: g += wd·p; v = μ·v + g; p -= lr·(nesterov ? g + μ·v : v).
RENORM_HD void sgd_update(float& p, float g, float& v, const SgdParams& h, const StepRates& s) {
  g += h.weight_decay * p;
  v = h.momentum * v + g;
  p -= s.lr * (h.nesterov ? g + h.momentum * v : v);
}

RENORM_HD void adam_update(float& p, float g, float& m, float& v, const AdamParams& h, const StepRates& s) {
  g += h.weight_decay * p;
  m = h.beta1 * m + (1.f - h.beta1) * g;
  v = h.beta2 * v + (1.f - h.beta2) * g * g;
  p -= s.lr * (m / s.bias1) / (sqrtf(v / s.bias2) + h.eps);
}

// Up to kTensorList tensors of one update: parameter, gradient, state (SGD: s0 the momentum; Adam: s0 m,
// s1 v) and size each. 32 tensors are 1.3 KB of kernel argument (CUDA's limit: 4 KB).
constexpr int kTensorList = 32;
struct TensorList {
  int count = 0;
  float* p[kTensorList];
  const float* g[kTensorList];
  float* s0[kTensorList];
  float* s1[kTensorList];
  int64_t n[kTensorList];
};

#define RENORM_DECLARE_OPTIM                                  \
  void sgd_step(const TensorList& list, const SgdParams& h); \
  void adam_step(const TensorList& list, const AdamParams& h);

namespace cpu {
RENORM_DECLARE_OPTIM
}
namespace cuda {
RENORM_DECLARE_OPTIM
}

}  // namespace renorm::kernels
