// Small NN ops (kernels/nn.h): bias, max pooling, dropout, softmax cross-entropy. Images are NHWC.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace renorm {

// y = x + bias over the last dimension: x [..., C], bias [C] (the bias step of conv2d and linear).
Tensor bias_add(const Tensor& x, const Tensor& bias);
// y = relu(x + bias), one pass forward and one backward (the ReLU mask and the bias gradient together).
Tensor bias_relu(const Tensor& x, const Tensor& bias);
// x: [B,H,W,C] -> [B,OH,OW,C], square window k, the given stride, no padding; the first maximum of a
// window gets the gradient.
Tensor max_pool2d(const Tensor& x, int64_t k = 2, int64_t stride = 2);
// Inverted dropout with probability p: the mask is a pure function of (seed, layer, step, element).
// `first_example`: the index of x's first example in the whole minibatch (a data-parallel shard), so
// that K shards draw exactly the mask of the whole minibatch.
Tensor dropout(const Tensor& x, float p, uint64_t seed, uint32_t layer, uint32_t step, int64_t first_example = 0);
// The same with the step read, as the kernels run, from `step_word`: one 32-bit word on x's device (a
// float32 tensor of one element holding the step's bits: tensor/step_scalars.h), so one captured graph
// serves every step. The backward reads it too: it must not change between a forward and its backward.
Tensor dropout(const Tensor& x, float p, uint64_t seed, uint32_t layer, const Tensor& step_word, int64_t first_example = 0);
// Mean over the batch of -log softmax(logits)[label]; logits [B,K], labels [B] (class index as float).
// A label outside [0,K) makes the loss NaN (caught by the trainer), never a stray memory read.
// correct (optional): [B], 1 where argmax(logits) == label.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor* correct = nullptr);


}  // namespace renorm
