#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/nn.h"

namespace renorm::kernels::cpu {

void add_bias(float* y, const float* bias, int64_t rows, int64_t c) {
#pragma omp parallel for schedule(static) if (rows * c >= (1 << 15))
  for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) y[r * c + j] += bias[j];
}

void bias_grad(const float* dy, int64_t rows, int64_t c, float* db) {
  // Fixed chunks combined in order: deterministic for any thread count.
  constexpr int64_t kChunk = 1024;
  const int64_t chunks = std::max<int64_t>(1, (rows + kChunk - 1) / kChunk);
  std::vector<double> part(static_cast<size_t>(chunks * c), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < chunks; ++k)
    for (int64_t r = k * kChunk; r < std::min(rows, (k + 1) * kChunk); ++r)
      for (int64_t j = 0; j < c; ++j) part[k * c + j] += dy[r * c + j];
  for (int64_t j = 0; j < c; ++j) {
    double s = 0;
    for (int64_t k = 0; k < chunks; ++k) s += part[k * c + j];
    db[j] = static_cast<float>(s);
  }
}

void maxpool_forward(const float* x, const PoolShape& ps, float* y, float* argmax) {
  const int64_t oh = ps.oh(), ow = ps.ow();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < ps.b; ++b)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t o = ((b * oh + i) * ow + j) * ps.c;
        float* best = y + o;
        float* arg = argmax + o;
        for (int64_t c = 0; c < ps.c; ++c) maxpool_start(best[c], arg[c]);
        // The window in the scan's order, channels innermost (contiguous in NHWC).
        for (int64_t u = 0; u < ps.k; ++u)
          for (int64_t v = 0; v < ps.k; ++v) {
            const float* row = x + ps.input_index(b, i, j, u, v, 0);
            const float kk = static_cast<float>(u * ps.k + v);
            for (int64_t c = 0; c < ps.c; ++c) maxpool_take(row[c], kk, best[c], arg[c]);
          }
      }
}

void maxpool_backward(const float* dy, const float* argmax, const PoolShape& ps, float* dx) {
  const int64_t oh = ps.oh(), ow = ps.ow();
  std::fill(dx, dx + ps.b * ps.h * ps.w * ps.c, 0.f);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < ps.b; ++b)  // images are disjoint: no two threads touch one dx element
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t c = 0; c < ps.c; ++c) {
          const int64_t o = ((b * oh + i) * ow + j) * ps.c + c;
          dx[maxpool_source(ps, b, i, j, c, argmax[o])] += dy[o];
        }
}

void dropout_apply(const float* x, float* y, int64_t n, int64_t first, float p, uint64_t seed, uint32_t layer,
                   uint32_t step) {
  const float scale = 1.f / (1.f - p);
  const int64_t q0 = dropout_first_group(first), q1 = dropout_end_group(n, first);
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
  for (int64_t q = q0; q < q1; ++q) dropout_group(x, y, n, first, q, p, scale, seed, layer, step);
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

}  // namespace renorm::kernels::cpu
