// The device side of the CUDA emulator: what a kernel body sees when a kernels/cuda/*.cu file is compiled
// as host C++ (tests only). Built-in indices are read from the running emulated thread; __shared__
// variables are statics — in one section of the program, or, in a template (where GCC ignores the
// section), wherever GCC puts them, learned from the kernels' accesses (emu/shared.cpp) — which the
// scheduler poisons at every block start and copies per block where several are alive; barriers and warp
// intrinsics suspend the calling fiber until the scheduler (emu/block.cpp) completes them.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>  // before the macros below: libstdc++'s headers spell __attribute__((__noinline__))
#include <type_traits>

#include "renorm_emu/vector_types.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ __attribute__((section("renorm_emu_shared"))) static
#define __constant__ static

namespace renorm_emu {

// One emulated GPU thread (a fiber) and the block and launch it belongs to.
struct ThreadState {
  uint3 idx;
  unsigned linear;  // threadIdx.x + blockDim.x·(threadIdx.y + blockDim.y·threadIdx.z)
  uint64_t global_accesses;  // this thread's loads and stores of device memory so far (the traffic build)
};
struct BlockState {
  uint3 idx;
  dim3 block, grid;
  unsigned char* dynamic_shared;
};
// Set by the scheduler before it resumes a thread; read by the built-in variables below.
inline ThreadState* g_thread = nullptr;
inline BlockState* g_block = nullptr;

// Kernel-side operations, implemented by the scheduler. Each may suspend the calling fiber.
void syncthreads();
enum class WarpOp : int { SyncWarp, ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, All, Any };
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width);
[[noreturn]] void trap(const char* what);
void grid_sync();  // cooperative_groups::this_grid().sync(): only in a cooperative launch

template <class T>
T shuffle(WarpOp op, unsigned mask, T v, int arg, int width) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a type wider than 64 bits");
  uint64_t raw = 0;
  std::memcpy(&raw, &v, sizeof(T));
  raw = warp_collective(op, mask, raw, arg, width);
  T out;
  std::memcpy(&out, &raw, sizeof(T));
  return out;
}

template <class T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(g_block->dynamic_shared);
}

// How the instrumented load or store about to happen reaches memory, for the memory model between blocks
// (emu/memory.cpp): a plain access, the read-only path (__ldg), L2 only (__ldcg), or an atomic. Set
// around the access by the intrinsics below; one emulated thread runs at a time on a host thread.
enum class Access : unsigned char { Plain, Ldg, Ldcg, Atomic };
inline thread_local Access g_access = Access::Plain;
// The compiler barriers on both sides of each store to g_access keep it, and keep every other access out
// of the window: the optimizer sees no read of g_access between the two stores (the instrumentation's hook
// call is added after optimization) and would drop the first as dead; and without the outer barriers it
// may move a neighbouring plain load across a store into the window, where it would be recorded as an
// __ldcg (mutant M13, `{__ldcg(&p->count), p->mean, ...}`, passed the check at 132 SMs so).
struct AccessAs {
  Access previous;
  explicit AccessAs(Access a) : previous(g_access) {
    asm volatile("" ::: "memory");
    g_access = a;
    asm volatile("" ::: "memory");
  }
  ~AccessAs() {
    asm volatile("" ::: "memory");
    g_access = previous;
    asm volatile("" ::: "memory");
  }
  AccessAs(const AccessAs&) = delete;
  AccessAs& operator=(const AccessAs&) = delete;
};
void memory_fence();                // __threadfence: closes the thread's epoch (emu/memory.cpp)
void memory_atomic(const void* p);  // an atomic at p: its clocks, before the access itself
void switch_point();                // an interleaved launch may run another block here (emu/launch.cpp)

}  // namespace renorm_emu

#define threadIdx (static_cast<const uint3&>(::renorm_emu::g_thread->idx))
#define blockIdx (static_cast<const uint3&>(::renorm_emu::g_block->idx))
#define blockDim (static_cast<const dim3&>(::renorm_emu::g_block->block))
#define gridDim (static_cast<const dim3&>(::renorm_emu::g_block->grid))
constexpr int warpSize = 32;

inline void __syncthreads() { ::renorm_emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::renorm_emu::warp_collective(::renorm_emu::WarpOp::SyncWarp, mask, 0, 0, 32);
}
// A fence closes the calling thread's epoch: its earlier writes are released to whoever acquires them
// through an atomic, and what its atomics read since its last fence becomes its knowledge (the memory
// model, emu/memory.cpp, RENORM_EMU_MEMORY). __threadfence_block orders within the block, which the
// emulator's barriers already do.
inline void __threadfence() {
  ::renorm_emu::switch_point();  // before the fence: another block may run while this one's stores are unpublished
  ::renorm_emu::memory_fence();
}
inline void __threadfence_block() {}
[[noreturn]] inline void __trap() { ::renorm_emu::trap("__trap() called"); }

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  return ::renorm_emu::shuffle(::renorm_emu::WarpOp::ShflIdx, mask, v, src, width);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::renorm_emu::shuffle(::renorm_emu::WarpOp::ShflUp, mask, v, int(delta), width);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::renorm_emu::shuffle(::renorm_emu::WarpOp::ShflDown, mask, v, int(delta), width);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return ::renorm_emu::shuffle(::renorm_emu::WarpOp::ShflXor, mask, v, lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  return unsigned(::renorm_emu::warp_collective(::renorm_emu::WarpOp::Ballot, mask, pred != 0, 0, 32));
}
inline int __all_sync(unsigned mask, int pred) {
  return int(::renorm_emu::warp_collective(::renorm_emu::WarpOp::All, mask, pred != 0, 0, 32));
}
inline int __any_sync(unsigned mask, int pred) {
  return int(::renorm_emu::warp_collective(::renorm_emu::WarpOp::Any, mask, pred != 0, 0, 32));
}

// Atomics: one block runs at a time and its fibers switch only inside the operations above, so a plain
// read-modify-write is atomic here; the memory model sees an atomic (never deferred, clocks exchanged).
namespace renorm_emu {
template <class T, class Next>
T atomic_rmw(T* p, Next next) {
  T old;
  {
    memory_atomic(p);
    AccessAs as(Access::Atomic);
    old = *p;
    *p = next(old);
  }
  switch_point();  // after the atomic: another block may see its count before this thread goes on
  return old;
}
}  // namespace renorm_emu
template <class T>
T atomicAdd(T* p, T v) {
  return ::renorm_emu::atomic_rmw(p, [v](T old) { return T(old + v); });
}
template <class T>
T atomicMax(T* p, T v) {
  return ::renorm_emu::atomic_rmw(p, [v](T old) { return old < v ? v : old; });
}
template <class T>
T atomicMin(T* p, T v) {
  return ::renorm_emu::atomic_rmw(p, [v](T old) { return v < old ? v : old; });
}
template <class T>
T atomicExch(T* p, T v) {
  return ::renorm_emu::atomic_rmw(p, [v](T) { return v; });
}
template <class T>
T atomicCAS(T* p, T compare, T v) {
  return ::renorm_emu::atomic_rmw(p, [compare, v](T old) { return old == compare ? v : old; });
}

// The read-only (texture) path: not coherent with writes of the same launch on a GPU.
template <class T>
T __ldg(const T* p) {
  ::renorm_emu::AccessAs as(::renorm_emu::Access::Ldg);
  return *p;
}
// Through L2 only, past the multiprocessor's L1: how a block reads another block's writes.
template <class T>
T __ldcg(const T* p) {
  ::renorm_emu::AccessAs as(::renorm_emu::Access::Ldcg);
  return *p;
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }

// The device overloads of min and max that CUDA provides for mixed integer and floating arguments.
template <class A, class B>
std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B>
std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return C(a) < C(b) ? C(b) : C(a);
}
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
