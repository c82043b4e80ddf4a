// CPU convolution, the im2col engine (kernels/cpu/detail/conv_engines.h). Output pixels P = B·OH·OW are cut into tiles of kTile rows; each OpenMP thread
// builds the im2col rows of its tile [rows, R·S·C] in a buffer that stays in its L2 and runs one
// single-threaded sgemm on it:
//   forward        y[tile,K]     = col[tile,RSC] · wᵀ, then the epilogue on the tile while it is in L2
//   backward filt. dw[K,RSC]    += dy[tile,K]ᵀ · col[tile,RSC]   (per-thread partials, summed in order)
//   backward data  stride 1: a forward convolution of dy with the flipped, transposed filters
//                  (w'[c,r,s,k] = w[k,R-1-r,S-1-s,c], padding R-1-pad); otherwise dcol = dy·w per image
//                  and col2im, images in parallel (their dx regions are disjoint).
// A 1x1, stride-1, unpadded convolution is a plain gemm on x.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/detail/conv_engines.h"
#include "kernels/cpu/detail/gemm_raw.h"
#include "kernels/gemm.h"

namespace renorm::kernels::cpu::im2col {

namespace {
constexpr int64_t kTile = 128;  // output pixels per tile: col is 128·R·S·C floats (147 KiB at RSC = 288)

bool is_pointwise(const ConvShape& cs) {
  return cs.r == 1 && cs.s == 1 && cs.stride_h == 1 && cs.stride_w == 1 && cs.pad_h == 0 && cs.pad_w == 0;
}

// col rows for output pixels [p0, p1) (pixel p = (b·OH + i)·OW + j); zeros where the window is padding.
void im2col_rows(const float* x, const ConvShape& cs, int64_t p0, int64_t p1, float* col) {
  const int64_t oh = cs.oh(), ow = cs.ow(), rsc = cs.r * cs.s * cs.c;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t j = p % ow, i = (p / ow) % oh, b = p / (ow * oh);
    float* row = col + (p - p0) * rsc;
    for (int64_t r = 0; r < cs.r; ++r) {
      const int64_t hh = i * cs.stride_h - cs.pad_h + r;
      const bool row_in = hh >= 0 && hh < cs.h;
      for (int64_t s = 0; s < cs.s; ++s) {
        const int64_t ww = j * cs.stride_w - cs.pad_w + s;
        float* dst = row + (r * cs.s + s) * cs.c;
        if (!row_in || ww < 0 || ww >= cs.w) std::memset(dst, 0, cs.c * sizeof(float));
        else std::memcpy(dst, x + ((b * cs.h + hh) * cs.w + ww) * cs.c, cs.c * sizeof(float));
      }
    }
  }
}

// The epilogue on output rows: kernels/cpu/nn.cpp's (multiversioned; serial for a tile, whose rows·K is
// below its parallel threshold), skipped when there is nothing to apply.
void epilogue_rows(float* y, int64_t rows, int64_t k, const Epilogue& ep) {
  if (ep.bias || ep.relu) epilogue_forward(y, rows, k, ep);
}

void col2im_image(const float* col, const ConvShape& cs, int64_t b, float* dx) {
  const int64_t oh = cs.oh(), ow = cs.ow(), rsc = cs.r * cs.s * cs.c;
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      const float* row = col + (i * ow + j) * rsc;
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

void conv2d_forward(const float* x, const float* w, float* y, const ConvShape& cs, const Epilogue& ep) {
  const int64_t pixels = cs.b * cs.oh() * cs.ow(), rsc = cs.r * cs.s * cs.c;
  if (is_pointwise(cs)) {
    gemm(false, true, pixels, cs.k, rsc, 1.f, x, w, 0.f, y);
    return epilogue_rows(y, pixels, cs.k, ep);
  }
  const int64_t tiles = (pixels + kTile - 1) / kTile;
#pragma omp parallel
  {
    std::vector<float> col(static_cast<size_t>(kTile * rsc));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t p0 = t * kTile, p1 = std::min(pixels, p0 + kTile);
      im2col_rows(x, cs, p0, p1, col.data());
      sgemm_serial(false, true, p1 - p0, cs.k, rsc, 1.f, col.data(), rsc, w, rsc, 0.f, y + p0 * cs.k, cs.k);
      epilogue_rows(y + p0 * cs.k, p1 - p0, cs.k, ep);
    }
  }
}

void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& cs) {
  const int64_t rsc = cs.r * cs.s * cs.c;
  if (is_pointwise(cs)) return gemm(false, false, cs.b * cs.h * cs.w, cs.c, cs.k, 1.f, dy, w, 0.f, dx);
  if (cs.stride_h == 1 && cs.stride_w == 1 && cs.pad_h <= cs.r - 1 && cs.pad_w <= cs.s - 1) {
    std::vector<float> wt(static_cast<size_t>(cs.k * rsc));  // [C,R,S,K]
    for (int64_t k = 0; k < cs.k; ++k)
      for (int64_t r = 0; r < cs.r; ++r)
        for (int64_t s = 0; s < cs.s; ++s)
          for (int64_t c = 0; c < cs.c; ++c)
            wt[((c * cs.r + (cs.r - 1 - r)) * cs.s + (cs.s - 1 - s)) * cs.k + k] = w[((k * cs.r + r) * cs.s + s) * cs.c + c];
    const ConvShape t{cs.b, cs.oh(), cs.ow(), cs.k, cs.c, cs.r, cs.s, 1, 1, cs.r - 1 - cs.pad_h, cs.s - 1 - cs.pad_w};
    return conv2d_forward(dy, wt.data(), dx, t, Epilogue{});
  }
  const int64_t pix = cs.oh() * cs.ow();
  std::fill(dx, dx + cs.b * cs.h * cs.w * cs.c, 0.f);
#pragma omp parallel
  {
    std::vector<float> col(static_cast<size_t>(pix * rsc));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < cs.b; ++b) {
      sgemm_serial(false, false, pix, rsc, cs.k, 1.f, dy + b * pix * cs.k, cs.k, w, rsc, 0.f, col.data(), rsc);
      col2im_image(col.data(), cs, b, dx);
    }
  }
}

void conv2d_backward_filter(const float* x, const float* dy, float* dw, const ConvShape& cs) {
  const int64_t pixels = cs.b * cs.oh() * cs.ow(), rsc = cs.r * cs.s * cs.c;
  if (is_pointwise(cs)) return gemm(true, false, cs.k, rsc, pixels, 1.f, dy, x, 0.f, dw);
  const int64_t tiles = (pixels + kTile - 1) / kTile;
  const int threads = omp_get_max_threads();
  std::vector<float> partial(static_cast<size_t>(threads * cs.k * rsc), 0.f);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> col(static_cast<size_t>(kTile * rsc));
    float* mine = partial.data() + omp_get_thread_num() * cs.k * rsc;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t p0 = t * kTile, p1 = std::min(pixels, p0 + kTile);
      im2col_rows(x, cs, p0, p1, col.data());
      sgemm_serial(true, false, cs.k, rsc, p1 - p0, 1.f, dy + p0 * cs.k, cs.k, col.data(), rsc, 1.f, mine, rsc);
    }
  }
  // Fixed-order sum of the per-thread partials (static schedule: deterministic for a thread count).
  std::copy(partial.begin(), partial.begin() + cs.k * rsc, dw);
  for (int t = 1; t < threads; ++t)
    for (int64_t i = 0; i < cs.k * rsc; ++i) dw[i] += partial[t * cs.k * rsc + i];
}

}  // namespace renorm::kernels::cpu::im2col
