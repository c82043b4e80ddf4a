// Memory for tensor storage: 64-byte aligned host memory on the CPU, cudaMalloc on CUDA, both behind a
// caching allocator — freed blocks are kept in size buckets and handed out again (no cudaMalloc/cudaFree,
// which would synchronize the device; no fresh host pages to fault in every training step). All renorm work runs on one stream per device, so a block released by one
// op and reused by the next is ordered by the stream itself.
#pragma once
#include <cstddef>

#include "runtime/device.h"

namespace renorm {

void* device_allocate(Device d, size_t bytes);
void device_release(Device d, void* p, size_t bytes);

struct CudaAllocatorStats {
  size_t bytes_in_use = 0;     // handed out to live tensors
  size_t bytes_cached = 0;     // kept for reuse
  size_t cuda_mallocs = 0;     // calls to cudaMalloc so far
  size_t cache_hits = 0;       // allocations served from the cache
};
CudaAllocatorStats cuda_allocator_stats();
// Returns every cached block to the driver.
void cuda_empty_cache();
// How many arrival counters (kernels/cuda/arrival.cuh: the last-block merges) the current device has:
// 0 before the first launch that needs one (exposed for tests).
size_t cuda_arrival_counter_capacity();
// The bucket a request of `bytes` is rounded up to (exposed for tests).
size_t cuda_allocation_size(size_t bytes);
// Exact-size mode, for tests: every block is exactly the size asked for (no bucket rounding, on the CPU
// and on CUDA), so AddressSanitizer sees an overrun that the rounding would hide. Off by default; on
// when RENORM_ALLOCATOR_EXACT=1 is in the environment or after set_exact_allocation(true). Switch it
// only while no block is cached.
void set_exact_allocation(bool on);
bool exact_allocation();

// A graph-private memory pool (issue 26). While a CudaPoolScope names it on this thread, CUDA
// allocations come from the pool's own free lists (a fresh cudaMalloc when it has no block of the size:
// never while the renorm stream is capturing, where that is a DeviceError — warm the pool up with the
// same work uncaptured first), and a block taken from the pool goes back to it when freed, by whichever
// thread or scope, as does any block freed inside the scope (the captured work may use it before that
// free on its next replay): memory a captured graph reads or writes is never handed to work outside it. Destroy
// the graphs that use a pool before the pool; its cached and still-live blocks then belong to the device
// cache again.
struct CudaPoolState;
class CudaPool {
 public:
  CudaPool();
  ~CudaPool();
  CudaPool(const CudaPool&) = delete;
  CudaPool& operator=(const CudaPool&) = delete;
  CudaAllocatorStats stats() const;

 private:
  friend class CudaPoolScope;
  CudaPoolState* state_;
};

// A workspace of at least `bytes` for a CUDA library's calls on the current device (cuBLAS:
// cublasSetWorkspace), so that the library allocates nothing of its own — inside a captured graph that
// would be memory nodes. Inside a CudaPoolScope it is the pool's (made at the first request in its
// scope, live until the pool is destroyed), else the device's (live for the process); the same block
// for every request that fits it. Allocating one while the stream captures is the pool's DeviceError.
void* cuda_library_workspace(size_t bytes);

class CudaPoolScope {
 public:
  explicit CudaPoolScope(CudaPool& pool);
  ~CudaPoolScope();
  CudaPoolScope(const CudaPoolScope&) = delete;
  CudaPoolScope& operator=(const CudaPoolScope&) = delete;

 private:
  CudaPoolState* previous_;
};

}  // namespace renorm

namespace renorm {
// Copies `bytes` between any two devices. Device-side copies are queued on the renorm stream; a copy
// whose destination is host memory waits for it (that is the one host-device sync: reporting).
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);
}  // namespace renorm

namespace renorm {
// Host staging buffers for uploads: page-locked (cudaHostAlloc) when CUDA is available, so copies from
// them run asynchronously; plain aligned memory otherwise.
void* pinned_allocate(size_t bytes);
void pinned_release(void* p);
// Queues a host-to-device copy on the renorm stream without waiting for it and returns a token; wait on
// the token (upload_wait) before writing into the host buffer again. On a CPU destination it copies at
// once and returns 0.
uint64_t upload_async(void* dst, Device dst_dev, const void* src, size_t bytes);
void upload_wait(uint64_t token);
// Queues a small host-to-device copy on the renorm stream (per-step values: tensor/step_scalars.h, a
// dropout step word) through a ring of page-locked staging slots (runtime/staging.cpp): `src` is copied
// into the next slot at once, so it may be written again on return — no token to wait for — and the
// device copy reads the slot asynchronously, as a copy from pageable memory would not (CUDA may stage
// that one and wait for the stream). A slot is reused only once its last copy has completed (an event
// per slot), so the host may run ahead of the device by the ring's length. While the renorm stream
// captures a graph it is a DeviceError: the graph would replay the slot's bytes of that moment, not
// the values of later steps. On a CPU destination it copies at once.
void upload_small_async(void* dst, Device dst_dev, const void* src, size_t bytes);
}  // namespace renorm
