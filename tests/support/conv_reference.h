// The direct convolution in double that the CPU convolution tests check against (test_conv_engines.cpp,
// test_conv_bf16.cpp), and the shapes they run: strides, paddings, odd sizes, 1x1 and the CNN's layers.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/conv.h"

namespace renorm::test::conv {

using kernels::ConvShape;

inline std::vector<float> random_vector(int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = u(gen);
  return v;
}

// Calls f(x index, w index, y index) for every multiply-add of the convolution.
template <class F>
void each_tap(const ConvShape& cs, F f) {
  for (int64_t b = 0; b < cs.b; ++b)
    for (int64_t i = 0; i < cs.oh(); ++i)
      for (int64_t j = 0; j < cs.ow(); ++j)
        for (int64_t k = 0; k < cs.k; ++k)
          for (int64_t r = 0; r < cs.r; ++r)
            for (int64_t s = 0; s < cs.s; ++s) {
              const int64_t h = i * cs.stride_h - cs.pad_h + r, w = j * cs.stride_w - cs.pad_w + s;
              if (h < 0 || h >= cs.h || w < 0 || w >= cs.w) continue;
              for (int64_t c = 0; c < cs.c; ++c)
                f(((b * cs.h + h) * cs.w + w) * cs.c + c, ((k * cs.r + r) * cs.s + s) * cs.c + c,
                  ((b * cs.oh() + i) * cs.ow() + j) * cs.k + k);
            }
}

struct Case {
  const char* name;
  ConvShape cs;
};

inline const std::vector<Case> kCases = {
    {"3x3 pad 1", {3, 9, 7, 5, 6, 3, 3, 1, 1, 1, 1}},
    {"3x3 stride 2, no pad, odd input", {2, 11, 10, 16, 32, 3, 3, 2, 2, 0, 0}},
    {"5x5 pad 2", {2, 8, 8, 7, 5, 5, 5, 1, 1, 2, 2}},
    {"1x1", {2, 4, 5, 32, 24, 1, 1, 1, 1, 0, 0}},
    {"the CNN's first layer: 3 channels", {4, 32, 32, 3, 32, 3, 3, 1, 1, 1, 1}},
    {"the CNN's 64->64 layer", {4, 16, 16, 64, 64, 3, 3, 1, 1, 1, 1}},
};

inline int64_t x_size(const ConvShape& cs) { return cs.b * cs.h * cs.w * cs.c; }
inline int64_t w_size(const ConvShape& cs) { return cs.k * cs.r * cs.s * cs.c; }
inline int64_t y_size(const ConvShape& cs) { return cs.b * cs.oh() * cs.ow() * cs.k; }


}  // namespace renorm::test::conv
