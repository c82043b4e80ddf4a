// Philox4x32-10 (Salmon et al., SC'11): a counter-based generator. Element i of a stream keyed by
// `seed` is a pure function of (seed, i), so CPU and CUDA produce identical uniforms for the same seed
// and any element can be drawn independently (dropout masks, initializers, shuffles).
#pragma once
#include <cmath>
#include <cstdint>

#include "runtime/hd.h"

namespace renorm {

struct Philox4 {
  uint32_t v[4];
};

RENORM_HD uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// ctr: 128-bit counter, key: 64-bit key.
RENORM_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint64_t key) {
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(0xD2511F53u, c0, &hi0);
    const uint32_t lo1 = philox_mulhilo(0xCD9E8D57u, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// A uniform float in (0, 1]: 24 random bits, exact in float32 on every device.
RENORM_HD float philox_to_unit(uint32_t bits) { return (static_cast<float>(bits >> 8) + 1.0f) * (1.0f / 16777216.0f); }

// Element `index` of the uniform stream `seed`, in (0, 1]. `stream` separates independent uses of one seed.
RENORM_HD float philox_uniform(uint64_t seed, uint64_t index, uint32_t stream = 0) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), stream, 0u, seed);
  return philox_to_unit(r.v[0]);
}

// Element `index` of the standard-normal stream `seed` (Box-Muller in double, so CPU and CUDA round alike).
RENORM_HD float philox_normal(uint64_t seed, uint64_t index, uint32_t stream = 0) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), stream, 1u, seed);
  const double u1 = philox_to_unit(r.v[0]), u2 = philox_to_unit(r.v[1]);
  return static_cast<float>(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

}  // namespace renorm
