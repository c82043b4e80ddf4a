// The statistics side of the CUDA Batch Renorm kernels, shared by the two-launch kernels
// (kernels/cuda/renorm.cu) and the cooperative single launch (kernels/cuda/renorm_coop.cu): the plan of
// chunks and 32-channel tiles, a block's partials and their merge in a fixed order, and the per-(n,c)
// and per-channel steps (kernels/renorm.h) that the group's last block runs. Internal to those files.
#pragma once
#include <algorithm>

#include "kernels/cuda/arrival.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/renorm.h"

namespace renorm::kernels::cuda {

namespace {
constexpr int kLanes = 32, kRowLanes = 8, kStatsThreads = kLanes * kRowLanes;


// The statistics kernels' plan: chunks of rows per microbatch (grid x is N·per_n) and 32-channel tiles.
struct Plan {
  int64_t per_n;  // chunks per microbatch
  int64_t rows;   // rows per chunk
  int64_t tiles;  // ceil(C / 32)
};

// About 4 blocks per multiprocessor, and at least 64 rows (8 per thread) per chunk.
Plan plan_stats(NormShape s) {
  const int64_t tiles = (s.c + kLanes - 1) / kLanes;
  const int64_t want = std::max<int64_t>(1, 4 * int64_t(::renorm::cuda::multiprocessor_count()) / (s.n * tiles));
  const int64_t per_n = std::min(want, std::max<int64_t>(1, (s.rows + 63) / 64));
  const int64_t rows = (s.rows + per_n - 1) / per_n;
  return {(s.rows + rows - 1) / rows, rows, tiles};
}
dim3 stats_grid(NormShape s, Plan p) { return dim3(unsigned(s.n * p.per_n), unsigned(p.tiles)); }
const dim3 kStatsBlock(kLanes, kRowLanes);

// The arrival counters: one per group (n, tile), one per tile, one for all tiles.
struct Counters {
  unsigned *group, *tile, *all;
};
Counters counters_for(NormShape s, int64_t tiles) {
  unsigned* c = ::renorm::cuda::arrival_counters(size_t(s.n * tiles + tiles + 1));
  return {c, c + s.n * tiles, c + s.n * tiles + tiles};
}

// A block's partial: Welford's state forward, the two sums backward. Trivial types (shared memory).
struct Moments {
  float count, mean, m2;
  __device__ void merge(const Moments& b) { welford_merge(count, mean, m2, b.count, b.mean, b.m2); }
  __device__ static Moments load_cg(const Moments* p) { return {__ldcg(&p->count), __ldcg(&p->mean), __ldcg(&p->m2)}; }
};
struct Sums {
  float s1, s2;
  __device__ void merge(const Sums& b) { s1 += b.s1, s2 += b.s2; }
  __device__ static Sums load_cg(const Sums* p) { return {__ldcg(&p->s1), __ldcg(&p->s2)}; }
};

// This block's chunk of microbatch n: rows [r0, r1); this thread's rows r0+ty, r0+ty+8, ... of channel c.
struct Chunk {
  int64_t n, r0, r1, c;
  bool in;  // c < C
};
__device__ Chunk my_chunk(NormShape s, Plan p) {
  const int64_t n = blockIdx.x / p.per_n, k = blockIdx.x - n * p.per_n;  // one division per block
  const int64_t c = int64_t(blockIdx.y) * kLanes + threadIdx.x;
  return {n, k * p.rows, min(k * p.rows + p.rows, s.rows), c, c < s.c};
}

// The block's 8 row lanes merged in lane order; valid in row lane 0.
template <class T>
__device__ T merge_lanes(T m) {
  __shared__ T lanes[kRowLanes][kLanes];
  lanes[threadIdx.y][threadIdx.x] = m;
  __syncthreads();
  if (threadIdx.y == 0)
    for (int j = 1; j < kRowLanes; ++j) m.merge(lanes[j][threadIdx.x]);
  __syncthreads();
  return m;
}

// In the group's last block: its per_n partials (N·per_n, C) merged in chunk order — row lane j takes
// chunks j, j+8, ... in order, then the lanes in order — whichever block is last; valid in row lane 0.
template <class T>
__device__ T merge_group(const T* parts, NormShape s, Plan p, const Chunk& k, T zero) {
  T m = zero;
  if (k.in)
    for (int64_t j = threadIdx.y; j < p.per_n; j += kRowLanes) m.merge(T::load_cg(parts + (k.n * p.per_n + j) * s.c + k.c));
  return merge_lanes(m);
}

// One thread's moments as shifted sums Σ(v−K), Σ(v−K)² (K = its first value: no division per element).
struct ShiftedSums {
  float shift, s1 = 0.f, s2 = 0.f, cnt = 0.f;
  __device__ void add(float v) {
    const float t = v - shift;
    s1 += t;
    s2 = fmaf(t, t, s2);
    cnt += 1.f;
  }
  __device__ Moments moments() const {
    if (cnt == 0.f) return {0.f, 0.f, 0.f};
    const float dm = s1 / cnt;
    return {cnt, shift + dm, fmaxf(0.f, s2 - s1 * dm)};
  }
};
// One thread's S1 = Σdy and S2 = Σdy·x̃ (x̃ = (x − μ_n)·invstd).
struct DySums {
  float mean, t1 = 0.f, t2 = 0.f;
  __device__ void add(float g, float x) {
    t1 += g;
    t2 = fmaf(g, x - mean, t2);
  }
  __device__ Sums sums(float invstd) const { return {t1, t2 * invstd}; }
};

// The rows of this thread in its chunk: r0+ty, r0+ty+8, ... below r1 (none when its channel is out).
__device__ __forceinline__ int64_t thread_rows(const Chunk& k) {
  const int64_t left = k.r1 - k.r0 - int64_t(threadIdx.y);
  return k.in && left > 0 ? (left + kRowLanes - 1) / kRowLanes : 0;
}
__device__ __forceinline__ int64_t thread_first(NormShape s, const Chunk& k) {
  return (k.n * s.rows + k.r0 + threadIdx.y) * s.c + k.c;
}

// What the forward's per-(n,c) and per-channel steps read and write.
struct ForwardArgs {
  const float *gamma, *beta;
  float *run_mean, *run_std;
  RenormParams p;
  const float *mean, *var;  // μ_n, var_n (N,C): read by the per-channel step
  float *invstd, *r, *d, *a, *b;  // (N,C)
  int* clips;  // 2 per group (n, tile), then 2 per tile
  float* clip_counts;
};

// Every thread of a (32 × any) block of group (n, tile) calls it, μ_n and var_n in row lane 0: the
// per-(n,c) step; in the tile's last group, the moving averages and the tile's clip counts; in the last
// tile, the clip counts of all (n,c).
__device__ void finish_forward(NormShape s, int64_t tiles, int64_t n, int64_t c, bool in, float mean, float var,
                               const ForwardArgs& f, Counters k) {
  const bool mine = threadIdx.y == 0 && in;
  int flags = 0;
  if (mine) {
    const int64_t i = n * s.c + c;
    flags = renorm_forward_nc(mean, var, f.gamma[c], f.beta[c], f.run_mean[c], f.run_std[c], f.p, &f.invstd[i], &f.r[i],
                              &f.d[i], &f.a[i], &f.b[i]);
  }
  const int64_t tile = blockIdx.y;
  int* tile_clips = f.clips + 2 * s.n * tiles;
  if (threadIdx.y == 0) {  // warp 0: the group's 32 channels
    const int rc = __popc(__ballot_sync(0xffffffffu, flags & 1)), dc = __popc(__ballot_sync(0xffffffffu, flags & 2));
    if (threadIdx.x == 0) f.clips[2 * (n * tiles + tile)] = rc, f.clips[2 * (n * tiles + tile) + 1] = dc;
  }
  if (!arrive_last(&k.tile[tile], unsigned(s.n))) return;
  if (mine && f.p.update_running) {
    RunningSums sums;
    for (int64_t m = 0; m < s.n; ++m) sums.add(__ldcg(f.mean + m * s.c + c), __ldcg(f.var + m * s.c + c), f.p.eps);
    sums.update(s.n, f.p.alpha, &f.run_mean[c], &f.run_std[c]);
  }
  const bool first = threadIdx.x == 0 && threadIdx.y == 0;
  if (first) {
    int rc = 0, dc = 0;
    for (int64_t m = 0; m < s.n; ++m) rc += __ldcg(&f.clips[2 * (m * tiles + tile)]), dc += __ldcg(&f.clips[2 * (m * tiles + tile) + 1]);
    tile_clips[2 * tile] = rc, tile_clips[2 * tile + 1] = dc;
  }
  if (!arrive_last(k.all, unsigned(tiles)) || !first) return;
  int rc = 0, dc = 0;
  for (int64_t t = 0; t < tiles; ++t) rc += __ldcg(&tile_clips[2 * t]), dc += __ldcg(&tile_clips[2 * t + 1]);
  f.clip_counts[0] = float(rc), f.clip_counts[1] = float(dc);
}


// What the backward's per-(n,c) and per-channel steps read and write.
struct BackwardArgs {
  const float *gamma, *mean, *invstd, *r, *d;  // γ (C); the forward's saved (N,C)
  float rows;                                  // rows behind each sum (all ranks' with --sync-norm)
  const float *s1, *s2;                        // S1, S2 (N,C): read by the per-channel step
  float *p, *q, *sh;                           // dx = p·dy + q·x + sh (N,C)
  float *dgamma, *dbeta;                       // (C)
};

// As finish_forward: the dx coefficients of (n,c); in the tile's last group, dγ and dβ.
__device__ void finish_backward(NormShape s, int64_t n, int64_t c, bool in, float s1, float s2, const BackwardArgs& b,
                                Counters k) {
  const bool mine = threadIdx.y == 0 && in;
  if (mine) {
    const int64_t i = n * s.c + c;
    renorm_dx_coeffs(b.gamma[c], b.mean[i], b.invstd[i], b.r[i], s1, s2, b.rows, &b.p[i], &b.q[i], &b.sh[i]);
  }
  if (!arrive_last(&k.tile[blockIdx.y], unsigned(s.n)) || !mine) return;
  AffineGrads g;
  for (int64_t m = 0; m < s.n; ++m) {
    const int64_t i = m * s.c + c;
    g.add(b.r[i], b.d[i], __ldcg(b.s1 + i), __ldcg(b.s2 + i));
  }
  b.dgamma[c] = float(g.dgamma), b.dbeta[c] = float(g.dbeta);
}


// The forward's per-(n,c) scratch: the affine coefficients and the clip counts per group and tile.
struct ForwardScratch {
  Scratch ab, clips;
  ForwardScratch(NormShape s, int64_t tiles)
      : ab(size_t(2 * s.n * s.c) * sizeof(float)), clips(size_t(2 * (s.n * tiles + tiles)) * sizeof(int)) {}
  ForwardArgs args(const float* gamma, const float* beta, float* run_mean, float* run_std, RenormParams p,
                   const float* mean, const float* var, float* invstd, float* r, float* d, float* clip_counts,
                   NormShape s) const {
    float* a = ab.as<float>();
    return {.gamma = gamma, .beta = beta, .run_mean = run_mean, .run_std = run_std, .p = p, .mean = mean, .var = var,
            .invstd = invstd, .r = r, .d = d, .a = a, .b = a + s.n * s.c, .clips = clips.as<int>(),
            .clip_counts = clip_counts};
  }
};
BackwardArgs backward_args(const Scratch& coeffs, NormShape s, float rows, const float* sums, const float* gamma,
                           const float* save_mean, const float* save_invstd, const float* save_r, const float* save_d,
                           float* dgamma, float* dbeta) {
  const int64_t nc = s.n * s.c;
  float* k = coeffs.as<float>();
  return {.gamma = gamma, .mean = save_mean, .invstd = save_invstd, .r = save_r, .d = save_d, .rows = rows,
          .s1 = sums, .s2 = sums + nc, .p = k, .q = k + nc, .sh = k + 2 * nc, .dgamma = dgamma, .dbeta = dbeta};
}
}  // namespace

}  // namespace renorm::kernels::cuda
