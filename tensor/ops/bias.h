// Library-internal: the bias step shared by conv2d and linear (and bias_add), defined in
// tensor/ops/nn.cpp. Not installed.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace renorm::detail {

// Checks that bias (when defined) is [k] on x's device; ShapeError naming op otherwise.
void check_bias(const char* op, const Tensor& x, const Tensor& bias, int64_t k);
// db[c] = Σ_r g[r,c] over the rows of g viewed as (numel/k, k).
Tensor bias_grad_of(const Tensor& g, int64_t k);

}  // namespace renorm::detail
