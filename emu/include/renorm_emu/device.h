// The device side of the CUDA emulator: what a kernel body sees when a kernels/cuda/*.cu file is compiled
// as host C++ (tests only). Built-in indices are read from the running emulated thread; __shared__
// variables live in one section of the program that the scheduler poisons at every block start (one
// block runs at a time, so a section-wide static is exactly "one copy per block"); barriers and warp
// intrinsics suspend the calling fiber until the scheduler (emu/scheduler.cpp) completes them.
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
// Fences order nothing here: blocks run one after another to completion and share one memory, so every
// write of a finished block is visible to every later block. The emulator therefore cannot catch a
// missing __threadfence (or a read that should be __ldcg): kernels/cuda/arrival.cuh states the pattern,
// a GPU's compute-sanitizer checks it. What it does check is that a kernel does not depend on which
// block runs or finishes last (RENORM_EMU_BLOCKS orders).
inline void __threadfence() {}
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
// read-modify-write is atomic here.
template <class T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
template <class T>
T atomicMax(T* p, T v) {
  const T old = *p;
  *p = old < v ? v : old;
  return old;
}
template <class T>
T atomicMin(T* p, T v) {
  const T old = *p;
  *p = v < old ? v : old;
  return old;
}
template <class T>
T atomicExch(T* p, T v) {
  const T old = *p;
  *p = v;
  return old;
}
template <class T>
T atomicCAS(T* p, T compare, T v) {
  const T old = *p;
  if (old == compare) *p = v;
  return old;
}

template <class T>
T __ldg(const T* p) {
  return *p;
}
// Loads through L2 only (another block's writes): one memory here, so a plain read.
template <class T>
T __ldcg(const T* p) {
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
