// Seeded initializers (Philox: the same values on CPU and CUDA for the same seed).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace renorm {

enum class Init { HeNormal, HeUniform, GlorotUniform };

// Fills w in place; fan_in / fan_out are the caller's (conv: R·S·C and R·S·K; linear: in and out).
// He normal: N(0, 2/fan_in); He uniform: U(±sqrt(6/fan_in)); Glorot uniform: U(±sqrt(6/(fan_in+fan_out))).
void initialize(Tensor& w, Init kind, int64_t fan_in, int64_t fan_out, uint64_t seed);
Init parse_init(const std::string& name);  // "he-normal", "he-uniform", "glorot-uniform"

}  // namespace renorm
