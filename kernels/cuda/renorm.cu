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
// Every kernel reading or writing x, dy, y or dx is templated on their storage T (float or bfloat16,
// widened to float on load, rounded on store): the statistics are float sums either way.
//
// Bytes (F = 4·N·R·C): moments F; forward 3F moved (x twice, y), 2F distinct (x's second read can be
// served by L2); backward 5F moved (x, dy twice, dx), 3F distinct; inference 2F. Partials and per-(n,c)
// values are O(N·C·chunks), about 1% of F at the CIFAR shapes (scripts/gpu-traffic.sh counts them).
#include "kernels/cuda/affine_apply.cuh"
#include "kernels/cuda/renorm_stats.cuh"
#include "runtime/allocator.h"

namespace renorm::kernels::cuda {

namespace {
// One thread's moments over its rows, streamed.
template <class T>
__device__ Moments thread_moments(const T* __restrict__ x, NormShape s, const Chunk& k) {
  if (thread_rows(k) == 0) return {0.f, 0.f, 0.f};
  const T* p = x + thread_first(s, k);
  const T* end = x + (k.n * s.rows + k.r1) * s.c;
  const int64_t step = kRowLanes * s.c;
  ShiftedSums a{widen(__ldg(p))};
#pragma unroll 4
  for (; p < end; p += step) a.add(widen(__ldg(p)));
  return a.moments();
}

// One thread's sums over its rows, streamed.
template <class T>
__device__ Sums thread_sums(const T* __restrict__ x, const T* __restrict__ dy, NormShape s, const Chunk& k, float mean,
                            float invstd) {
  if (thread_rows(k) == 0) return {0.f, 0.f};
  const int64_t first = thread_first(s, k), end = (k.n * s.rows + k.r1) * s.c;
  const int64_t step = kRowLanes * s.c;
  const T *xp = x + first, *gp = dy + first, *gend = dy + end;
  DySums a{mean};
#pragma unroll 4
  for (; gp < gend; gp += step, xp += step) a.add(widen(__ldg(gp)), widen(__ldg(xp)));
  return a.sums(invstd);
}

// The forward's statistics: partials, the group's merge by its last block, then (kFinish) the rest of
// the forward but the apply. μ_n, var_n go to mean_out, var_out (f.mean, f.var when kFinish).
template <bool kFinish, class T>
__global__ void __launch_bounds__(kStatsThreads)
    forward_stats(const T* __restrict__ x, NormShape s, Plan p, Moments* parts, float* mean_out, float* var_out,
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

template <bool kFinish, class T>
__global__ void __launch_bounds__(kStatsThreads)
    backward_stats(const T* __restrict__ x, const T* __restrict__ dy, NormShape s, Plan p, Sums* parts,
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

template <class T>
void moments(const T* x, NormShape s, float* mean, float* var) {
  if (s.numel() == 0) return;
  const Plan p = plan_stats(s);
  Scratch parts(size_t(s.n * p.per_n * s.c) * sizeof(Moments));
  launch<forward_stats<false, T>>(stats_grid(s, p), kStatsBlock, 0, x, s, p, parts.as<Moments>(), mean, var, ForwardArgs{},
                               counters_for(s, p.tiles));
}


template <class T>
void renorm_forward_train(const T* x, NormShape s, const float* gamma, const float* beta, float* run_mean,
                          float* run_std, RenormParams p, T* y, float* save_mean, float* save_invstd, float* save_r,
                          float* save_d, float* clip_counts) {
  if (s.numel() == 0) return;
  const Plan plan = plan_stats(s);
  Scratch parts(size_t(s.n * plan.per_n * s.c) * sizeof(Moments)), var(size_t(s.n * s.c) * sizeof(float));
  const ForwardScratch ws(s, plan.tiles);
  const ForwardArgs f = ws.args(gamma, beta, run_mean, run_std, p, save_mean, var.as<float>(), save_invstd, save_r,
                                save_d, clip_counts, s);
  launch<forward_stats<true, T>>(stats_grid(s, plan), kStatsBlock, 0, x, s, plan, parts.as<Moments>(), save_mean,
                              var.as<float>(), f, counters_for(s, plan.tiles));
  launch_apply<1>(x, static_cast<const T*>(nullptr), s, StoredCoeffs{f.a, nullptr, f.b}, y);
}

template <class T>
void renorm_forward_from_moments(const T* x, NormShape s, const float* mean, const float* var, const float* gamma,
                                 const float* beta, float* run_mean, float* run_std, RenormParams p, T* y,
                                 float* save_invstd, float* save_r, float* save_d, float* clip_counts) {
  if (s.numel() == 0) return;
  const int64_t tiles = (s.c + kLanes - 1) / kLanes;
  const ForwardScratch ws(s, tiles);
  const ForwardArgs f = ws.args(gamma, beta, run_mean, run_std, p, mean, var, save_invstd, save_r, save_d, clip_counts, s);
  launch<forward_finish>(dim3(unsigned(s.n), unsigned(tiles)), kLanes, 0, s, tiles, f, counters_for(s, tiles));
  launch_apply<1>(x, static_cast<const T*>(nullptr), s, StoredCoeffs{f.a, nullptr, f.b}, y);
}


template <class T>
void renorm_backward_sums(const T* x, const T* dy, NormShape s, const float* save_mean,
                          const float* save_invstd, float* sums) {
  if (s.numel() == 0) return;
  const Plan p = plan_stats(s);
  Scratch parts(size_t(s.n * p.per_n * s.c) * sizeof(Sums));
  BackwardArgs b{};
  b.mean = save_mean, b.invstd = save_invstd;
  launch<backward_stats<false, T>>(stats_grid(s, p), kStatsBlock, 0, x, dy, s, p, parts.as<Sums>(), sums, sums + s.n * s.c,
                                b, counters_for(s, p.tiles));
}

template <class T>
void renorm_backward_from_sums(const T* x, const T* dy, NormShape s, const float* sums, float rows,
                               const float* gamma, const float* save_mean, const float* save_invstd,
                               const float* save_r, const float* save_d, T* dx, float* dgamma, float* dbeta) {
  if (s.numel() == 0) return;
  const int64_t tiles = (s.c + kLanes - 1) / kLanes;
  Scratch coeffs(size_t(3 * s.n * s.c) * sizeof(float));
  const BackwardArgs b = backward_args(coeffs, s, rows, sums, gamma, save_mean, save_invstd, save_r, save_d, dgamma, dbeta);
  launch<backward_finish>(dim3(unsigned(s.n), unsigned(tiles)), kLanes, 0, s, b, counters_for(s, tiles));
  launch_apply<2>(dy, x, s, StoredCoeffs{b.p, b.q, b.sh}, dx);
}

template <class T>
void renorm_backward(const T* x, const T* dy, NormShape s, const float* gamma, const float* save_mean,
                     const float* save_invstd, const float* save_r, const float* save_d, T* dx, float* dgamma,
                     float* dbeta) {
  if (s.numel() == 0) return;
  const Plan p = plan_stats(s);
  Scratch parts(size_t(s.n * p.per_n * s.c) * sizeof(Sums)), sums(size_t(2 * s.n * s.c) * sizeof(float));
  Scratch coeffs(size_t(3 * s.n * s.c) * sizeof(float));
  float* s1 = sums.as<float>();
  const BackwardArgs b =
      backward_args(coeffs, s, float(s.rows), s1, gamma, save_mean, save_invstd, save_r, save_d, dgamma, dbeta);
  launch<backward_stats<true, T>>(stats_grid(s, p), kStatsBlock, 0, x, dy, s, p, parts.as<Sums>(), s1, s1 + s.n * s.c, b,
                               counters_for(s, p.tiles));
  launch_apply<2>(dy, x, s, StoredCoeffs{b.p, b.q, b.sh}, dx);
}

template <class T>
void renorm_inference(const T* x, int64_t rows, int64_t c, const float* gamma, const float* beta, const float* run_mean,
                 const float* run_std, T* y) {
  if (rows * c == 0) return;
  launch_apply<1>(x, static_cast<const T*>(nullptr), NormShape{1, rows, c}, InferenceCoeffs{gamma, beta, run_mean, run_std}, y);
}
RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_RENORM_T)

void merge_moments(const float* parts, int64_t k, int64_t c, float* mean, float* var) {
  launch_n<merge_moments_kernel>(c, parts, k, c, mean, var);
}

}  // namespace renorm::kernels::cuda
