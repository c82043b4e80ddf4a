// renorm's float -> bfloat16 conversion (runtime/bf16.h: a bit trick, what the CPU runs) against the
// emulator's __float2bfloat16_rn (emu/include/cuda_bf16.h: the nearer neighbour by distances in double,
// the device's cvt.rn.bf16.f32 semantics): the same bfloat16 for every upper half-word with lower
// halves at and around the tie, both signs, every class (zeros, subnormals, normals, the overflow edge,
// infinities, NaNs).
#include <catch2/catch.hpp>

#include <cstring>

#include <cuda_bf16.h>

#include "runtime/bf16.h"

TEST_CASE("bf16: renorm's conversion is the device's, bit for bit", "[cuda][bf16]") {
  int64_t checked = 0, differ = 0;
  for (uint32_t hi = 0; hi <= 0xffffu; ++hi)
    for (uint32_t lo : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xc3a5u, 0xffffu}) {
      const uint32_t u = hi << 16 | lo;
      float f;
      std::memcpy(&f, &u, sizeof f);
      const unsigned short device = __bfloat16_as_ushort(__float2bfloat16_rn(f));
      if (device != renorm::float_to_bf16(f) && ++differ <= 5) {
        INFO("float bits " << std::hex << u);
        CHECK(device == renorm::float_to_bf16(f));
      }
      ++checked;
    }
  CHECK(checked == 7 * 65536);
  CHECK(differ == 0);
  const __nv_bfloat162 two = __floats2bfloat162_rn(1.f, -0.5f);
  CHECK(__low2float(two) == 1.f);
  CHECK(__high2float(two) == -0.5f);
}
