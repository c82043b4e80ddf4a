// Philox4x32-10 (Salmon et al., SC'11) in Random123's reference implementation: a counter-based
// generator. Element i of a stream keyed by `seed` is a pure function of (seed, i), so CPU and CUDA
// produce identical uniforms for the same seed and any element can be drawn independently (dropout
// masks, initializers, shuffles).
#pragma once
#include <cmath>
#include <cstdint>

#include "runtime/hd.h"

// Random123's functions are __device__ only under nvcc unless told otherwise; ours are host and device.
#if defined(__CUDACC__) && !defined(R123_CUDA_DEVICE)
#define R123_CUDA_DEVICE __host__ __device__
#endif
#include <Random123/philox.h>

namespace renorm {

struct Philox4 {
  uint32_t v[4];
};

// ctr: 128-bit counter, key: 64-bit key (low word first). The reference implementation, Random123's
// Philox4x32_R<10> (Debian librandom123-dev, usable in device code); tests/test_tensor.cpp checks it
// against the Random123 known-answer vectors.
RENORM_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint64_t key) {
  using Gen = r123::Philox4x32_R<10>;
  const Gen::ctr_type ctr = {{c0, c1, c2, c3}};
  const Gen::key_type k = {{static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32)}};
  const Gen::ctr_type r = Gen()(ctr, k);
  return Philox4{{r[0], r[1], r[2], r[3]}};
}

// A uniform float in (0, 1]: 24 random bits, exact in float32 on every device.
RENORM_HD float philox_to_unit(uint32_t bits) { return (static_cast<float>(bits >> 8) + 1.0f) * (1.0f / 16777216.0f); }

// Element `index` of the uniform stream `seed`, in (0, 1]. `stream` separates independent uses of one seed.
RENORM_HD float philox_uniform(uint64_t seed, uint64_t index, uint32_t stream = 0) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), stream, 0u, seed);
  return philox_to_unit(r.v[0]);
}

// Element `index` of the uniform stream `seed` scaled to (lo, hi]: bitwise the same on CPU and CUDA.
RENORM_HD float philox_uniform_in(uint64_t seed, uint64_t index, float lo, float hi) {
  return mul_add_unfused(lo, hi - lo, philox_uniform(seed, index));
}

// Element `index` of the standard-normal stream `seed` (Box-Muller in double, so CPU and CUDA round alike).
RENORM_HD float philox_normal(uint64_t seed, uint64_t index, uint32_t stream = 0) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), stream, 1u, seed);
  const double u1 = philox_to_unit(r.v[0]), u2 = philox_to_unit(r.v[1]);
  return static_cast<float>(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

// Element `index` of the normal stream `seed` with `mean` and `stddev`.
RENORM_HD float philox_normal_with(uint64_t seed, uint64_t index, float mean, float stddev) {
  return mul_add_unfused(mean, stddev, philox_normal(seed, index));
}

}  // namespace renorm
