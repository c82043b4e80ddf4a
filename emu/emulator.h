// Internals shared by the emulator's runtime (emu/runtime.cpp) and its scheduler (emu/scheduler.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cuda_runtime.h"

namespace renorm_emu {

// The emulated devices: H100 limits, the multiprocessor count from RENORM_EMU_SMS (default 132), as many
// devices as RENORM_EMU_DEVICES says (default 1), all alike; memory is shared by all of them.
struct DeviceConfig {
  cudaDeviceProp prop;
  int devices;
  bool reverse_order;  // RENORM_EMU_ORDER=reverse: threads of a block run last-to-first
  // RENORM_EMU_BLOCKS: the order the blocks of a grid run in — forward (default), reverse, interleaved
  // (even linear indices, then odd), random[:SEED] (a permutation per launch, seeded by SEED and the
  // launch's ordinal: reproducible). A kernel must not depend on which block runs (or finishes) first.
  enum class BlockOrder { Forward, Reverse, Interleaved, Random } block_order;
  uint64_t block_seed;
  std::string error;   // why the configuration is unusable ("" when it is fine)
};
const DeviceConfig& device_config();

// Records an error for cudaGetLastError, with a detail that cudaGetErrorString appends.
cudaError_t fail(cudaError_t e, const std::string& detail);
bool valid_stream(cudaStream_t s);
// The emulated cudaMalloc allocation holding p: its base and size; false when p is not device memory.
bool device_allocation(const void* p, uintptr_t* base, size_t* bytes);
// A launch's memory traffic (emu/traffic.cpp): counted between these two, then added to the account.
void begin_traffic(const void* dynamic_shared, size_t dynamic_bytes);
void end_traffic(const char* kernel);
void record(uintptr_t address, size_t bytes, bool write);  // one access inside the running launch

// Stream capture (emu/graph.cpp). captured(s, work): when stream s (any stream, for s = the capturing
// one's library handle: pass capturing_stream()) is capturing, appends `work` to its graph and returns
// true; otherwise false, and the caller does the work now. refuse_in_capture(call): cudaSuccess when no
// stream captures; else invalidates the capture and fails with cudaErrorStreamCaptureUnsupported naming
// `call` (synchronizations, allocations, frees).
// `type`: the node it becomes in the graph (cudaGraphGetNodes / cudaGraphNodeGetType report it).
bool captured(cudaStream_t s, std::function<void()> work, cudaGraphNodeType type = cudaGraphNodeTypeKernel);
cudaStream_t capturing_stream();  // the stream capturing now, or nullptr
bool any_capture();
cudaError_t refuse_in_capture(const char* call);

// The blocks' __shared__ memory (emu/shared.cpp): the section renorm_emu_shared and the template statics
// learned from kernels' accesses. A copy per live block; `fresh` (no bytes): a block's first turn, poisoned.
struct SharedCopy {
  bool fresh = true;
  std::vector<unsigned char> section;
  std::vector<std::pair<uintptr_t, std::vector<unsigned char>>> learned;
};
bool is_template_shared(uintptr_t address);  // a __shared__ static GCC left outside the section (traffic.cpp asks)
void learn_shared(uintptr_t address, size_t bytes);
SharedCopy save_shared();                    // the running block's, as it stops
void restore_shared(const SharedCopy& copy);  // the block about to run: its own, or poisoned when fresh

// The memory model between blocks (emu/memory.cpp; its modes: cuda_runtime.h MemoryMode).
// The launch's bracket (launch.cpp): the first error the model found, "" when none.
void memory_begin_launch(const char* kernel, dim3 grid, dim3 block);
std::string memory_end_launch();
// A block (linear index) starts or resumes running; it stops, ended or waiting at the grid barrier.
void memory_block_in(uint64_t linear);
void memory_block_out(bool ended);
bool memory_failed();        // whether the running launch has an error of the model's
std::string memory_error();  // the first error so far in the running launch ("" when none)
// An instrumented access of device memory (traffic.cpp), inside the allocation [base, base + size).
void memory_access(uintptr_t address, size_t bytes, bool write, uintptr_t base, size_t size);
void memory_barrier();    // the running block's __syncthreads completed (block.cpp)
void memory_grid_sync();  // a grid barrier completed (launch.cpp)
void memory_forget(const void* base);  // cudaFree of a device allocation

}  // namespace renorm_emu
