// CUDA epilogue (bias + ReLU), max pooling, dropout and softmax cross-entropy. Elementwise grid-stride
// loops; the epilogue's backward is one launch: the ReLU mask applied and the bias gradient a coalesced
// column reduction (partials per row chunk, summed by the column tile's last block to finish in a fixed
// order: deterministic, kernels/cuda/arrival.cuh); max-pool's backward a gather per input element (no
// memset, no atomics);
// softmax cross-entropy is one thread per example (K = 10 classes here).
#include <cmath>

#include "kernels/cuda/arrival.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/nn.h"

namespace renorm::kernels::cuda {

namespace {
constexpr int64_t kBiasChunk = 256;

template <class T>
__global__ void __launch_bounds__(kThreads) epilogue_kernel(T* y, int64_t rows, int64_t c, Epilogue ep) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * c; i += int64_t(gridDim.x) * blockDim.x)
    narrow(epilogue_value(widen(y[i]), ep, i % c), &y[i]);
}

constexpr int kBiasLanes = 32, kBiasRowLanes = 8, kBiasThreads = kBiasLanes * kBiasRowLanes;

// grid (chunks, ceil(c/32)), block (32, 8): dz = epilogue_grad(y, dy) (stored when dz is set) and
// partial[chunk, c] = Σ dz over the chunk's rows; the last block of a column tile sums its chunks'
// partials (row lane j takes chunks j, j+8, ... in order, then the lanes in order) into db.
template <class T>
__global__ void __launch_bounds__(kBiasThreads)
    epilogue_backward_kernel(const T* y, const T* dy, T* dz, int64_t rows, int64_t c, float* partial,
                             unsigned* counters, float* db) {
  const int64_t j = int64_t(blockIdx.y) * kBiasLanes + threadIdx.x, r0 = int64_t(blockIdx.x) * kBiasChunk;
  float s = 0.f;
  if (j < c)
    for (int64_t r = r0 + threadIdx.y; r < min(rows, r0 + kBiasChunk); r += kBiasRowLanes) {
      const float v = epilogue_grad(y, dy, r * c + j);
      if (dz) narrow(v, &dz[r * c + j]);
      s += v;
    }
  __shared__ float sh[kBiasRowLanes][kBiasLanes];
  sh[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < c) {
    for (int k = 1; k < kBiasRowLanes; ++k) s += sh[k][threadIdx.x];
    partial[int64_t(blockIdx.x) * c + j] = s;
  }
  if (!arrive_last(&counters[blockIdx.y], gridDim.x)) return;
  s = 0.f;
  if (j < c)
    for (int64_t k = threadIdx.y; k < gridDim.x; k += kBiasRowLanes) s += __ldcg(partial + k * c + j);
  sh[threadIdx.y][threadIdx.x] = s;  // (arrive_last's barrier ordered the reads above before this)
  __syncthreads();
  if (threadIdx.y == 0 && j < c) {
    for (int k = 1; k < kBiasRowLanes; ++k) s += sh[k][threadIdx.x];
    db[j] = s;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads) maxpool_fwd_kernel(const T* x, PoolShape ps, T* y, float* argmax) {
  const int64_t oh = ps.oh(), ow = ps.ow(), total = ps.b * oh * ow * ps.c;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = o % ps.c, j = (o / ps.c) % ow, i = (o / ps.c / ow) % oh, b = o / ps.c / ow / oh;
    float best, arg;
    maxpool_start(best, arg);
    for (int64_t u = 0; u < ps.k; ++u)
      for (int64_t v = 0; v < ps.k; ++v) maxpool_take(widen(x[ps.input_index(b, i, j, u, v, c)]), float(u * ps.k + v), best, arg);
    narrow(best, &y[o]);
    argmax[o] = arg;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads) maxpool_bwd_kernel(const T* dy, const float* argmax, PoolShape ps, T* dx) {
  const int64_t total = ps.b * ps.h * ps.w * ps.c;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = e % ps.c, x = (e / ps.c) % ps.w, y = (e / ps.c / ps.w) % ps.h, b = e / ps.c / ps.w / ps.h;
    narrow(maxpool_input_grad(ps, dy, argmax, b, y, x, c), &dx[e]);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    dropout_kernel(const T* x, T* y, int64_t n, int64_t first, float p, uint64_t seed, uint32_t layer,
                   const uint32_t* step_word) {
  const float scale = 1.f / (1.f - p);
  const uint32_t step = *step_word;
  const int64_t q0 = dropout_first_group(first), groups = dropout_end_group(n, first) - q0;
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < groups; g += int64_t(gridDim.x) * blockDim.x)
    dropout_group(x, y, n, first, q0 + g, p, scale, seed, layer, step);
}

__global__ void __launch_bounds__(kThreads) xent_fwd_kernel(const float* logits, const float* labels, int64_t b,
                                                            int64_t k, float* loss, float* probs, float* correct) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < b; i += int64_t(gridDim.x) * blockDim.x)
    softmax_xent_row(logits + i * k, labels[i], k, probs + i * k, loss + i, correct + i);
}

__global__ void __launch_bounds__(kThreads)
    xent_bwd_kernel(const float* probs, const float* labels, const float* g, int64_t b, int64_t k, float* dl) {
  const float scale = g[0] / float(b);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < b * k; i += int64_t(gridDim.x) * blockDim.x)
    dl[i] = softmax_xent_grad(probs[i], labels[i / k], i % k, scale);
}
}  // namespace

template <class T>
void epilogue_forward(T* y, int64_t rows, int64_t c, const Epilogue& ep) {
  launch_n<epilogue_kernel<T>>(rows * c, y, rows, c, ep);
}

template <class T>
void epilogue_backward(const T* y, const T* dy, T* dz, float* db, int64_t rows, int64_t c) {
  if (!db) {
    if (dz) relu_backward(y, dy, dz, rows * c);  // only called with y: without ReLU there is nothing to do
    return;
  }
  if (c == 0) return;
  const int64_t chunks = std::max<int64_t>(1, (rows + kBiasChunk - 1) / kBiasChunk);
  Scratch part(chunks * c * sizeof(float));
  const int64_t tiles = (c + kBiasLanes - 1) / kBiasLanes;
  launch<epilogue_backward_kernel<T>>(dim3(unsigned(chunks), unsigned(tiles)), dim3(kBiasLanes, kBiasRowLanes), 0, y, dy,
                                   dz, rows, c, part.as<float>(), ::renorm::cuda::arrival_counters(size_t(tiles)), db);
}

template <class T>
void maxpool_forward(const T* x, const PoolShape& ps, T* y, float* argmax) {
  launch_n<maxpool_fwd_kernel<T>>(ps.b * ps.oh() * ps.ow() * ps.c, x, ps, y, argmax);
}

template <class T>
void maxpool_backward(const T* dy, const float* argmax, const PoolShape& ps, T* dx) {
  launch_n<maxpool_bwd_kernel<T>>(ps.b * ps.h * ps.w * ps.c, dy, argmax, ps, dx);
}

template <class T>
void dropout_apply(const T* x, T* y, int64_t n, int64_t first, float p, uint64_t seed, uint32_t layer,
                   const uint32_t* step) {
  launch_n<dropout_kernel<T>>(dropout_end_group(n, first) - dropout_first_group(first), x, y, n, first, p, seed, layer, step);
}

void softmax_xent_forward(const float* logits, const float* labels, int64_t b, int64_t k, float* loss, float* probs,
                          float* correct) {
  launch_n<xent_fwd_kernel>(b, logits, labels, b, k, loss, probs, correct);
}

void softmax_xent_backward(const float* probs, const float* labels, const float* g, int64_t b, int64_t k, float* dl) {
  launch_n<xent_bwd_kernel>(b * k, probs, labels, g, b, k, dl);
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_NN_T)

}  // namespace renorm::kernels::cuda
