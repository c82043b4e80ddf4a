// The CUDA emulator's runtime API (tests only): the subset of cuda_runtime.h that renorm calls, executed
// on the host. Device memory is host memory (tracked, so a copy of the wrong kind is an error); every
// stream runs its work in order at the moment it is queued; kernels run through the fiber scheduler.
// Built with -Iemu/include instead of the toolkit's headers; the device side is renorm_emu/device.h.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_set>
#include <string>

#include "renorm_emu/device.h"

enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorCooperativeLaunchTooLarge = 720,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr : int {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxBlockDimX = 2,
  cudaDevAttrMaxBlockDimY = 3,
  cudaDevAttrMaxBlockDimZ = 4,
  cudaDevAttrMaxGridDimX = 5,
  cudaDevAttrMaxGridDimY = 6,
  cudaDevAttrMaxGridDimZ = 7,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMaxRegistersPerBlock = 12,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrCooperativeLaunch = 95,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major, minor;
  int multiProcessorCount;
  int maxThreadsPerMultiProcessor, maxBlocksPerMultiProcessor;
  size_t sharedMemPerMultiprocessor;
  int cooperativeLaunch;
};

struct cudaFuncAttributes {
  size_t sharedSizeBytes;
  size_t constSizeBytes;
  size_t localSizeBytes;
  int maxThreadsPerBlock;
  int numRegs;
  int ptxVersion, binaryVersion;
  int maxDynamicSharedSizeBytes;
};

struct CUstream_st;
struct CUevent_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;
struct CUgraph_st;
struct CUgraphExec_st;
struct CUgraphNode_st;
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;
using cudaGraphNode_t = CUgraphNode_st*;
// CUDA's values. A library call is a kernel node (what cuBLAS and cuDNN launch); cuBLAS without a
// workspace of the caller's adds a memory allocation node and a free node (emu/libraries.cpp).
enum cudaGraphNodeType : int {
  cudaGraphNodeTypeKernel = 0,
  cudaGraphNodeTypeMemcpy = 1,
  cudaGraphNodeTypeMemset = 2,
  cudaGraphNodeTypeEventRecord = 7,
  cudaGraphNodeTypeMemAlloc = 10,
  cudaGraphNodeTypeMemFree = 11,
};
enum cudaStreamCaptureMode : int {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus : int {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};

constexpr unsigned cudaStreamDefault = 0, cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0, cudaEventBlockingSync = 1, cudaEventDisableTiming = 2;
constexpr unsigned cudaHostAllocDefault = 0;

const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();

cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDevice(int* dev);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int dev);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int dev);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, const void* func);
template <class R, class... P>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, R (*func)(P...)) {
  return cudaFuncGetAttributes(attr, reinterpret_cast<const void*>(func));
}
// Blocks of `threads` that fit on one multiprocessor at once (the device's limits; no registers here).
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, const void* func, int threads,
                                                          size_t dynamic_shared);
template <class R, class... P>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, R (*func)(P...), int threads,
                                                          size_t dynamic_shared) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, reinterpret_cast<const void*>(func), threads,
                                                       dynamic_shared);
}

cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned flags);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemGetInfo(size_t* free, size_t* total);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

// Stream capture and graphs (emu/graph.cpp). While a stream captures, the launches, copies, memsets,
// event records and library calls queued on it are recorded in order, not done; cudaGraphLaunch replays
// them in that order. A synchronization (device, stream, event, a synchronous cudaMemcpy: every host
// read of device memory), an allocation or a free while a stream captures fails with
// cudaErrorStreamCaptureUnsupported, names the call, and invalidates the capture: cudaStreamEndCapture
// then returns cudaErrorStreamCaptureInvalidated and no graph. One stream captures at a time.
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count);
cudaError_t cudaGraphNodeGetType(cudaGraphNode_t node, cudaGraphNodeType* type);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

namespace renorm_emu {
// What the emulator knows of the last error `e` of this thread beyond CUDA's own string (which
// cudaGetErrorString returns, as a GPU does): the call that failed and why, the kernel, block and
// thread of a trap. Empty when the thread's last error was another one.
std::string error_detail(cudaError_t e);
// Runs a kernel: `body(closure)` once per thread of every block, blocks one after another. A bad
// configuration or a trapped thread leaves the error for cudaGetLastError, as a real launch does. The
// closure (the arguments) is shared, so that a capturing stream can keep it for every replay.
void launch(const char* kernel, dim3 grid, dim3 block, size_t dynamic_shared, cudaStream_t s,
            void (*body)(const void*), std::shared_ptr<const void> closure);
// A cooperative launch (cudaLaunchCooperativeKernel): every block resident at once, so that grid.sync()
// (renorm_emu::grid_sync) can wait for all of them; more blocks than can be resident is
// cudaErrorCooperativeLaunchTooLarge, as on a GPU.
void launch_cooperative(const char* kernel, dim3 grid, dim3 block, size_t dynamic_shared, cudaStream_t s,
                        void (*body)(const void*), std::shared_ptr<const void> closure);
int resident_blocks_per_multiprocessor(unsigned threads, size_t dynamic_shared);
// The same for kernel `kernel` (its name as launches give it), bounded also by the registers and static
// shared memory it was compiled with for sm_90 where the build's table has it (emu/occupancy.cpp).
int resident_blocks_of(const std::string& kernel, unsigned threads, size_t dynamic_shared);
struct KernelResources {
  int registers = 0;
  size_t static_shared = 0;
};
bool kernel_resources(const std::string& kernel, KernelResources* out);  // false: not in the table
std::string kernel_resources_source();  // the table's file (RENORM_EMU_RESOURCES), "" when none was read
// Tells the emulator a kernel function's name, for cudaOccupancyMaxActiveBlocksPerMultiprocessor
// (kernels/cuda/launch.cuh resident_blocks does, before its query).
void name_kernel(const void* func, const char* name);
std::string kernel_named(const void* func);
// True for pointers inside memory from the emulated cudaMalloc (for tests of the emulator).
bool is_device_pointer(const void* p);

// The account of what the emulated device was asked to do since the last reset (issue 23): launches
// per kernel, and the runtime's memsets, copies, synchronizations (cudaDeviceSynchronize, stream and
// event waits, synchronous cudaMemcpy) and allocations (cudaMalloc), and the cuBLAS/cuDNN compute calls.
// Kernel TUs built with the traffic instrumentation (emu/CMakeLists.txt: not under ASan) also report
// each kernel's global-memory bytes: read, written, and distinct (the 32-byte sectors a launch touched,
// summed over launches: a lower bound on its DRAM traffic), and its shared-memory bytes accessed.
// Distinct bytes are exact; read, written and shared are lower bounds: GCC checks an address once per
// basic block, so a read-modify-write of one address counts as its first access only. longest_chain is
// the most global accesses one thread made (the largest over the kernel's launches): an upper bound on
// its chain of dependent accesses, which exposes a serial loop (one thread walking N microbatches).
struct Traffic {
  uint64_t bytes_read = 0, bytes_written = 0, bytes_distinct = 0, shared_bytes = 0, longest_chain = 0;
};
bool traffic_counted();  // whether this build's kernels report their bytes
struct Account {
  std::map<std::string, uint64_t> launches;  // kernel -> launches
  std::map<std::string, Traffic> traffic;    // kernel -> its bytes (when traffic_counted())
  uint64_t memsets = 0, copies = 0, syncs = 0, allocations = 0, library_calls = 0;
  // Copies between device memory and pageable host memory (also in copies): the driver stages them and
  // may wait for the stream first, so a warm training step must make none (tests/emu/budgets.txt).
  uint64_t pageable_copies = 0;
  // The 32-byte sectors any launch since the reset touched, in bytes: what a sequence of kernels (an op's
  // launches) must move at least once between DRAM and the chip, counting a sector a second launch
  // touches again once (it may come from L2). traffic.bytes_distinct sums each launch's own instead.
  uint64_t bytes_distinct_all = 0;
  Traffic total_traffic() const {
    Traffic t;
    for (const auto& [kernel, k] : traffic) {
      t.bytes_read += k.bytes_read, t.bytes_written += k.bytes_written;
      t.bytes_distinct += k.bytes_distinct, t.shared_bytes += k.shared_bytes;
      t.longest_chain = std::max(t.longest_chain, k.longest_chain);
    }
    return t;
  }
  uint64_t total_launches() const {
    uint64_t n = 0;
    for (const auto& [kernel, k] : launches) n += k;
    return n;
  }
};
Account account();  // a copy
void reset_account();
enum class Counted { Launch, Memset, Copy, PageableCopy, Sync, Allocation, LibraryCall };
void count(Counted what, const char* kernel = nullptr);
// One launch's traffic, and the sectors it touched (their numbers, address / 32).
void add_traffic(const char* kernel, const Traffic& t, const std::unordered_set<uintptr_t>& sectors);
// The reference cuBLAS and cuDNN (emu/libraries.cpp): off by default, so their parity tests skip rather
// than compare the CPU with host loops; on for the training step's account (launches, library calls).
void set_reference_libraries(bool on);
bool reference_libraries();
// The reference cuDNN declines TF32 (computes plain float32, and says so in its algorithm queries'
// mathType) for a convolution direction that sums fewer products than this: default 128, so that the
// TF32 tests' small shapes take both branches, as a GPU's cuDNN may. 0: TF32 wherever it is allowed.
void set_reference_tf32_floor(int64_t products);
// While on, cudaEventQuery answers cudaErrorNotReady for every recorded event, as a GPU behind the host
// would (the work is still done when queued): for tests of code that waits only when it must.
void set_events_pending(bool on);
// The memory model between blocks (emu/memory.cpp), from RENORM_EMU_MEMORY: a comma list of check (the
// happens-before check of global memory; the default), defer[:SEED] (deferred visibility: a thread's
// unfenced stores withheld from other blocks until the kernel ends, published in a seeded order),
// interleave[:SEED] (an ordinary launch keeps up to 4 blocks alive and switches among them, seeded, at
// atomics and fences: emu/launch.cpp), or off. check and defer need the traffic build's instrumented
// loads and stores (not under ASan, where they see none).
struct MemoryMode {
  bool check = false, defer = false, interleave = false;
  uint64_t seed = 0, interleave_seed = 0;
  std::string error;  // why the setting is unusable ("" when it is fine)
};
const MemoryMode& memory_mode();
void set_memory_mode(const MemoryMode& m);  // between launches: the model's own tests (tests/emu/test_memory.cpp)
int64_t reference_tf32_floor();
}  // namespace renorm_emu
