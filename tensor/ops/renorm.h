// Batch Renorm as differentiable ops (the layer in layers/batch_renorm.h wraps these). x is [B,H,W,C]
// or [B,C] (channels last); statistics are per (microbatch n, channel c), microbatch n being examples
// [n·M, (n+1)·M). Math and numerics: kernels/renorm.h.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"
#include "kernels/renorm.h"

namespace renorm {

struct RenormOptions {
  int64_t microbatch = 0;  // M: must divide B; 0 means M = B (the whole minibatch)
  float eps = 1e-3f;
  float alpha = 0.01f;
  float rmax = 1.f;
  float dmax = 0.f;
  bool update_running = true;
  // Gradient checks only: when defined ((N,C) each), r and d are taken from here instead of computed.
  Tensor fixed_r, fixed_d;
};

// What the forward saved for backward, each (N,C); clip_counts: (2) — r and d clipped, counted over (n,c).
struct RenormSaved {
  Tensor mean, invstd, r, d, clip_counts;
};

// The (N,R,C) view of x for microbatch size M (0: M = B); throws ShapeError/ConfigError naming the
// shape and M when x is not channels-last of rank 2..5 or M does not divide B.
kernels::NormShape norm_shape(const Tensor& x, int64_t microbatch, const char* op);

// Training forward: y, and the moving averages running_mean/running_std ((C) each) updated in place
// (when options.update_running). Differentiable in x, gamma, beta with r and d held constant.
Tensor batch_renorm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                          const Tensor& running_std, const RenormOptions& options, RenormSaved* saved = nullptr);

// Inference (eval mode): y = γ·(x-μ)/σ + β with the moving averages. Not recorded by autograd: a
// backward through it throws "does not require grad" rather than returning a wrong gradient.
Tensor batch_renorm_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                              const Tensor& running_std);

// Mean and biased variance per (n,c), each (N,C).
void microbatch_moments(const Tensor& x, int64_t microbatch, Tensor* mean, Tensor* var);

}  // namespace renorm
