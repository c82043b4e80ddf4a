// CPU convolution: im2col over a chunk of images into col [P, R·S·C] (P = images·OH·OW; NHWC patches
// are contiguous runs of C), then one sgemm per chunk:
//   forward        y[P,K]      = col · wᵀ
//   backward data  dcol[P,RSC] = dy · w, then col2im (accumulate) into dx
//   backward filt. dw[K,RSC]  += dyᵀ · col
// A 1x1, stride-1, unpadded convolution uses x as col directly.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/conv.h"
#include "kernels/gemm.h"

namespace renorm::kernels::cpu {

namespace {
constexpr int64_t kColFloats = int64_t(4) << 20;  // 16 MiB of col per chunk

bool is_pointwise(const ConvShape& cs) {
  return cs.r == 1 && cs.s == 1 && cs.stride_h == 1 && cs.stride_w == 1 && cs.pad_h == 0 && cs.pad_w == 0;
}

int64_t images_per_chunk(const ConvShape& cs) {
  const int64_t per_image = cs.oh() * cs.ow() * cs.r * cs.s * cs.c;
  return std::clamp<int64_t>(kColFloats / std::max<int64_t>(per_image, 1), 1, cs.b);
}

// col rows for images [b0, b1): row (b, oh, ow), columns (r, s, c); zeros where the window is padding.
void im2col(const float* x, const ConvShape& cs, int64_t b0, int64_t b1, float* col) {
  const int64_t oh = cs.oh(), ow = cs.ow(), rsc = cs.r * cs.s * cs.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        float* row = col + (((b - b0) * oh + i) * ow + j) * rsc;
        for (int64_t r = 0; r < cs.r; ++r) {
          const int64_t hh = i * cs.stride_h - cs.pad_h + r;
          for (int64_t s = 0; s < cs.s; ++s) {
            const int64_t ww = j * cs.stride_w - cs.pad_w + s;
            float* dst = row + (r * cs.s + s) * cs.c;
            if (hh < 0 || hh >= cs.h || ww < 0 || ww >= cs.w) std::memset(dst, 0, cs.c * sizeof(float));
            else std::memcpy(dst, x + ((b * cs.h + hh) * cs.w + ww) * cs.c, cs.c * sizeof(float));
          }
        }
      }
}

// dx += scatter of col rows for images [b0, b1). Parallel over images: their dx regions are disjoint.
void col2im(const float* col, const ConvShape& cs, int64_t b0, int64_t b1, float* dx) {
  const int64_t oh = cs.oh(), ow = cs.ow(), rsc = cs.r * cs.s * cs.c;
#pragma omp parallel for schedule(static)
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const float* row = col + (((b - b0) * oh + i) * ow + j) * rsc;
        for (int64_t r = 0; r < cs.r; ++r) {
          const int64_t hh = i * cs.stride_h - cs.pad_h + r;
          if (hh < 0 || hh >= cs.h) continue;
          for (int64_t s = 0; s < cs.s; ++s) {
            const int64_t ww = j * cs.stride_w - cs.pad_w + s;
            if (ww < 0 || ww >= cs.w) continue;
            const float* src = row + (r * cs.s + s) * cs.c;
            float* dst = dx + ((b * cs.h + hh) * cs.w + ww) * cs.c;
            for (int64_t c = 0; c < cs.c; ++c) dst[c] += src[c];
          }
        }
      }
}
}  // namespace

void conv2d_forward(const float* x, const float* w, float* y, const ConvShape& cs) {
  const int64_t pix = cs.oh() * cs.ow(), rsc = cs.r * cs.s * cs.c;
  if (is_pointwise(cs)) return gemm(false, true, cs.b * pix, cs.k, rsc, 1.f, x, w, 0.f, y);
  const int64_t chunk = images_per_chunk(cs);
  std::vector<float> col(static_cast<size_t>(chunk * pix * rsc));
  for (int64_t b0 = 0; b0 < cs.b; b0 += chunk) {
    const int64_t b1 = std::min(b0 + chunk, cs.b);
    im2col(x, cs, b0, b1, col.data());
    gemm(false, true, (b1 - b0) * pix, cs.k, rsc, 1.f, col.data(), w, 0.f, y + b0 * pix * cs.k);
  }
}

void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& cs) {
  const int64_t pix = cs.oh() * cs.ow(), rsc = cs.r * cs.s * cs.c;
  if (is_pointwise(cs)) return gemm(false, false, cs.b * pix, rsc, cs.k, 1.f, dy, w, 0.f, dx);
  std::fill(dx, dx + cs.b * cs.h * cs.w * cs.c, 0.f);
  const int64_t chunk = images_per_chunk(cs);
  std::vector<float> col(static_cast<size_t>(chunk * pix * rsc));
  for (int64_t b0 = 0; b0 < cs.b; b0 += chunk) {
    const int64_t b1 = std::min(b0 + chunk, cs.b);
    gemm(false, false, (b1 - b0) * pix, rsc, cs.k, 1.f, dy + b0 * pix * cs.k, w, 0.f, col.data());
    col2im(col.data(), cs, b0, b1, dx);
  }
}

void conv2d_backward_filter(const float* x, const float* dy, float* dw, const ConvShape& cs) {
  const int64_t pix = cs.oh() * cs.ow(), rsc = cs.r * cs.s * cs.c;
  if (is_pointwise(cs)) return gemm(true, false, cs.k, rsc, cs.b * pix, 1.f, dy, x, 0.f, dw);
  const int64_t chunk = images_per_chunk(cs);
  std::vector<float> col(static_cast<size_t>(chunk * pix * rsc));
  for (int64_t b0 = 0; b0 < cs.b; b0 += chunk) {
    const int64_t b1 = std::min(b0 + chunk, cs.b);
    im2col(x, cs, b0, b1, col.data());
    gemm(true, false, cs.k, rsc, (b1 - b0) * pix, 1.f, dy + b0 * pix * cs.k, col.data(), b0 == 0 ? 0.f : 1.f, dw);
  }
}

}  // namespace renorm::kernels::cpu
