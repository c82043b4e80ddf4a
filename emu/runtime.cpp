// The emulator's host-side CUDA runtime (its errors: errors.cpp): the emulated device and its properties, memory
// (tracked, so that a copy or memset naming host memory as device memory, or the reverse, is an
// error), streams and events. All work is done when it is queued, so every stream is in order.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "emulator.h"

struct CUstream_st {
  unsigned flags;
};
struct CUevent_st {
  unsigned flags;
  bool recorded;
  double ms;
};

namespace renorm_emu {
namespace {
thread_local int t_device = 0;        // the current device of this thread

struct Registry {
  std::mutex mutex;
  std::map<uintptr_t, size_t> device;  // base -> bytes
  std::map<uintptr_t, size_t> pinned;  // cudaHostAlloc'd host memory: base -> bytes
  std::set<cudaStream_t> streams;
  std::set<cudaEvent_t> events;
};
Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: memory may be freed during exit
  return *r;
}

// An integer setting in [1, hi] from the environment, `fallback` when unset; a bad value sets *error.
int env_int(const char* name, int fallback, int hi, std::string* error) {
  const char* e = std::getenv(name);
  if (!e || !*e) return fallback;
  char* end = nullptr;
  const long v = std::strtol(e, &end, 10);
  if (!*end && v >= 1 && v <= hi) return int(v);
  *error = std::string(name) + "='" + e + "' is not an integer in [1, " + std::to_string(hi) + "]";
  return fallback;
}

DeviceConfig make_config() {
  DeviceConfig c{};
  cudaDeviceProp& p = c.prop;
  p.totalGlobalMem = size_t(80) << 30;
  p.sharedMemPerBlock = 48 * 1024;
  p.sharedMemPerBlockOptin = 227 * 1024;
  p.regsPerBlock = 65536;
  p.maxThreadsPerMultiProcessor = 2048;
  p.maxBlocksPerMultiProcessor = 32;
  p.sharedMemPerMultiprocessor = 228 * 1024;
  p.cooperativeLaunch = 1;
  p.warpSize = 32;
  p.maxThreadsPerBlock = 1024;
  p.maxThreadsDim[0] = p.maxThreadsDim[1] = 1024;
  p.maxThreadsDim[2] = 64;
  p.maxGridSize[0] = 2147483647;
  p.maxGridSize[1] = p.maxGridSize[2] = 65535;
  p.major = 9;
  p.minor = 0;
  p.multiProcessorCount = env_int("RENORM_EMU_SMS", 132, 1024, &c.error);
  c.devices = env_int("RENORM_EMU_DEVICES", 1, 16, &c.error);
  const char* order = std::getenv("RENORM_EMU_ORDER");
  c.reverse_order = order && std::string(order) == "reverse";
  if (order && *order && !c.reverse_order && std::string(order) != "forward")
    c.error = std::string("RENORM_EMU_ORDER='") + order + "' is not forward or reverse";
  c.block_order = DeviceConfig::BlockOrder::Forward;
  c.block_seed = 0;
  const std::string blocks = std::getenv("RENORM_EMU_BLOCKS") ? std::getenv("RENORM_EMU_BLOCKS") : "";
  if (blocks == "reverse") c.block_order = DeviceConfig::BlockOrder::Reverse;
  else if (blocks == "interleaved") c.block_order = DeviceConfig::BlockOrder::Interleaved;
  else if (blocks.rfind("random", 0) == 0) {
    c.block_order = DeviceConfig::BlockOrder::Random;
    char* end = nullptr;
    const std::string seed = blocks.size() > 7 && blocks[6] == ':' ? blocks.substr(7) : "";
    c.block_seed = seed.empty() ? 1 : std::strtoull(seed.c_str(), &end, 10);
    if (blocks != "random" && (seed.empty() || *end)) c.error = "RENORM_EMU_BLOCKS='" + blocks + "': random takes ':SEED' (an integer)";
  } else if (!blocks.empty() && blocks != "forward")
    c.error = "RENORM_EMU_BLOCKS='" + blocks + "' is not forward, reverse, interleaved or random[:SEED]";
  if (!memory_mode().error.empty()) c.error = memory_mode().error;
  std::snprintf(p.name, sizeof p.name, "renorm CUDA emulator (%d SMs, H100 limits, %s thread order, %s block order)",
                p.multiProcessorCount, c.reverse_order ? "reverse" : "forward", blocks.empty() ? "forward" : blocks.c_str());
  return c;
}

cudaError_t ok() { return cudaSuccess; }

// Handles (streams, events) are tracked, so that an unknown or destroyed one is an error, not a crash.
template <class H>
H remember(std::set<H> Registry::*set, H h) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  (r.*set).insert(h);
  return h;
}
template <class H>
bool known(std::set<H> Registry::*set, H h) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return (r.*set).count(h) != 0;
}
template <class H>
cudaError_t forget(std::set<H> Registry::*set, H h, const char* call) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!(r.*set).erase(h)) return fail(cudaErrorInvalidResourceHandle, std::string(call) + ": unknown handle");
  delete h;
  return ok();
}

// Whether [p, p+bytes) lies inside one emulated device allocation.
bool in_device(const void* p, size_t bytes) {
  uintptr_t base = 0;
  size_t size = 0;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  return device_allocation(p, &base, &size) && a + bytes <= base + size && a + bytes >= a;
}

// The allocation of `allocations` (base -> bytes) that holds address p: its base and size; false when none.
// The caller holds the registry's lock.
bool allocation_holding(const std::map<uintptr_t, size_t>& allocations, const void* p, uintptr_t* base, size_t* bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = allocations.upper_bound(a);
  if (it == allocations.begin()) return false;
  --it;
  if (a >= it->first + it->second) return false;
  *base = it->first;
  *bytes = it->second;
  return true;
}

// Whether [p, p+bytes) lies inside one page-locked host allocation (cudaHostAlloc).
bool in_pinned(const void* p, size_t bytes) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  uintptr_t base = 0;
  size_t size = 0;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  return allocation_holding(r.pinned, p, &base, &size) && a + bytes <= base + size && a + bytes >= a;
}

// The host end of a copy between host and device memory (nullptr for device-to-device or host-to-host).
const void* host_end(void* dst, const void* src, size_t bytes) {
  const bool d = in_device(dst, bytes), s = in_device(src, bytes);
  return d == s ? nullptr : d ? src : dst;
}

bool device_ready(cudaError_t* e) {
  const DeviceConfig& c = device_config();
  *e = c.error.empty() ? cudaSuccess : fail(cudaErrorNoDevice, c.error);
  return c.error.empty();
}

// Checks both ends of a copy against its kind: HostToDevice needs a device destination and a host
// source, and so on; cudaMemcpyDefault accepts either.
cudaError_t check_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* call) {
  if (kind == cudaMemcpyDefault) return ok();
  const bool want_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool want_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (in_device(dst, bytes) != want_dst)
    return fail(cudaErrorInvalidValue, std::string(call) + ": destination is " + (want_dst ? "not " : "") +
                                           "emulated device memory (" + std::to_string(bytes) + " bytes)");
  if (in_device(src, bytes) != want_src)
    return fail(cudaErrorInvalidValue, std::string(call) + ": source is " + (want_src ? "not " : "") +
                                           "emulated device memory (" + std::to_string(bytes) + " bytes)");
  return ok();
}
}  // namespace

const DeviceConfig& device_config() {
  static const DeviceConfig c = make_config();
  return c;
}

bool valid_stream(cudaStream_t s) { return !s || known(&Registry::streams, s); }

bool is_device_pointer(const void* p) { return in_device(p, 1); }

bool device_allocation(const void* p, uintptr_t* base, size_t* bytes) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return allocation_holding(r.device, p, base, bytes);
}

}  // namespace renorm_emu

using namespace renorm_emu;


namespace {
bool valid_device(int dev) { return dev >= 0 && dev < device_config().devices; }
cudaError_t no_device(int dev) {
  return fail(cudaErrorInvalidDevice, "no device " + std::to_string(dev) + " (the emulator has " +
                                          std::to_string(device_config().devices) + ", RENORM_EMU_DEVICES)");
}
}  // namespace

cudaError_t cudaGetDeviceCount(int* n) {
  cudaError_t e;
  *n = device_ready(&e) ? device_config().devices : 0;
  return e;
}
cudaError_t cudaGetDevice(int* dev) {
  *dev = t_device;
  return ok();
}
cudaError_t cudaSetDevice(int dev) {
  if (!valid_device(dev)) return no_device(dev);
  t_device = dev;
  return ok();
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int dev) {
  if (!valid_device(dev)) return no_device(dev);
  *prop = device_config().prop;
  return ok();
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int dev) {
  if (!valid_device(dev)) return no_device(dev);
  const cudaDeviceProp& p = device_config().prop;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = int(p.sharedMemPerBlock); break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = p.regsPerBlock; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = int(p.sharedMemPerBlockOptin); break;
    case cudaDevAttrCooperativeLaunch: *value = p.cooperativeLaunch; break;
    default: return fail(cudaErrorInvalidValue, "device attribute " + std::to_string(int(attr)) + " is not emulated");
  }
  return ok();
}
cudaError_t cudaDeviceSynchronize() {
  if (const cudaError_t e = refuse_in_capture("cudaDeviceSynchronize")) return e;
  count(Counted::Sync);
  return ok();
}

// The emulator cannot see a kernel's registers, static shared memory or launch bounds (those exist only
// in the compiled device code, which scripts/check_kernel_resources.py reads): it reports the device's
// limits and no register use.
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, const void* func) {
  if (!func) return fail(cudaErrorInvalidDeviceFunction, "cudaFuncGetAttributes: null function");
  *attr = cudaFuncAttributes{};
  attr->maxThreadsPerBlock = device_config().prop.maxThreadsPerBlock;
  attr->maxDynamicSharedSizeBytes = int(device_config().prop.sharedMemPerBlock);
  return ok();
}

cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, const void* func, int threads,
                                                          size_t dynamic_shared) {
  if (!func) return fail(cudaErrorInvalidDeviceFunction, "cudaOccupancyMaxActiveBlocksPerMultiprocessor: null function");
  if (threads <= 0) return fail(cudaErrorInvalidValue, "cudaOccupancyMaxActiveBlocksPerMultiprocessor: block size " + std::to_string(threads));
  *blocks = resident_blocks_of(kernel_named(func), unsigned(threads), dynamic_shared);  // emu/occupancy.cpp
  return ok();
}

// Device memory: exactly the bytes asked for (256-byte aligned, as cudaMalloc), so AddressSanitizer
// sees any access past the end of an allocation.
cudaError_t cudaMalloc(void** p, size_t bytes) {
  cudaError_t e;
  if (!device_ready(&e)) return e;
  if ((e = refuse_in_capture("cudaMalloc"))) return e;
  *p = nullptr;
  if (posix_memalign(p, 256, bytes ? bytes : 1) != 0)
    return fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes");
  count(Counted::Allocation);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.device[reinterpret_cast<uintptr_t>(*p)] = bytes ? bytes : 1;
  return ok();
}
cudaError_t cudaFree(void* p) {
  if (!p) return ok();
  if (const cudaError_t e = refuse_in_capture("cudaFree")) return e;
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!r.device.erase(reinterpret_cast<uintptr_t>(p)))
      return fail(cudaErrorInvalidValue, "cudaFree of a pointer that cudaMalloc did not return");
  }
  memory_forget(p);
  std::free(p);
  return ok();
}
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned) {
  *p = nullptr;
  if (const cudaError_t e = refuse_in_capture("cudaHostAlloc")) return e;
  if (posix_memalign(p, 64, bytes ? bytes : 1) != 0)
    return fail(cudaErrorMemoryAllocation, "cudaHostAlloc of " + std::to_string(bytes) + " bytes");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.pinned[reinterpret_cast<uintptr_t>(*p)] = bytes ? bytes : 1;
  return ok();
}
cudaError_t cudaMallocHost(void** p, size_t bytes) { return cudaHostAlloc(p, bytes, cudaHostAllocDefault); }
cudaError_t cudaFreeHost(void* p) {
  if (!p) return ok();
  if (const cudaError_t e = refuse_in_capture("cudaFreeHost")) return e;
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!r.pinned.erase(reinterpret_cast<uintptr_t>(p))) return fail(cudaErrorInvalidValue, "cudaFreeHost of a pointer that cudaHostAlloc did not return");
  }
  std::free(p);
  return ok();
}
cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  *total = device_config().prop.totalGlobalMem;
  *free = *total;
  return ok();
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (const cudaError_t e = refuse_in_capture("cudaMemcpy (synchronous: it waits for the device)")) return e;
  count(Counted::Sync);  // the synchronous copy waits for the device
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
  if (!valid_stream(s)) return fail(cudaErrorInvalidResourceHandle, "cudaMemcpyAsync: unknown stream");
  if (bytes == 0) return ok();
  if (const cudaError_t e = check_copy(dst, src, bytes, kind, "cudaMemcpyAsync")) return e;
  // Between device memory and pageable host memory the driver stages the bytes and may wait for the
  // stream (CUDA's API synchronization notes): counted apart, and a graph cannot hold such a copy.
  const void* host = host_end(dst, src, bytes);
  const bool pageable = host && !in_pinned(host, bytes);
  if (pageable && s == capturing_stream())
    if (const cudaError_t e = refuse_in_capture("cudaMemcpyAsync between device and pageable host memory")) return e;
  if (captured(s, [=] { cudaMemcpyAsync(dst, src, bytes, kind, s); }, cudaGraphNodeTypeMemcpy)) return ok();  // host bytes read at replay
  count(Counted::Copy);
  if (pageable) count(Counted::PageableCopy);
  std::memmove(dst, src, bytes);
  return ok();
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) { return cudaMemsetAsync(p, value, bytes, nullptr); }
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s) {
  if (!valid_stream(s)) return fail(cudaErrorInvalidResourceHandle, "cudaMemsetAsync: unknown stream");
  if (bytes == 0) return ok();
  if (!in_device(p, bytes))
    return fail(cudaErrorInvalidValue, "cudaMemsetAsync: " + std::to_string(bytes) + " bytes are not emulated device memory");
  if (captured(s, [=] { cudaMemsetAsync(p, value, bytes, s); }, cudaGraphNodeTypeMemset)) return ok();
  count(Counted::Memset);
  std::memset(p, value, bytes);
  return ok();
}

cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  cudaError_t e;
  if (!device_ready(&e)) return e;
  *s = remember(&Registry::streams, new CUstream_st{flags});
  return ok();
}
cudaError_t cudaStreamDestroy(cudaStream_t s) { return forget(&Registry::streams, s, "cudaStreamDestroy"); }
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (const cudaError_t e = refuse_in_capture("cudaStreamSynchronize")) return e;
  count(Counted::Sync);
  return valid_stream(s) ? ok() : fail(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: unknown stream");
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned) {
  if (!valid_stream(s)) return fail(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: unknown stream");
  return known(&Registry::events, e) ? ok() : fail(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: unknown event");
}

cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  *e = remember(&Registry::events, new CUevent_st{flags, false, 0.0});
  return ok();
}
namespace {
bool valid_event(cudaEvent_t e) { return known(&Registry::events, e); }
}  // namespace
cudaError_t cudaEventDestroy(cudaEvent_t e) { return forget(&Registry::events, e, "cudaEventDestroy"); }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!valid_event(e)) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown event");
  if (!valid_stream(s)) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown stream");
  if (captured(s, [=] { cudaEventRecord(e, s); }, cudaGraphNodeTypeEventRecord)) return ok();
  e->recorded = true;
  e->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return ok();
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (const cudaError_t err = refuse_in_capture("cudaEventSynchronize")) return err;
  count(Counted::Sync);
  return valid_event(e) ? ok() : fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: unknown event");
}
namespace {
std::atomic<bool> g_events_pending{false};
}  // namespace
void renorm_emu::set_events_pending(bool on) { g_events_pending = on; }

// The work is done when it is queued, so a recorded event has completed — unless set_events_pending
// says to answer as a GPU running behind the host would: cudaErrorNotReady, recorded as the thread's last
// error as any failing call's is (a caller clears it before its next launch check).
cudaError_t cudaEventQuery(cudaEvent_t e) {
  if (!valid_event(e)) return fail(cudaErrorInvalidResourceHandle, "cudaEventQuery: unknown event");
  if (g_events_pending && e->recorded) return fail(cudaErrorNotReady, "cudaEventQuery: the event's work is pending (set_events_pending)");
  return ok();
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!valid_event(start) || !valid_event(end)) return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: unknown event");
  if (!start->recorded || !end->recorded || (start->flags | end->flags) & cudaEventDisableTiming)
    return fail(cudaErrorInvalidValue, "cudaEventElapsedTime: an event was not recorded or has timing disabled");
  *ms = float(end->ms - start->ms);
  return ok();
}
