#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/nn.h"

#include "kernels/cpu/multiversion.h"
#include "runtime/error.h"

namespace renorm::kernels::cpu {

namespace {
constexpr int64_t kEpilogueRows = 1024;  // rows per parallel work item (and per bias-gradient partial)

// Rows [r0, r1): y = epilogue_value(y). Branch-free per element (the bias and ReLU choices hoisted out),
// so that it vectorizes: a data-dependent branch per element costs more than the memory traffic.
template <class T>
void epilogue_rows_body(T* y, int64_t c, int64_t r0, int64_t r1, const float* bias, bool relu) {
  const Epilogue plain{nullptr, relu};
  for (int64_t r = r0; r < r1; ++r) {
    T* __restrict row = y + r * c;
    if (bias) {
      const Epilogue ep{bias, relu};
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) narrow(epilogue_value(widen(row[j]), ep, j), &row[j]);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) narrow(epilogue_value(widen(row[j]), plain, j), &row[j]);
    }
  }
}
RENORM_MULTIVERSION(epilogue_rows, epilogue_rows_body)

// Rows [r0, r1): dz = epilogue_grad(y, dy) when y is given (dz is then always set), and part[c] = Σ dz
// (or Σ dy without y) over the rows, in double. The mask and the sum are two loops over a row in L1: as
// one, GCC turns `part += y > 0 ? dy : 0` into a branch and vectorizes neither.
template <class T>
void epilogue_grad_rows_body(const T* y, const T* dy, T* dz, int64_t c, int64_t r0, int64_t r1, double* part) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict g = dy + r * c;
    if (y) {
      const T* __restrict yr = y + r * c;
      T* __restrict zr = dz + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) narrow(relu_grad(widen(yr[j]), widen(g[j])), &zr[j]);
      g = zr;
    }
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) part[j] += widen(g[j]);
  }
}
RENORM_MULTIVERSION(epilogue_grad_rows, epilogue_grad_rows_body)
}  // namespace

template <class T>
void epilogue_forward(T* y, int64_t rows, int64_t c, const Epilogue& ep) {
  const int64_t blocks = (rows + kEpilogueRows - 1) / kEpilogueRows;
#pragma omp parallel for schedule(static) if (rows * c >= (1 << 15))
  for (int64_t t = 0; t < blocks; ++t)
    epilogue_rows(y, c, t * kEpilogueRows, std::min(rows, (t + 1) * kEpilogueRows), ep.bias, ep.relu);
}

template <class T>
void epilogue_backward(const T* y, const T* dy, T* dz, float* db, int64_t rows, int64_t c) {
  if (y && !dz) throw Error("epilogue_backward: the ReLU's mask needs dz");
  if (!db) {
    if (y) relu_backward(y, dy, dz, rows * c);  // without ReLU (and without db) there is nothing to do
    return;
  }
  // Fixed chunks combined in order: deterministic for any thread count.
  const int64_t chunks = std::max<int64_t>(1, (rows + kEpilogueRows - 1) / kEpilogueRows);
  std::vector<double> part(static_cast<size_t>(chunks * c), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < chunks; ++k)
    epilogue_grad_rows(y, dy, dz, c, k * kEpilogueRows, std::min(rows, (k + 1) * kEpilogueRows), part.data() + k * c);
  for (int64_t j = 0; j < c; ++j) {
    double s = 0;
    for (int64_t k = 0; k < chunks; ++k) s += part[k * c + j];
    db[j] = static_cast<float>(s);
  }
}

namespace {
// Output pixels [p0, p1) (p = (b·OH + i)·OW + j): channels across the vector lanes (contiguous in NHWC),
// in chunks of kPoolLanes scanned in float registers, the window in the scan's order.
constexpr int64_t kPoolLanes = 64;
template <class T>
void maxpool_pixels_body(const T* x, const PoolShape& ps, T* y, float* argmax, int64_t p0, int64_t p1) {
  const int64_t oh = ps.oh(), ow = ps.ow(), c = ps.c;
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t c0 = 0; c0 < c; c0 += kPoolLanes) {
      const int64_t lanes = std::min(kPoolLanes, c - c0);
      float best[kPoolLanes], arg[kPoolLanes];
#pragma omp simd
      for (int64_t ch = 0; ch < lanes; ++ch) maxpool_start(best[ch], arg[ch]);
      for (int64_t u = 0; u < ps.k; ++u)
        for (int64_t v = 0; v < ps.k; ++v) {
          const T* __restrict row = x + ps.input_index(p / (oh * ow), p / ow % oh, p % ow, u, v, c0);
          const float kk = static_cast<float>(u * ps.k + v);
#pragma omp simd
          for (int64_t ch = 0; ch < lanes; ++ch) maxpool_take(widen(row[ch]), kk, best[ch], arg[ch]);
        }
#pragma omp simd
      for (int64_t ch = 0; ch < lanes; ++ch) {
        narrow(best[ch], &y[p * c + c0 + ch]);  // a maximum of stored values: exact in T
        argmax[p * c + c0 + ch] = arg[ch];
      }
    }
}
RENORM_MULTIVERSION(maxpool_pixels, maxpool_pixels_body)

// Windows that tile the input (stride == k): every dx element has at most one window, so dx is written
// once, as a gather over the window (vector stores, no zero fill of the covered part, no scatter).
template <class T>
void maxpool_grad_pixels_body(const T* dy, const float* argmax, const PoolShape& ps, T* dx, int64_t p0, int64_t p1) {
  const int64_t oh = ps.oh(), ow = ps.ow(), c = ps.c, k = ps.k;
  for (int64_t p = p0; p < p1; ++p) {
    const T* __restrict g = dy + p * c;
    const float* __restrict arg = argmax + p * c;
    for (int64_t u = 0; u < k; ++u)
      for (int64_t v = 0; v < k; ++v) {
        T* __restrict out = dx + ps.input_index(p / (oh * ow), p / ow % oh, p % ow, u, v, 0);
        const float kk = static_cast<float>(u * k + v);
#pragma omp simd
        for (int64_t ch = 0; ch < c; ++ch) narrow(maxpool_grad(arg[ch], kk, widen(g[ch])), &out[ch]);
      }
  }
}
RENORM_MULTIVERSION(maxpool_grad_pixels, maxpool_grad_pixels_body)

constexpr int64_t kPoolPixels = 64;  // output pixels per parallel work item

template <class F>
void over_pixel_blocks(int64_t pixels, F f) {
  const int64_t blocks = (pixels + kPoolPixels - 1) / kPoolPixels;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < blocks; ++t) f(t * kPoolPixels, std::min(pixels, (t + 1) * kPoolPixels));
}
}  // namespace

template <class T>
void maxpool_forward(const T* x, const PoolShape& ps, T* y, float* argmax) {
  over_pixel_blocks(ps.b * ps.oh() * ps.ow(), [&](int64_t p0, int64_t p1) { maxpool_pixels(x, ps, y, argmax, p0, p1); });
}

template <class T>
void maxpool_backward(const T* dy, const float* argmax, const PoolShape& ps, T* dx) {
  const int64_t oh = ps.oh(), ow = ps.ow();
  if (ps.stride == ps.k) {
    if (oh * ps.k != ps.h || ow * ps.k != ps.w) std::fill(dx, dx + ps.b * ps.h * ps.w * ps.c, T{});  // uncovered edges (+0)
    return over_pixel_blocks(ps.b * oh * ow, [&](int64_t p0, int64_t p1) { maxpool_grad_pixels(dy, argmax, ps, dx, p0, p1); });
  }
  // Overlapping windows: each dx element gathers what its windows route to it, in (i, j) order, summed
  // in float and stored once (the CUDA kernel's formula).
  const int64_t n = ps.b * ps.h * ps.w * ps.c;
#pragma omp parallel for schedule(static)
  for (int64_t e = 0; e < n; ++e) {
    const int64_t c = e % ps.c, x = (e / ps.c) % ps.w, y = (e / ps.c / ps.w) % ps.h, b = e / ps.c / ps.w / ps.h;
    narrow(maxpool_input_grad(ps, dy, argmax, b, y, x, c), &dx[e]);
  }
}

namespace {
constexpr int64_t kDropoutGroups = 256;  // stream groups (of 4 elements) per parallel work item

// Stream groups [q0, q1) (at most kDropoutGroups): their keep decisions first, Philox vectorized across
// groups (multiversion's flatten inlines Philox, so that it can be), then the tensor's elements they cover.
template <class T>
void dropout_groups_body(const T* x, T* y, int64_t n, int64_t first, int64_t q0, int64_t q1, float p, float scale,
                         uint64_t seed, uint32_t layer, uint32_t step) {
  uint32_t keep[4 * kDropoutGroups];  // keep[4·(q - q0) + j]: stream element 4q + j
#pragma omp simd
  for (int64_t q = q0; q < q1; ++q) {
    const uint32_t bits = dropout_keep4(seed, layer, step, q, p);
    for (int j = 0; j < 4; ++j) keep[4 * (q - q0) + j] = (bits >> j) & 1u;
  }
  const int64_t i0 = std::max<int64_t>(0, 4 * q0 - first), i1 = std::min(n, 4 * q1 - first);
  const uint32_t* k = keep + (first - 4 * q0);  // element i of the tensor is k[i]
#pragma omp simd
  for (int64_t i = i0; i < i1; ++i) narrow(dropout_value(widen(x[i]), k[i], scale), &y[i]);
}
RENORM_MULTIVERSION(dropout_groups, dropout_groups_body)
}  // namespace

template <class T>
void dropout_apply(const T* x, T* y, int64_t n, int64_t first, float p, uint64_t seed, uint32_t layer,
                   const uint32_t* step_word) {
  const float scale = 1.f / (1.f - p);
  const uint32_t step = *step_word;
  const int64_t q0 = dropout_first_group(first), q1 = dropout_end_group(n, first);
  const int64_t blocks = (q1 - q0 + kDropoutGroups - 1) / kDropoutGroups;
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
  for (int64_t t = 0; t < blocks; ++t)
    dropout_groups(x, y, n, first, q0 + t * kDropoutGroups, std::min(q1, q0 + (t + 1) * kDropoutGroups), p, scale, seed,
                   layer, step);
}

void softmax_xent_forward(const float* logits, const float* labels, int64_t b, int64_t k, float* loss, float* probs,
                          float* correct) {
#pragma omp parallel for schedule(static) if (b * k >= (1 << 14))
  for (int64_t i = 0; i < b; ++i) softmax_xent_row(logits + i * k, labels[i], k, probs + i * k, loss + i, correct + i);
}

void softmax_xent_backward(const float* probs, const float* labels, const float* g, int64_t b, int64_t k,
                           float* dlogits) {
  const float scale = g[0] / static_cast<float>(b);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < k; ++j) dlogits[i * k + j] = softmax_xent_grad(probs[i * k + j], labels[i], j, scale);
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_NN_T)

}  // namespace renorm::kernels::cpu
