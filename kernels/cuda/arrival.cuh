// "The last block to finish": a kernel whose blocks each write a partial result, and whose last block
// of a group merges them, in the same launch (no second launch, no host round trip). The group's
// counter comes from ::renorm::cuda::arrival_counters (zero between launches).
//
//   write partials;  if (!arrive_last(&counter, blocks_in_group)) return;  merge with __ldcg reads
//
// Every thread of the block calls it (block-uniform). Before counting, __threadfence makes the block's
// writes visible device-wide; the block that takes the count to `expected` gets true in every thread,
// resets the counter for the next launch, and fences again before it reads. It must read what other
// blocks wrote with __ldcg (through L2): its multiprocessor's L1 may hold an older copy of a line. Which
// block is last depends on scheduling, so what it computes must not: merge in a fixed order.
#pragma once
#include "kernels/cuda/launch.cuh"  // the device macros (and, under the emulator, their host definitions)

namespace renorm::kernels::cuda {

// static: internal linkage, so that under the emulator (where __shared__ is a static in one linker
// section) `last` is not a COMDAT variable, which GCC will not put beside a kernel's own shared arrays.
static __device__ __forceinline__ bool arrive_last(unsigned* counter, unsigned expected) {
  __shared__ int last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) {
    last = atomicAdd(counter, 1u) == expected - 1;
    if (last) atomicExch(counter, 0u);
  }
  __syncthreads();
  const bool mine = last != 0;
  __threadfence();
  return mine;
}

}  // namespace renorm::kernels::cuda
