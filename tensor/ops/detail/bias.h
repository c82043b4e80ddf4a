// Library-internal: the epilogue (bias, then ReLU: kernels/nn.h) shared by conv2d, linear, bias_add and
// bias_relu, defined in tensor/ops/nn.cpp. Not installed.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace renorm::detail {

// Checks that bias (when defined) is [k] on x's device; ShapeError naming op otherwise.
void check_bias(const char* op, const Tensor& x, const Tensor& bias, int64_t k);
// The backward of the epilogue on output y (rows of k channels) for incoming gradient g, in one pass:
// dz, the gradient before the epilogue (g itself without ReLU), and db[c] = Σ_r dz[r,c] (undefined
// without bias).
struct EpilogueGrads {
  Tensor dz, db;
};
EpilogueGrads epilogue_grads(const Tensor& y, const Tensor& g, int64_t k, bool relu, bool bias);

}  // namespace renorm::detail
