// The caching allocator (CPU and CUDA), host-device copies and pinned staging buffers.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/allocator.h"

#include "runtime/cpu_isa.h"
#include "runtime/device.h"
#include "runtime/error.h"

#if RENORM_HAS_CUDA
#include "runtime/detail/cuda_context.h"
#endif

namespace renorm {

namespace {
std::atomic<int> g_exact{-1};  // -1: not decided yet (read RENORM_ALLOCATOR_EXACT on first use)
}  // namespace

void set_exact_allocation(bool on) { g_exact = on ? 1 : 0; }

bool exact_allocation() {
  int v = g_exact.load();
  if (v < 0) {
    const char* e = std::getenv("RENORM_ALLOCATOR_EXACT");
    v = e && std::string(e) == "1" ? 1 : 0;
    g_exact = v;
  }
  return v == 1;
}

size_t cuda_allocation_size(size_t bytes) {
  // Small blocks round to 512 bytes, large ones to 2 MiB, so the cache is reused across similar sizes.
  const size_t small = 512, large = size_t(2) << 20;
  if (bytes == 0) bytes = 1;
  if (exact_allocation()) return bytes;
  if (bytes < (size_t(1) << 20)) return (bytes + small - 1) / small * small;
  return (bytes + large - 1) / large * large;
}

namespace {
// The free lists. CPU blocks are cached too: a training step allocates the same sizes every step, and
// fresh large host blocks cost page faults each time. CUDA blocks are cached per device index: a live
// block remembers the device it came from and goes back to that device's list, whichever device is
// current when it is freed, so a block never moves between GPUs.
struct Cache {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;  // exact bucket size -> block
  CudaAllocatorStats stats;
};
// A live CUDA block's device, and the graph pool it came from (null: the device's cache).
struct Owner {
  int device = 0;
  Cache* pool = nullptr;
};
// A library's workspace (cuBLAS: runtime/detail/cuda_context.h): live blocks, the last one in use; one
// outgrown by a larger request stays live (work queued or captured before may still use it).
struct Workspace {
  std::vector<std::pair<void*, size_t>> blocks;
};
struct Caches {
  std::mutex mutex;                        // guards the maps
  std::map<int, Cache*> cuda;              // device index -> its cache (never destroyed)
  std::unordered_map<void*, Owner> owner;  // live CUDA block -> where it returns
  std::map<int, Workspace> workspaces;     // device index -> its library workspace (kept for the process)
  Cache cpu;
};
// Never destroyed: tensors may be freed during static destruction.
Caches& caches() {
  static Caches* c = new Caches();
  return *c;
}

int current_cuda_device() {
  int dev = 0;
#if RENORM_HAS_CUDA
  RENORM_CUDA_CHECK(cudaGetDevice(&dev));
#endif
  return dev;
}

Cache& cuda_cache(int dev) {
  Caches& all = caches();
  std::lock_guard<std::mutex> lock(all.mutex);
  Cache*& c = all.cuda[dev];
  if (!c) c = new Cache();
  return *c;
}

void* take_cached(Cache& c, size_t size) {
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.free_blocks.find(size);
  if (it == c.free_blocks.end()) return nullptr;
  void* p = it->second;
  c.free_blocks.erase(it);
  c.stats.bytes_cached -= size;
  c.stats.bytes_in_use += size;
  ++c.stats.cache_hits;
  return p;
}

void note_fresh(Cache& c, size_t size) {
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.bytes_in_use += size;
  ++c.stats.cuda_mallocs;
}

void give_back(Cache& c, void* p, size_t size) {
  std::lock_guard<std::mutex> lock(c.mutex);
  c.free_blocks.emplace(size, p);
  c.stats.bytes_in_use -= size;
  c.stats.bytes_cached += size;
}
}  // namespace

struct CudaPoolState {
  Cache cache;
  int device = 0;
  Workspace workspace;  // the library workspace of work inside the pool's scope (released with the pool)
};

namespace {
thread_local CudaPoolState* g_pool = nullptr;  // the pool of this thread's CudaPoolScope, if any

// True when the renorm stream of the current device is capturing a graph.
bool capturing() {
#if RENORM_HAS_CUDA
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  RENORM_CUDA_CHECK(cudaStreamIsCapturing(cuda::stream(), &status));
  return status != cudaStreamCaptureStatusNone;
#else
  return false;
#endif
}
}  // namespace

CudaPool::CudaPool() : state_(new CudaPoolState) { state_->device = cuda_available() ? current_cuda_device() : 0; }

CudaPool::~CudaPool() {
  for (const auto& [p, bytes] : state_->workspace.blocks) device_release(Device::CUDA, p, bytes);  // into the pool
  Cache& home = cuda_cache(state_->device);
  {
    Caches& all = caches();
    std::lock_guard<std::mutex> lock(all.mutex);
    for (auto& [p, o] : all.owner)
      if (o.pool == &state_->cache) o.pool = nullptr;  // live blocks return to the device cache
  }
  {
    std::scoped_lock lock(state_->cache.mutex, home.mutex);
    home.stats.bytes_in_use += state_->cache.stats.bytes_in_use;  // its live blocks are the device cache's now
    for (auto& [size, p] : state_->cache.free_blocks) {
      home.free_blocks.emplace(size, p);
      home.stats.bytes_cached += size;
    }
  }
  delete state_;
}

CudaAllocatorStats CudaPool::stats() const {
  std::lock_guard<std::mutex> lock(state_->cache.mutex);
  return state_->cache.stats;
}

CudaPoolScope::CudaPoolScope(CudaPool& pool) : previous_(g_pool) { g_pool = pool.state_; }
CudaPoolScope::~CudaPoolScope() { g_pool = previous_; }

CudaAllocatorStats cuda_allocator_stats() {
  Cache& c = cuda_cache(current_cuda_device());
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void cuda_empty_cache() {
#if RENORM_HAS_CUDA
  Cache& c = cuda_cache(current_cuda_device());
  std::lock_guard<std::mutex> lock(c.mutex);
  if (!c.free_blocks.empty()) RENORM_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto& [size, p] : c.free_blocks) {
    RENORM_CUDA_CHECK(cudaFree(p));
    c.stats.bytes_cached -= size;
  }
  c.free_blocks.clear();
#endif
}

void* device_allocate(Device d, size_t bytes) {
  const size_t size = cuda_allocation_size(bytes);
  if (d == Device::CPU) {
    Cache& c = caches().cpu;
    if (void* p = take_cached(c, size)) return p;
    check_cpu_isa_environment();  // a bad RENORM_CPU_ISA: one clear line at the first tensor (runtime/cpu_isa.h)
    void* p = nullptr;
    if (posix_memalign(&p, 64, size) != 0) p = nullptr;
    if (!p) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
    note_fresh(c, size);
    return p;
  }
#if RENORM_HAS_CUDA
  cuda::stream();  // ensures CUDA is available and the context exists
  const int dev = current_cuda_device();
  CudaPoolState* pool = g_pool && g_pool->device == dev ? g_pool : nullptr;
  Cache& c = pool ? pool->cache : cuda_cache(dev);
  void* p = take_cached(c, size);
  if (!p) {
    if (capturing())
      throw DeviceError("allocation of " + std::to_string(bytes) + " bytes while the renorm stream captures a graph" +
                        (pool ? ": the graph's pool holds no free block of that size (run the captured work once "
                                "uncaptured, inside the same pool, first)"
                              : " and outside a graph pool (CudaPoolScope)"));
    if (cudaMalloc(&p, size) != cudaSuccess) {
      cudaGetLastError();
      cuda_empty_cache();  // give cached blocks back and retry once
      RENORM_CUDA_CHECK(cudaMalloc(&p, size));
    }
    note_fresh(c, size);
  }
  Caches& all = caches();
  std::lock_guard<std::mutex> lock(all.mutex);
  all.owner[p] = Owner{dev, pool ? &pool->cache : nullptr};
  return p;
#else
  throw DeviceError("CUDA storage requested but " + cuda_unavailable_reason());
#endif
}

void* cuda_library_workspace(size_t bytes) {
#if RENORM_HAS_CUDA
  const int dev = current_cuda_device();
  CudaPoolState* pool = g_pool && g_pool->device == dev ? g_pool : nullptr;
  Caches& all = caches();
  Workspace* w = nullptr;
  {
    std::lock_guard<std::mutex> lock(all.mutex);
    w = pool ? &pool->workspace : &all.workspaces[dev];
    if (!w->blocks.empty() && w->blocks.back().second >= bytes) return w->blocks.back().first;
  }
  void* p = device_allocate(Device::CUDA, bytes);  // the pool's inside its scope; a DeviceError in a capture
  std::lock_guard<std::mutex> lock(all.mutex);
  w->blocks.emplace_back(p, bytes);
  return p;
#else
  throw DeviceError("a CUDA library workspace requested but " + cuda_unavailable_reason());
#endif
}

void device_release(Device d, void* p, size_t bytes) {
  if (!p) return;
  const size_t size = cuda_allocation_size(bytes);
  if (d == Device::CPU) return give_back(caches().cpu, p, size);
  Owner o;
  {
    Caches& all = caches();
    std::lock_guard<std::mutex> lock(all.mutex);
    auto it = all.owner.find(p);
    if (it != all.owner.end()) {
      o = it->second;
      all.owner.erase(it);
    }
  }
  // A block freed inside a pool's scope joins the pool whatever its origin: the captured work may still
  // use it before that free in its next replay, so it must not go to work outside the graph.
  if (!o.pool && g_pool && g_pool->device == o.device) {
    Cache& home = cuda_cache(o.device);
    std::scoped_lock lock(home.mutex, g_pool->cache.mutex);
    home.stats.bytes_in_use -= size;  // the block's accounting moves with it
    g_pool->cache.stats.bytes_in_use += size;
    o.pool = &g_pool->cache;
  }
  give_back(o.pool ? *o.pool : cuda_cache(o.device), p, size);
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::CPU && src_dev == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if RENORM_HAS_CUDA
  const cudaMemcpyKind kind = src_dev == Device::CPU   ? cudaMemcpyHostToDevice
                              : dst_dev == Device::CPU ? cudaMemcpyDeviceToHost
                                                       : cudaMemcpyDeviceToDevice;
  RENORM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, cuda::stream()));
  if (kind != cudaMemcpyDeviceToDevice) RENORM_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
#else
  throw DeviceError("copy involving CUDA memory but " + cuda_unavailable_reason());
#endif
}

void* pinned_allocate(size_t bytes) {
#if RENORM_HAS_CUDA
  if (cuda_available()) {
    void* p = nullptr;
    RENORM_CUDA_CHECK(cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocDefault));
    return p;
  }
#endif
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (!p) throw Error("out of host memory allocating " + std::to_string(bytes) + " staging bytes");
  return p;
}

void pinned_release(void* p) {
  if (!p) return;
#if RENORM_HAS_CUDA
  if (cuda_available()) {
    cudaFreeHost(p);
    return;
  }
#endif
  std::free(p);
}

#if RENORM_HAS_CUDA
namespace {
std::mutex g_upload_mutex;
std::map<uint64_t, cudaEvent_t>* g_uploads = new std::map<uint64_t, cudaEvent_t>();
uint64_t g_next_token = 1;
}  // namespace
#endif

uint64_t upload_async(void* dst, Device dst_dev, const void* src, size_t bytes) {
  if (dst_dev == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return 0;
  }
#if RENORM_HAS_CUDA
  cudaEvent_t ev;
  RENORM_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
  RENORM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda::stream()));
  RENORM_CUDA_CHECK(cudaEventRecord(ev, cuda::stream()));
  std::lock_guard<std::mutex> lock(g_upload_mutex);
  (*g_uploads)[g_next_token] = ev;
  return g_next_token++;
#else
  throw DeviceError("upload to CUDA memory but " + cuda_unavailable_reason());
#endif
}

void upload_wait(uint64_t token) {
  if (token == 0) return;
#if RENORM_HAS_CUDA
  cudaEvent_t ev;
  {
    std::lock_guard<std::mutex> lock(g_upload_mutex);
    auto it = g_uploads->find(token);
    if (it == g_uploads->end()) return;
    ev = it->second;
    g_uploads->erase(it);
  }
  RENORM_CUDA_CHECK(cudaEventSynchronize(ev));
  RENORM_CUDA_CHECK(cudaEventDestroy(ev));
#endif
}

}  // namespace renorm
