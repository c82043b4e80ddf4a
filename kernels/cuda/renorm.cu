// CUDA microbatch moments and Batch Renorm. x: (N,R,C) row-major (NHWC viewed as (N,M,H,W,C)).
//
// Two launches per training pass, one for inference (issue 23):
// - statistics: grid (N·chunks, ceil(C/32)), block 32 channel lanes (threadIdx.x: a warp reads 128
//   contiguous bytes of a row, NHWC-coalesced) × 8 row lanes. A block reduces one chunk of rows of one
//   microbatch for 32 channels (forward: shifted sums Σ(x−K), Σ(x−K)² per thread, K its first value, no
//   division per element, merged with Chan's formula; backward: Σdy and Σdy·(x−μ_n)) into a partial
//   per (n, chunk, c). The last block of a group (n, 32 channels) to finish (arrive_last,
//   kernels/cuda/arrival.cuh) merges the group's partials in chunk order, so the result does not depend
//   on which block was last, and does the per-(n,c) step (kernels/renorm.h): σ_n, r_n, d_n and the
//   affine coefficients forward, the dx coefficients backward. The last group of a 32-channel tile over
//   n does the per-channel step, summing over n in order: the moving averages and the clip counts
//   forward (the clip counts' last tile over all tiles), dγ and dβ backward.
// - apply: y = a·x + b (dx = p·dy + q·x + s). Grid (N, blocks per microbatch); each thread keeps one
//   float4 column of channels for its whole loop (its coefficients in registers, the stride a multiple
//   of the row) and strides over the microbatch's rows with pointer steps: no division or 64-bit
//   multiply per element. Inference is this kernel alone, the coefficients from γ, β, μ, σ per thread.
// No host synchronization; workspaces come from the caching allocator, counters from arrival_counters.
//
// Bytes (F = 4·N·R·C): moments F; forward 3F moved (x twice, y), 2F distinct (x's second read can be
// served by L2); backward 5F moved (x, dy twice, dx), 3F distinct; inference 2F. Partials and per-(n,c)
// values are O(N·C·chunks), about 1% of F at the CIFAR shapes (scripts/gpu-traffic.sh counts them).
#include <algorithm>

#include "kernels/cuda/affine_apply.cuh"
#include "kernels/cuda/arrival.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/renorm.h"
#include "runtime/allocator.h"

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

// One thread's moments over its rows, as shifted sums (K = its first value: no division per element).
__device__ Moments thread_moments(const float* __restrict__ x, NormShape s, const Chunk& k) {
  if (!k.in || k.r0 + threadIdx.y >= k.r1) return {0.f, 0.f, 0.f};
  const float* p = x + (k.n * s.rows + k.r0 + threadIdx.y) * s.c + k.c;
  const float* end = x + (k.n * s.rows + k.r1) * s.c;
  const int64_t step = kRowLanes * s.c;
  const float shift = __ldg(p);
  float s1 = 0.f, s2 = 0.f, cnt = 0.f;
#pragma unroll 4
  for (; p < end; p += step) {
    const float v = __ldg(p) - shift;
    s1 += v;
    s2 = fmaf(v, v, s2);
    cnt += 1.f;
  }
  const float dm = s1 / cnt;
  return {cnt, shift + dm, fmaxf(0.f, s2 - s1 * dm)};
}

// One thread's S1 = Σdy and S2 = Σdy·x̃ over its rows.
__device__ Sums thread_sums(const float* __restrict__ x, const float* __restrict__ dy, NormShape s, const Chunk& k,
                            float mean, float invstd) {
  if (!k.in || k.r0 + threadIdx.y >= k.r1) return {0.f, 0.f};
  const int64_t first = (k.n * s.rows + k.r0 + threadIdx.y) * s.c + k.c, end = (k.n * s.rows + k.r1) * s.c;
  const int64_t step = kRowLanes * s.c;
  const float *xp = x + first, *gp = dy + first, *gend = dy + end;
  float t1 = 0.f, t2 = 0.f;
#pragma unroll 4
  for (; gp < gend; gp += step, xp += step) {
    const float g = __ldg(gp);
    t1 += g;
    t2 = fmaf(g, __ldg(xp) - mean, t2);
  }
  return {t1, t2 * invstd};
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

// The forward's statistics: partials, the group's merge by its last block, then (kFinish) the rest of
// the forward but the apply. μ_n, var_n go to mean_out, var_out (f.mean, f.var when kFinish).
template <bool kFinish>
__global__ void __launch_bounds__(kStatsThreads)
    forward_stats(const float* __restrict__ x, NormShape s, Plan p, Moments* parts, float* mean_out, float* var_out,
                  ForwardArgs f, Counters ctr) {
  const Chunk k = my_chunk(s, p);
  const Moments m = merge_lanes(thread_moments(x, s, k));
  if (threadIdx.y == 0 && k.in) parts[int64_t(blockIdx.x) * s.c + k.c] = m;
  if (!arrive_last(&ctr.group[k.n * p.tiles + blockIdx.y], unsigned(p.per_n))) return;
  const Moments g = merge_group(parts, s, p, k, Moments{0.f, 0.f, 0.f});
  const float var = g.m2 / g.count;
  if (threadIdx.y == 0 && k.in) mean_out[k.n * s.c + k.c] = g.mean, var_out[k.n * s.c + k.c] = var;
  if constexpr (kFinish) finish_forward(s, p.tiles, k.n, k.c, k.in, g.mean, var, f, ctr);
}

// The forward from given moments (--sync-norm): grid (N, tiles), block 32.
__global__ void __launch_bounds__(kLanes) forward_finish(NormShape s, int64_t tiles, ForwardArgs f, Counters ctr) {
  const int64_t n = blockIdx.x, c = int64_t(blockIdx.y) * kLanes + threadIdx.x;
  const bool in = c < s.c;
  finish_forward(s, tiles, n, c, in, in ? f.mean[n * s.c + c] : 0.f, in ? f.var[n * s.c + c] : 0.f, f, ctr);
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

template <bool kFinish>
__global__ void __launch_bounds__(kStatsThreads)
    backward_stats(const float* __restrict__ x, const float* __restrict__ dy, NormShape s, Plan p, Sums* parts,
                   float* s1_out, float* s2_out, BackwardArgs b, Counters ctr) {
  const Chunk k = my_chunk(s, p);
  const int64_t i = k.n * s.c + k.c;
  const Sums m = merge_lanes(thread_sums(x, dy, s, k, k.in ? b.mean[i] : 0.f, k.in ? b.invstd[i] : 0.f));
  if (threadIdx.y == 0 && k.in) parts[int64_t(blockIdx.x) * s.c + k.c] = m;
  if (!arrive_last(&ctr.group[k.n * p.tiles + blockIdx.y], unsigned(p.per_n))) return;
  const Sums g = merge_group(parts, s, p, k, Sums{0.f, 0.f});
  if (threadIdx.y == 0 && k.in) s1_out[i] = g.s1, s2_out[i] = g.s2;
  if constexpr (kFinish) finish_backward(s, k.n, k.c, k.in, g.s1, g.s2, b, ctr);
}

// The backward from given sums (--sync-norm): grid (N, tiles), block 32.
__global__ void __launch_bounds__(kLanes) backward_finish(NormShape s, BackwardArgs b, Counters ctr) {
  const int64_t n = blockIdx.x, c = int64_t(blockIdx.y) * kLanes + threadIdx.x;
  const bool in = c < s.c;
  finish_backward(s, n, c, in, in ? b.s1[n * s.c + c] : 0.f, in ? b.s2[n * s.c + c] : 0.f, b, ctr);
}

// --sync-norm: thread per channel, the ranks' moments merged in rank order (kernels/renorm.h).
__global__ void __launch_bounds__(kThreads)
    merge_moments_kernel(const float* parts, int64_t k, int64_t c, float* mean, float* var) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < c; j += int64_t(gridDim.x) * blockDim.x)
    merge_moments_channel(parts, k, c, j, mean, var);
}
}  // namespace

void moments(const float* x, NormShape s, float* mean, float* var) {
  if (s.numel() == 0) return;
  const Plan p = plan_stats(s);
  Scratch parts(size_t(s.n * p.per_n * s.c) * sizeof(Moments));
  launch<forward_stats<false>>(stats_grid(s, p), kStatsBlock, 0, x, s, p, parts.as<Moments>(), mean, var, ForwardArgs{},
                               counters_for(s, p.tiles));
}

namespace {
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
}  // namespace

void renorm_forward_train(const float* x, NormShape s, const float* gamma, const float* beta, float* run_mean,
                          float* run_std, RenormParams p, float* y, float* save_mean, float* save_invstd, float* save_r,
                          float* save_d, float* clip_counts) {
  if (s.numel() == 0) return;
  const Plan plan = plan_stats(s);
  Scratch parts(size_t(s.n * plan.per_n * s.c) * sizeof(Moments)), var(size_t(s.n * s.c) * sizeof(float));
  const ForwardScratch ws(s, plan.tiles);
  const ForwardArgs f = ws.args(gamma, beta, run_mean, run_std, p, save_mean, var.as<float>(), save_invstd, save_r,
                                save_d, clip_counts, s);
  launch<forward_stats<true>>(stats_grid(s, plan), kStatsBlock, 0, x, s, plan, parts.as<Moments>(), save_mean,
                              var.as<float>(), f, counters_for(s, plan.tiles));
  launch_apply<1>(x, nullptr, s, StoredCoeffs{f.a, nullptr, f.b}, y);
}

void renorm_forward_from_moments(const float* x, NormShape s, const float* mean, const float* var, const float* gamma,
                                 const float* beta, float* run_mean, float* run_std, RenormParams p, float* y,
                                 float* save_invstd, float* save_r, float* save_d, float* clip_counts) {
  if (s.numel() == 0) return;
  const int64_t tiles = (s.c + kLanes - 1) / kLanes;
  const ForwardScratch ws(s, tiles);
  const ForwardArgs f = ws.args(gamma, beta, run_mean, run_std, p, mean, var, save_invstd, save_r, save_d, clip_counts, s);
  launch<forward_finish>(dim3(unsigned(s.n), unsigned(tiles)), kLanes, 0, s, tiles, f, counters_for(s, tiles));
  launch_apply<1>(x, nullptr, s, StoredCoeffs{f.a, nullptr, f.b}, y);
}

namespace {
BackwardArgs backward_args(const Scratch& coeffs, NormShape s, float rows, const float* sums, const float* gamma,
                           const float* save_mean, const float* save_invstd, const float* save_r, const float* save_d,
                           float* dgamma, float* dbeta) {
  const int64_t nc = s.n * s.c;
  float* k = coeffs.as<float>();
  return {.gamma = gamma, .mean = save_mean, .invstd = save_invstd, .r = save_r, .d = save_d, .rows = rows,
          .s1 = sums, .s2 = sums + nc, .p = k, .q = k + nc, .sh = k + 2 * nc, .dgamma = dgamma, .dbeta = dbeta};
}
}  // namespace

void renorm_backward_sums(const float* x, const float* dy, NormShape s, const float* save_mean,
                          const float* save_invstd, float* sums) {
  if (s.numel() == 0) return;
  const Plan p = plan_stats(s);
  Scratch parts(size_t(s.n * p.per_n * s.c) * sizeof(Sums));
  BackwardArgs b{};
  b.mean = save_mean, b.invstd = save_invstd;
  launch<backward_stats<false>>(stats_grid(s, p), kStatsBlock, 0, x, dy, s, p, parts.as<Sums>(), sums, sums + s.n * s.c,
                                b, counters_for(s, p.tiles));
}

void renorm_backward_from_sums(const float* x, const float* dy, NormShape s, const float* sums, float rows,
                               const float* gamma, const float* save_mean, const float* save_invstd,
                               const float* save_r, const float* save_d, float* dx, float* dgamma, float* dbeta) {
  if (s.numel() == 0) return;
  const int64_t tiles = (s.c + kLanes - 1) / kLanes;
  Scratch coeffs(size_t(3 * s.n * s.c) * sizeof(float));
  const BackwardArgs b = backward_args(coeffs, s, rows, sums, gamma, save_mean, save_invstd, save_r, save_d, dgamma, dbeta);
  launch<backward_finish>(dim3(unsigned(s.n), unsigned(tiles)), kLanes, 0, s, b, counters_for(s, tiles));
  launch_apply<2>(dy, x, s, StoredCoeffs{b.p, b.q, b.sh}, dx);
}

void renorm_backward(const float* x, const float* dy, NormShape s, const float* gamma, const float* save_mean,
                     const float* save_invstd, const float* save_r, const float* save_d, float* dx, float* dgamma,
                     float* dbeta) {
  if (s.numel() == 0) return;
  const Plan p = plan_stats(s);
  Scratch parts(size_t(s.n * p.per_n * s.c) * sizeof(Sums)), sums(size_t(2 * s.n * s.c) * sizeof(float));
  Scratch coeffs(size_t(3 * s.n * s.c) * sizeof(float));
  float* s1 = sums.as<float>();
  const BackwardArgs b =
      backward_args(coeffs, s, float(s.rows), s1, gamma, save_mean, save_invstd, save_r, save_d, dgamma, dbeta);
  launch<backward_stats<true>>(stats_grid(s, p), kStatsBlock, 0, x, dy, s, p, parts.as<Sums>(), s1, s1 + s.n * s.c, b,
                               counters_for(s, p.tiles));
  launch_apply<2>(dy, x, s, StoredCoeffs{b.p, b.q, b.sh}, dx);
}

void merge_moments(const float* parts, int64_t k, int64_t c, float* mean, float* var) {
  launch_n<merge_moments_kernel>(c, parts, k, c, mean, var);
}

void renorm_inference(const float* x, int64_t rows, int64_t c, const float* gamma, const float* beta,
                      const float* run_mean, const float* run_std, float* y) {
  if (rows * c == 0) return;
  launch_apply<1>(x, nullptr, NormShape{1, rows, c}, InferenceCoeffs{gamma, beta, run_mean, run_std}, y);
}

}  // namespace renorm::kernels::cuda
