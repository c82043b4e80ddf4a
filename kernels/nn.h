// Small NN kernels: the bias + ReLU epilogue, max pooling, dropout, softmax cross-entropy. Same
// signatures on cpu:: and cuda::; per-element formulas shared below.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/elementwise.h"
#include "runtime/hd.h"
#include "runtime/philox.h"

namespace renorm::kernels {

// What a layer does to its output rows [rows, C] before storing them: + bias[channel] (when bias is
// set), then ReLU (when asked). The convolution runs it in its own epilogue (kernels/conv.h).
struct Epilogue {
  const float* bias = nullptr;  // [C] on the kernel's device, or nullptr
  bool relu = false;
};
RENORM_HD float epilogue_value(float z, const Epilogue& ep, int64_t channel) {
  if (ep.bias) z += ep.bias[channel];
  return ep.relu ? relu_value(z) : z;
}
// Its backward, from the stored output y (y > 0 exactly where the input was, NaN included: both give 0):
// dz = relu_grad(y, dy) when y is given (ReLU), else dy.
template <class T>
RENORM_HD float epilogue_grad(const T* y, const T* dy, int64_t i) {
  return y ? relu_grad(widen(y[i]), widen(dy[i])) : widen(dy[i]);
}

struct PoolShape {
  int64_t b, h, w, c;  // input NHWC
  int64_t k, stride;   // square window, no padding
  RENORM_HD int64_t oh() const { return (h - k) / stride + 1; }
  RENORM_HD int64_t ow() const { return (w - k) / stride + 1; }
  // Index in x of element (u, v) of the window of output (b, i, j), channel ch.
  RENORM_HD int64_t input_index(int64_t n, int64_t i, int64_t j, int64_t u, int64_t v, int64_t ch) const {
    return ((n * h + i * stride + u) * w + j * stride + v) * c + ch;
  }
};

// The max-pool window scan, one rule for both backends: start at -inf with offset 0, visit the window's
// elements in row-major order (offset u·k + v), and the first maximum wins. A NaN is the maximum (the
// first NaN of the window, whose offset takes the gradient): it propagates, as in PyTorch.
RENORM_HD void maxpool_start(float& best, float& arg) {
  best = -INFINITY;
  arg = 0.f;
}
RENORM_HD void maxpool_take(float value, float offset, float& best, float& arg) {
  const bool take = (value > best) | ((value != value) & (best == best));  // no branch: vectorizes
  best = take ? value : best;
  arg = take ? offset : arg;
}
// The gradient that window offset `offset` of an output receives: all of dy when it holds the max.
RENORM_HD float maxpool_grad(float arg, float offset, float dy) { return arg == offset ? dy : 0.f; }
// Where the gradient of output (b, i, j, ch) goes: the input element its window offset `arg` names.
RENORM_HD int64_t maxpool_source(const PoolShape& ps, int64_t n, int64_t i, int64_t j, int64_t ch, float arg) {
  const int64_t kk = static_cast<int64_t>(arg);
  return ps.input_index(n, i, j, kk / ps.k, kk % ps.k, ch);
}

// The gradient of input element (n, y, x, ch): the sum, over the windows that hold it in (i, j) order
// (the order the CPU's scatter adds them), of what each routes to it (a gather: no atomics, no zero fill).
template <class T>
RENORM_HD float maxpool_input_grad(const PoolShape& ps, const T* dy, const float* argmax, int64_t n, int64_t y,
                                   int64_t x, int64_t ch) {
  const int64_t oh = ps.oh(), ow = ps.ow();
  const int64_t i0 = y >= ps.k ? (y - ps.k) / ps.stride + 1 : 0, i1 = y / ps.stride < oh - 1 ? y / ps.stride : oh - 1;
  const int64_t j0 = x >= ps.k ? (x - ps.k) / ps.stride + 1 : 0, j1 = x / ps.stride < ow - 1 ? x / ps.stride : ow - 1;
  float g = 0.f;
  for (int64_t i = i0; i <= i1; ++i)
    for (int64_t j = j0; j <= j1; ++j) {
      const int64_t o = ((n * oh + i) * ow + j) * ps.c + ch;
      g += maxpool_grad(argmax[o], float((y - i * ps.stride) * ps.k + (x - j * ps.stride)), widen(dy[o]));
    }
  return g;
}

// Dropout's keep decisions: element i of the step `step` of layer `layer` under `seed` is kept when word
// i % 4 of Philox call i / 4 (all 128 bits of each call used, 24 per decision), as a uniform in (0, 1],
// exceeds p. A pure function of those four, so CPU and CUDA masks are identical and backward recomputes
// the mask instead of storing it. dropout_keep4: bit j for element 4q + j.
RENORM_HD uint32_t dropout_keep4(uint64_t seed, uint32_t layer, uint32_t step, int64_t q, float p) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(q), static_cast<uint32_t>(static_cast<uint64_t>(q) >> 32), layer,
                                  step ^ 0x9E3779B9u, seed);
  uint32_t keep = 0;
  for (int j = 0; j < 4; ++j) keep |= static_cast<uint32_t>(philox_to_unit(r.v[j]) > p) << j;
  return keep;
}

RENORM_HD bool dropout_keep(uint64_t seed, uint32_t layer, uint32_t step, int64_t i, float p) {
  return (dropout_keep4(seed, layer, step, i >> 2, p) >> (i & 3)) & 1u;
}

// One element of inverted dropout: kept elements scaled by 1/(1-p), the rest 0.
RENORM_HD float dropout_value(float x, uint32_t keep, float scale) { return keep ? x * scale : 0.f; }

// Inverted dropout of the elements of stream group q (stream elements 4q .. 4q+3) that fall in the
// tensor, whose element 0 is stream element `first`: y = keep ? x * scale : 0.
template <class T>
RENORM_HD void dropout_group(const T* x, T* y, int64_t n, int64_t first, int64_t q, float p, float scale,
                             uint64_t seed, uint32_t layer, uint32_t step) {
  const uint32_t keep = dropout_keep4(seed, layer, step, q, p);
  for (int j = 0; j < 4; ++j) {
    const int64_t i = 4 * q + j - first;
    if (i >= 0 && i < n) narrow(dropout_value(widen(x[i]), (keep >> j) & 1u, scale), &y[i]);
  }
}

// The stream groups a tensor of n elements starting at stream element `first` touches: [q0, q1).
RENORM_HD int64_t dropout_first_group(int64_t first) { return first >> 2; }
RENORM_HD int64_t dropout_end_group(int64_t n, int64_t first) { return (first + n + 3) >> 2; }

// One example of softmax cross-entropy: probs p[k], loss -log p[label] (NaN for a label outside [0,k)),
// correct = argmax == label. Max-shifted, accumulated in double.
RENORM_HD void softmax_xent_row(const float* z, float label_f, int64_t k, float* p, float* loss, float* correct) {
  int64_t arg = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > z[arg]) arg = j;
  const float zmax = z[arg];
  double total = 0.0;
  for (int64_t j = 0; j < k; ++j) total += exp(double(z[j] - zmax));
  const int64_t label = int64_t(label_f);
  for (int64_t j = 0; j < k; ++j) p[j] = float(exp(double(z[j] - zmax)) / total);
  const bool valid = label >= 0 && label < k && label_f == float(label);
  *loss = valid ? float(log(total) - double(z[label] - zmax)) : NAN;
  *correct = arg == label ? 1.f : 0.f;
}

// d loss / d logit j of one example: (p_j - [j == label]) · g / B, with scale = g / B.
RENORM_HD float softmax_xent_grad(float prob, float label_f, int64_t j, float scale) {
  return (prob - (static_cast<int64_t>(label_f) == j ? 1.f : 0.f)) * scale;
}

// The epilogue, max pooling and dropout in either storage T (float or bf16_bits, kernels/storage.h);
// the bias, its gradient db and argmax float.
#define RENORM_DECLARE_NN_T(P, T)                                                                     \
  /* y[r,c] = epilogue_value(y[r,c], ep, c), in place */                                              \
  P void epilogue_forward(T* y, int64_t rows, int64_t c, const Epilogue& ep);                         \
  /* in one pass: dz[r,c] = epilogue_grad(y, dy, r·C+c) (y: the forward's output, nullptr without     \
     ReLU; dz required with y, unused without) and db[c] = Σ_r dz[r,c] (overwritten; skipped if null) */ \
  P void epilogue_backward(const T* y, const T* dy, T* dz, float* db, int64_t rows, int64_t c);        \
  /* y: [B,OH,OW,C]; argmax: the window offset (0..k²-1) of each max, as float */                    \
  P void maxpool_forward(const T* x, const PoolShape& ps, T* y, float* argmax);                       \
  P void maxpool_backward(const T* dy, const float* argmax, const PoolShape& ps, T* dx);              \
  /* inverted dropout: y = keep ? x/(1-p) : 0 (also the backward, with dy for x); element i draws    \
     the stream's element first + i (a data-parallel rank's shard starts inside the whole batch) */   \
  P void dropout_apply(const T* x, T* y, int64_t n, int64_t first, float p, uint64_t seed, uint32_t layer, \
                       const uint32_t* step); /* step: one word on the kernel's device, read when it runs */

#define RENORM_DECLARE_NN                                                                             \
  RENORM_DECLARE_NN_T(template <class T>, T)                                                         \
  /* logits [B,K], labels [B] (class index as float); loss[b] = -log softmax(logits)[b, label];      \
     probs [B,K]; correct[b] = 1 when argmax == label */                                              \
  void softmax_xent_forward(const float* logits, const float* labels, int64_t b, int64_t k, float* loss, \
                            float* probs, float* correct);                                            \
  /* dlogits = (probs - onehot(labels)) · g[0] / B, g a device scalar (no host sync) */               \
  void softmax_xent_backward(const float* probs, const float* labels, const float* g, int64_t b, int64_t k, \
                             float* dlogits);

namespace cpu {
RENORM_DECLARE_NN
}
namespace cuda {
RENORM_DECLARE_NN
}

}  // namespace renorm::kernels
