// Comparing two tensors the way every parity test and benchmark of renorm does (after ggml's
// test-backend-ops): NaN/Inf first, then the normalized error ||actual - expected|| / ||expected||.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace renorm {

struct Comparison {
  int64_t non_finite = 0;         // elements that are NaN or Inf in either
  double normalized_error = 0.0;  // ||a - e|| / ||e||; ||a - e|| when e is all zeros
};

// ShapeError when the sizes differ. Copies both to the host (a sync: for tests and benchmarks).
Comparison compare(const std::vector<float>& expected, const std::vector<float>& actual);
Comparison compare(const std::vector<double>& expected, const std::vector<float>& actual);  // against a reference
Comparison compare(const Tensor& expected, const Tensor& actual);

}  // namespace renorm
