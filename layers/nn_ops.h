// Differentiable NN ops (the modules in layers/layers.h wrap these). Images are NHWC.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace renorm {

// x: [B,H,W,C]; w: [K,R,S,C]; bias: [K] or undefined; y: [B,OH,OW,K].
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 1, int64_t pad = 0);
// x: [B,in]; w: [out,in]; bias: [out] or undefined; y = x·wᵀ + bias: [B,out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias);
// y = x + bias over the last dimension: x [..., C], bias [C] (the bias step of conv2d and linear).
Tensor bias_add(const Tensor& x, const Tensor& bias);
// x: [B,H,W,C] -> [B,OH,OW,C], square window k, the given stride, no padding; the first maximum of a
// window gets the gradient.
Tensor max_pool2d(const Tensor& x, int64_t k = 2, int64_t stride = 2);
// Inverted dropout with probability p: the mask is a pure function of (seed, layer, step, element).
Tensor dropout(const Tensor& x, float p, uint64_t seed, uint32_t layer, uint32_t step);
// Mean over the batch of -log softmax(logits)[label]; logits [B,K], labels [B] (class index as float).
// A label outside [0,K) makes the loss NaN (caught by the trainer), never a stray memory read.
// correct (optional): [B], 1 where argmax(logits) == label.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor* correct = nullptr);

}  // namespace renorm
