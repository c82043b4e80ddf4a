// The cooperative single launch of the Batch Renorm forward and backward (issue 23): the same steps as
// the two launches of kernels/cuda/renorm.cu, with the apply in the same launch, so that x (and dy)
// are read from memory once and kept in registers across two grid barriers:
//   1. each block holds its chunk (at most kHold rows per thread, 8 row lanes × 32 channel lanes), and
//      writes its partial (moments forward, S1 and S2 backward);          grid_sync()
//   2. the first block of each group (n, 32 channels) merges the group's partials in chunk order and
//      runs finish_forward / finish_backward (the per-(n,c) step; the tile's last group the moving
//      averages and clip counts, or dγ and dβ), exactly as the statistics kernel's last block does;
//                                                                            grid_sync()
//   3. every block applies the (n,c) coefficients to the values it holds and writes y (dx).
// Only where the device holds the whole grid at once (resident_blocks: the occupancy query) and each
// thread's rows fit in kHold registers; otherwise the entry points return false and launch nothing.
// Bytes: forward F read + F written (2F), backward 2F read + F written (3F): each input once.
#include <optional>

#include "kernels/cuda/affine_apply.cuh"
#include "kernels/cuda/renorm_stats.cuh"

namespace renorm::kernels::cuda {

namespace {
constexpr int kHold = 16;  // rows of x (and of dy) one thread keeps in registers

// This thread's `rows` rows of src (rows ≤ kHold) into registers, zeros after them.
__device__ __forceinline__ void hold(const float* __restrict__ src, NormShape s, const Chunk& k, int64_t rows,
                                     float (&v)[kHold]) {
  const float* p = rows > 0 ? src + thread_first(s, k) : src;
  const int64_t step = kRowLanes * s.c;
#pragma unroll
  for (int j = 0; j < kHold; ++j) v[j] = j < rows ? __ldg(p + j * step) : 0.f;
}

// out's rows of this thread = p·in0 + q·in1 + sh (affine_term), from the values held.
template <int TERMS>
__device__ __forceinline__ void apply_held(float* __restrict__ out, NormShape s, const Chunk& k, int64_t rows,
                                           float p, const float (&in0)[kHold], float q, const float (&in1)[kHold],
                                           float sh) {
  if (rows == 0) return;
  float* o = out + thread_first(s, k);
  const int64_t step = kRowLanes * s.c;
#pragma unroll
  for (int j = 0; j < kHold; ++j)
    if (j < rows) o[j * step] = affine_term<TERMS>(p, in0[j], q, in1[j], sh);
}

__device__ __forceinline__ bool finishes_group(Plan p) { return blockIdx.x % p.per_n == 0; }

__global__ void __launch_bounds__(kStatsThreads)
    forward_coop(const float* __restrict__ x, NormShape s, Plan p, Moments* parts, float* mean_out, float* var_out,
                 ForwardArgs f, Counters ctr, float* __restrict__ y) {
  const Chunk k = my_chunk(s, p);
  const int64_t rows = thread_rows(k);
  float v[kHold];
  hold(x, s, k, rows, v);
  ShiftedSums a{v[0]};
#pragma unroll
  for (int j = 0; j < kHold; ++j)
    if (j < rows) a.add(v[j]);
  const Moments m = merge_lanes(a.moments());
  if (threadIdx.y == 0 && k.in) parts[int64_t(blockIdx.x) * s.c + k.c] = m;
  grid_sync();
  if (finishes_group(p)) {  // block-uniform
    const Moments g = merge_group(parts, s, p, k, Moments{0.f, 0.f, 0.f});
    const float var = g.m2 / g.count;
    if (threadIdx.y == 0 && k.in) mean_out[k.n * s.c + k.c] = g.mean, var_out[k.n * s.c + k.c] = var;
    finish_forward(s, p.tiles, k.n, k.c, k.in, g.mean, var, f, ctr);
  }
  grid_sync();
  const int64_t i = k.n * s.c + k.c;
  if (rows > 0) apply_held<1>(y, s, k, rows, __ldcg(f.a + i), v, 0.f, v, __ldcg(f.b + i));
}

__global__ void __launch_bounds__(kStatsThreads)
    backward_coop(const float* __restrict__ x, const float* __restrict__ dy, NormShape s, Plan p, Sums* parts,
                  float* s1_out, float* s2_out, BackwardArgs b, Counters ctr, float* __restrict__ dx) {
  const Chunk k = my_chunk(s, p);
  const int64_t rows = thread_rows(k), i = k.n * s.c + k.c;
  float xv[kHold], gv[kHold];
  hold(x, s, k, rows, xv);
  hold(dy, s, k, rows, gv);
  DySums a{k.in ? b.mean[i] : 0.f};
#pragma unroll
  for (int j = 0; j < kHold; ++j)
    if (j < rows) a.add(gv[j], xv[j]);
  const Sums m = merge_lanes(a.sums(k.in ? b.invstd[i] : 0.f));
  if (threadIdx.y == 0 && k.in) parts[int64_t(blockIdx.x) * s.c + k.c] = m;
  grid_sync();
  if (finishes_group(p)) {
    const Sums g = merge_group(parts, s, p, k, Sums{0.f, 0.f});
    if (threadIdx.y == 0 && k.in) s1_out[i] = g.s1, s2_out[i] = g.s2;
    finish_backward(s, k.n, k.c, k.in, g.s1, g.s2, b, ctr);
  }
  grid_sync();
  if (rows > 0) apply_held<2>(dx, s, k, rows, __ldcg(b.p + i), gv, __ldcg(b.q + i), xv, __ldcg(b.sh + i));
}

// Chunks of at most 8·kHold rows, as many as plan_stats uses when that is more (to fill the device), or
// the fewest; none when even that grid is more than the device holds at once.
std::optional<Plan> plan_cooperative(NormShape s, int64_t resident) {
  const Plan fill = plan_stats(s);
  const int64_t least = (s.rows + kRowLanes * kHold - 1) / (kRowLanes * kHold);
  for (const int64_t want : {std::max(least, fill.per_n), least}) {
    const int64_t rows = (s.rows + want - 1) / want;
    const Plan p{(s.rows + rows - 1) / rows, rows, fill.tiles};
    if (s.n * p.per_n * p.tiles <= resident && s.n * p.per_n <= 0x7fffffff && p.tiles <= 65535) return p;
  }
  return std::nullopt;
}
}  // namespace

bool renorm_forward_train_cooperative(const float* x, NormShape s, const float* gamma, const float* beta,
                                      float* run_mean, float* run_std, RenormParams p, float* y, float* save_mean,
                                      float* save_invstd, float* save_r, float* save_d, float* clip_counts) {
  if (s.numel() == 0) return true;
  const std::optional<Plan> plan = plan_cooperative(s, resident_blocks<forward_coop, kStatsThreads>());
  if (!plan) return false;
  Scratch parts(size_t(s.n * plan->per_n * s.c) * sizeof(Moments)), var(size_t(s.n * s.c) * sizeof(float));
  const ForwardScratch ws(s, plan->tiles);
  const ForwardArgs f = ws.args(gamma, beta, run_mean, run_std, p, save_mean, var.as<float>(), save_invstd, save_r,
                                save_d, clip_counts, s);
  launch_cooperative<forward_coop>(stats_grid(s, *plan), kStatsBlock, 0, x, s, *plan, parts.as<Moments>(), save_mean,
                                   var.as<float>(), f, counters_for(s, plan->tiles), y);
  return true;
}

bool renorm_backward_cooperative(const float* x, const float* dy, NormShape s, const float* gamma,
                                 const float* save_mean, const float* save_invstd, const float* save_r,
                                 const float* save_d, float* dx, float* dgamma, float* dbeta) {
  if (s.numel() == 0) return true;
  const std::optional<Plan> plan = plan_cooperative(s, resident_blocks<backward_coop, kStatsThreads>());
  if (!plan) return false;
  Scratch parts(size_t(s.n * plan->per_n * s.c) * sizeof(Sums)), sums(size_t(2 * s.n * s.c) * sizeof(float));
  Scratch coeffs(size_t(3 * s.n * s.c) * sizeof(float));
  float* s1 = sums.as<float>();
  const BackwardArgs b =
      backward_args(coeffs, s, float(s.rows), s1, gamma, save_mean, save_invstd, save_r, save_d, dgamma, dbeta);
  launch_cooperative<backward_coop>(stats_grid(s, *plan), kStatsBlock, 0, x, dy, s, *plan, parts.as<Sums>(), s1,
                                    s1 + s.n * s.c, b, counters_for(s, plan->tiles), dx);
  return true;
}

}  // namespace renorm::kernels::cuda
