// CUDA microbatch moments and Batch Renorm. x: (N,R,C) row-major (NHWC viewed as (N,M,H,W,C)).
//
// Stage 1 (one pass over x; over x and dy in backward): block = 32 channel lanes (threadIdx.x, so a
// warp reads 128 contiguous bytes of one row: coalesced NHWC) × kRowLanes row lanes (threadIdx.y);
// grid = (N·chunks, ceil(C/32)). Each block reduces one chunk of rows of one microbatch for 32 channels
// (Welford in forward, plain sums in backward) and writes a partial per (n, chunk, c).
// Stage 2a: one warp per (n, c) merges that microbatch's chunk partials (lanes stride over the chunks,
// then a shuffle tree): μ_n and var_n in forward, S1 and S2 in backward. A thread per (n, c) merging
// them in sequence made the forward a fixed ~0.25 ms on an H200 (docs/gpu-report-2026-11-30.md).
// Stage 2b (tiny, one block): per channel, μ_n, σ_n, r_n, d_n, the affine coefficients
// (kernels/renorm.h) and the moving averages; dγ, dβ in backward.
// Stage 3 (one elementwise pass): y = a·x + b (dx = p·dy + q·x + s), float4 when C % 4 == 0.
// No host synchronization anywhere; workspaces come from the caching allocator.
//
// Bytes each must move (F = 4·N·R·C): moments F; forward train 3F (x twice, y once); backward 5F
// (x, dy twice, dx once); inference 2F. Partials and per-(n,c) values are O(N·C·chunks), negligible.
#include <algorithm>

#include "runtime/allocator.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/renorm.h"

namespace renorm::kernels::cuda {

namespace {
constexpr int kLanes = 32, kRowLanes = 8, kPartialThreads = kLanes * kRowLanes;

struct ChunkPlan {
  int64_t per_n;  // chunks per microbatch
  int64_t rows;   // rows per chunk
};

// About 4 blocks per multiprocessor in stage 1, and at least 64 rows (8 per thread) per chunk.
ChunkPlan plan_chunks(NormShape s) {
  const int64_t ctiles = (s.c + kLanes - 1) / kLanes;
  const int64_t want = std::max<int64_t>(1, 4 * int64_t(::renorm::cuda::multiprocessor_count()) / (s.n * ctiles));
  const int64_t cap = std::max<int64_t>(1, (s.rows + 63) / 64);
  const int64_t per_n = std::min(want, cap);
  const int64_t rows = (s.rows + per_n - 1) / per_n;
  return {(s.rows + rows - 1) / rows, rows};
}

// Stage 1, forward: Welford partials (count, mean, m2), each (N·per_n, C).
__global__ void __launch_bounds__(kPartialThreads)
    welford_partial(const float* __restrict__ x, NormShape s, ChunkPlan plan, float* pcount, float* pmean, float* pm2) {
  const int64_t n = blockIdx.x / plan.per_n, k = blockIdx.x % plan.per_n;
  const int64_t c = int64_t(blockIdx.y) * kLanes + threadIdx.x;
  const int64_t r0 = k * plan.rows, r1 = min(r0 + plan.rows, s.rows);
  float cnt = 0.f, mean = 0.f, m2 = 0.f;
  if (c < s.c) {
    const float* base = x + n * s.rows * s.c + c;
#pragma unroll 4
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) {
      const float v = __ldg(base + r * s.c);
      cnt += 1.f;
      const float delta = v - mean;
      mean += delta / cnt;
      m2 += delta * (v - mean);
    }
  }
  __shared__ float sh[3][kRowLanes][kLanes];
  sh[0][threadIdx.y][threadIdx.x] = cnt;
  sh[1][threadIdx.y][threadIdx.x] = mean;
  sh[2][threadIdx.y][threadIdx.x] = m2;
  __syncthreads();
  if (threadIdx.y == 0 && c < s.c) {
    for (int j = 1; j < kRowLanes; ++j)
      welford_merge(cnt, mean, m2, sh[0][j][threadIdx.x], sh[1][j][threadIdx.x], sh[2][j][threadIdx.x]);
    const int64_t o = int64_t(blockIdx.x) * s.c + c;
    pcount[o] = cnt;
    pmean[o] = mean;
    pm2[o] = m2;
  }
}

// Stage 2a, forward: warp per (n, c); mean and biased variance of microbatch n, channel c.
__global__ void __launch_bounds__(kThreads)
    merge_welford(NormShape s, ChunkPlan plan, const float* pcount, const float* pmean, const float* pm2, float* mean,
                  float* var) {
  const int lane = int(threadIdx.x % kLanes);
  // Warp-uniform grid-stride loop (blockDim is a multiple of 32): every lane of a warp shuffles together.
  for (int64_t nc = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / kLanes; nc < s.n * s.c;
       nc += int64_t(gridDim.x) * blockDim.x / kLanes) {
    const int64_t n = nc / s.c, c = nc % s.c;
    float cnt = 0.f, mu = 0.f, m2 = 0.f;
    for (int64_t k = lane; k < plan.per_n; k += kLanes) {
      const int64_t o = (n * plan.per_n + k) * s.c + c;
      welford_merge(cnt, mu, m2, pcount[o], pmean[o], pm2[o]);
    }
    for (int off = kLanes / 2; off > 0; off /= 2) {
      const float cb = __shfl_down_sync(0xffffffffu, cnt, off), mb = __shfl_down_sync(0xffffffffu, mu, off),
                  m2b = __shfl_down_sync(0xffffffffu, m2, off);
      welford_merge(cnt, mu, m2, cb, mb, m2b);
    }
    if (lane == 0) {
      mean[nc] = mu;
      var[nc] = m2 / cnt;
    }
  }
}

// Stage 2a, backward: warp per (n, c); S1 and S2 of microbatch n, channel c.
__global__ void __launch_bounds__(kThreads)
    merge_sums(NormShape s, ChunkPlan plan, const float* ps1, const float* ps2, float* s1, float* s2) {
  const int lane = int(threadIdx.x % kLanes);
  for (int64_t nc = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / kLanes; nc < s.n * s.c;
       nc += int64_t(gridDim.x) * blockDim.x / kLanes) {
    const int64_t n = nc / s.c, c = nc % s.c;
    float t1 = 0.f, t2 = 0.f;
    for (int64_t k = lane; k < plan.per_n; k += kLanes) {
      t1 += ps1[(n * plan.per_n + k) * s.c + c];
      t2 += ps2[(n * plan.per_n + k) * s.c + c];
    }
    for (int off = kLanes / 2; off > 0; off /= 2) {
      t1 += __shfl_down_sync(0xffffffffu, t1, off);
      t2 += __shfl_down_sync(0xffffffffu, t2, off);
    }
    if (lane == 0) {
      s1[nc] = t1;
      s2[nc] = t2;
    }
  }
}

// Stage 2a's grid: a warp per (n, c).
int64_t merge_threads(NormShape s) { return s.n * s.c * kLanes; }

// Stage 2b, forward: one block of kThreads; thread per channel (strided): the shared per-channel step
// (kernels/renorm.h) from μ_n (mean) and var_n (var).
__global__ void __launch_bounds__(kThreads)
    renorm_finalize(NormShape s, const float* gamma, const float* beta, float* run_mean, float* run_std,
                    RenormParams p, const float* var, const float* mean, float* save_invstd, float* save_r,
                    float* save_d, float* a, float* b, float* clip_counts) {
  __shared__ int clipped[2];
  if (threadIdx.x == 0) clipped[0] = clipped[1] = 0;
  __syncthreads();
  ClipCount mine;
  for (int64_t c = threadIdx.x; c < s.c; c += blockDim.x) {
    const ClipCount k = renorm_forward_channel(c, s, mean, var, gamma[c], beta[c], run_mean, run_std, p,
                                               save_invstd, save_r, save_d, a, b);
    mine.r += k.r;
    mine.d += k.d;
  }
  atomicAdd(&clipped[0], mine.r);
  atomicAdd(&clipped[1], mine.d);
  __syncthreads();
  if (threadIdx.x == 0) {
    clip_counts[0] = float(clipped[0]);
    clip_counts[1] = float(clipped[1]);
  }
}

// Stage 3: out = p·in0 + q·in1 + s per (n,c); TERMS = 1 (y = a·x + b) or 2 (dx = p·dy + q·x + s).
template <int VEC>
__device__ __forceinline__ void load(const float* __restrict__ p, int64_t v, float (&x)[VEC]) {
  if constexpr (VEC == 4) {
    const float4 t = __ldg(reinterpret_cast<const float4*>(p) + v);
    x[0] = t.x, x[1] = t.y, x[2] = t.z, x[3] = t.w;
  } else {
    x[0] = __ldg(p + v);
  }
}

template <int TERMS, int VEC>
__global__ void __launch_bounds__(kThreads)
    affine_apply(const float* __restrict__ in0, const float* __restrict__ in1, NormShape s, const float* __restrict__ p,
                 const float* __restrict__ q, const float* __restrict__ sh, float* __restrict__ out) {
  const int64_t total = s.numel() / VEC, per_n = s.rows * s.c;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < total; v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = v * VEC, n = i / per_n, nc = n * s.c + i % s.c;
    float x0[VEC], x1[VEC], r[VEC];
    load<VEC>(in0, v, x0);
    if constexpr (TERMS == 2) load<VEC>(in1, v, x1);
#pragma unroll
    for (int j = 0; j < VEC; ++j)
      r[j] = TERMS == 2 ? p[nc + j] * x0[j] + q[nc + j] * x1[j] + sh[nc + j] : p[nc + j] * x0[j] + sh[nc + j];
    if constexpr (VEC == 4)
      reinterpret_cast<float4*>(out)[v] = make_float4(r[0], r[1], r[2], r[3]);
    else
      out[i] = r[0];
  }
}

template <int TERMS>
void launch_apply(const float* in0, const float* in1, NormShape s, const float* p, const float* q, const float* sh,
                  float* out) {
  if (s.numel() == 0) return;
  const bool vec = s.c % 4 == 0 && reinterpret_cast<uintptr_t>(in0) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(in1 ? in1 : in0) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
  if (vec)
    launch_n<affine_apply<TERMS, 4>>(s.numel() / 4, in0, in1, s, p, q, sh, out);
  else
    launch_n<affine_apply<TERMS, 1>>(s.numel(), in0, in1, s, p, q, sh, out);
}

// Stage 1, backward: S1 = Σ dy, S2 = Σ dy·x̃ partials, each (N·per_n, C).
__global__ void __launch_bounds__(kPartialThreads)
    backward_partial(const float* __restrict__ x, const float* __restrict__ dy, NormShape s, ChunkPlan plan,
                     const float* save_mean, const float* save_invstd, float* ps1, float* ps2) {
  const int64_t n = blockIdx.x / plan.per_n, k = blockIdx.x % plan.per_n;
  const int64_t c = int64_t(blockIdx.y) * kLanes + threadIdx.x;
  const int64_t r0 = k * plan.rows, r1 = min(r0 + plan.rows, s.rows);
  float s1 = 0.f, s2 = 0.f;
  if (c < s.c) {
    const float mean = save_mean[n * s.c + c], invstd = save_invstd[n * s.c + c];
    const int64_t base = n * s.rows * s.c + c;
#pragma unroll 4
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) {
      const float g = __ldg(dy + base + r * s.c), v = __ldg(x + base + r * s.c);
      s1 += g;
      s2 += g * ((v - mean) * invstd);
    }
  }
  __shared__ float sh[2][kRowLanes][kLanes];
  sh[0][threadIdx.y][threadIdx.x] = s1;
  sh[1][threadIdx.y][threadIdx.x] = s2;
  __syncthreads();
  if (threadIdx.y == 0 && c < s.c) {
    for (int j = 1; j < kRowLanes; ++j) {
      s1 += sh[0][j][threadIdx.x];
      s2 += sh[1][j][threadIdx.x];
    }
    ps1[int64_t(blockIdx.x) * s.c + c] = s1;
    ps2[int64_t(blockIdx.x) * s.c + c] = s2;
  }
}

// Stage 2b, backward: thread per channel: the shared per-channel step (kernels/renorm.h) from S1, S2
// summed over `rows` rows.
__global__ void __launch_bounds__(kThreads)
    backward_finalize(NormShape s, float rows, const float* s1, const float* s2, const float* gamma,
                      const float* save_mean, const float* save_invstd, const float* save_r, const float* save_d,
                      float* cp, float* cq, float* cs, float* dgamma, float* dbeta) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < s.c; c += int64_t(gridDim.x) * blockDim.x)
    renorm_backward_channel(c, s, rows, s1, s2, gamma[c], save_mean, save_invstd, save_r, save_d, cp, cq, cs, dgamma,
                            dbeta);
}

// --sync-norm: thread per channel, the ranks' moments merged in rank order (kernels/renorm.h).
__global__ void __launch_bounds__(kThreads)
    merge_moments_kernel(const float* parts, int64_t k, int64_t c, float* mean, float* var) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < c; j += int64_t(gridDim.x) * blockDim.x)
    merge_moments_channel(parts, k, c, j, mean, var);
}

__global__ void __launch_bounds__(kThreads)
    inference_coeffs(int64_t c, const float* gamma, const float* beta, const float* run_mean, const float* run_std,
                     float* a, float* b) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < c; j += int64_t(gridDim.x) * blockDim.x)
    renorm_affine(gamma[j], beta[j], run_mean[j], 1.f / run_std[j], 1.f, 0.f, &a[j], &b[j]);
}

dim3 partial_grid(NormShape s, ChunkPlan plan) {
  return dim3(static_cast<unsigned>(s.n * plan.per_n), static_cast<unsigned>((s.c + kLanes - 1) / kLanes));
}
const dim3 kPartialBlock(kLanes, kRowLanes);

// Stage 1 of the forward: Welford partials in ws (3 arrays of N·per_n·C).
void launch_welford(const float* x, NormShape s, ChunkPlan plan, float* ws) {
  const int64_t w = s.n * plan.per_n * s.c;
  launch<welford_partial>(partial_grid(s, plan), kPartialBlock, 0, x, s, plan, ws, ws + w, ws + 2 * w);
}
}  // namespace

void moments(const float* x, NormShape s, float* mean, float* var) {
  if (s.numel() == 0) return;
  const ChunkPlan plan = plan_chunks(s);
  const int64_t w = s.n * plan.per_n * s.c;
  Scratch scratch(3 * w * sizeof(float));
  float* ws = scratch.as<float>();
  launch_welford(x, s, plan, ws);
  launch_n<merge_welford>(merge_threads(s), s, plan, ws, ws + w, ws + 2 * w, mean, var);
}

void renorm_forward_from_moments(const float* x, NormShape s, const float* mean, const float* var, const float* gamma,
                                 const float* beta, float* run_mean, float* run_std, RenormParams p, float* y,
                                 float* save_invstd, float* save_r, float* save_d, float* clip_counts) {
  if (s.numel() == 0) return;
  const int64_t nc = s.n * s.c;
  Scratch scratch(2 * nc * sizeof(float));
  float* a = scratch.as<float>();
  float* b = a + nc;
  launch<renorm_finalize>(1, kThreads, 0, s, gamma, beta, run_mean, run_std, p, var, mean, save_invstd, save_r, save_d,
                          a, b, clip_counts);
  launch_apply<1>(x, nullptr, s, a, nullptr, b, y);
}

void renorm_forward_train(const float* x, NormShape s, const float* gamma, const float* beta, float* run_mean,
                          float* run_std, RenormParams p, float* y, float* save_mean, float* save_invstd, float* save_r,
                          float* save_d, float* clip_counts) {
  if (s.numel() == 0) return;
  Scratch scratch(s.n * s.c * sizeof(float));
  float* var = scratch.as<float>();
  moments(x, s, save_mean, var);
  renorm_forward_from_moments(x, s, save_mean, var, gamma, beta, run_mean, run_std, p, y, save_invstd, save_r, save_d,
                              clip_counts);
}

void renorm_backward_sums(const float* x, const float* dy, NormShape s, const float* save_mean,
                          const float* save_invstd, float* sums) {
  if (s.numel() == 0) return;
  const ChunkPlan plan = plan_chunks(s);
  const int64_t w = s.n * plan.per_n * s.c;
  Scratch scratch(2 * w * sizeof(float));
  float* ws = scratch.as<float>();
  launch<backward_partial>(partial_grid(s, plan), kPartialBlock, 0, x, dy, s, plan, save_mean, save_invstd, ws, ws + w);
  launch_n<merge_sums>(merge_threads(s), s, plan, ws, ws + w, sums, sums + s.n * s.c);
}

void renorm_backward_from_sums(const float* x, const float* dy, NormShape s, const float* sums, float rows,
                               const float* gamma, const float* save_mean, const float* save_invstd,
                               const float* save_r, const float* save_d, float* dx, float* dgamma, float* dbeta) {
  if (s.numel() == 0) return;
  const int64_t nc = s.n * s.c;
  Scratch scratch(3 * nc * sizeof(float));
  float* cp = scratch.as<float>();
  launch_n<backward_finalize>(s.c, s, rows, sums, sums + nc, gamma, save_mean, save_invstd, save_r, save_d, cp,
                              cp + nc, cp + 2 * nc, dgamma, dbeta);
  launch_apply<2>(dy, x, s, cp, cp + nc, cp + 2 * nc, dx);
}

void renorm_backward(const float* x, const float* dy, NormShape s, const float* gamma, const float* save_mean,
                     const float* save_invstd, const float* save_r, const float* save_d, float* dx, float* dgamma,
                     float* dbeta) {
  if (s.numel() == 0) return;
  Scratch scratch(2 * s.n * s.c * sizeof(float));
  float* sums = scratch.as<float>();
  renorm_backward_sums(x, dy, s, save_mean, save_invstd, sums);
  renorm_backward_from_sums(x, dy, s, sums, float(s.rows), gamma, save_mean, save_invstd, save_r, save_d, dx, dgamma,
                            dbeta);
}

void merge_moments(const float* parts, int64_t k, int64_t c, float* mean, float* var) {
  launch_n<merge_moments_kernel>(c, parts, k, c, mean, var);
}

void renorm_inference(const float* x, int64_t rows, int64_t c, const float* gamma, const float* beta,
                      const float* run_mean, const float* run_std, float* y) {
  if (rows * c == 0) return;
  Scratch scratch(2 * c * sizeof(float));
  float* ws = scratch.as<float>();
  launch_n<inference_coeffs>(c, c, gamma, beta, run_mean, run_std, ws, ws + c);
  launch_apply<1>(x, nullptr, NormShape{1, rows, c}, ws, nullptr, ws + c, y);
}

}  // namespace renorm::kernels::cuda
