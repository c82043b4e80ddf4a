// The one way a renorm kernel is launched, and small helpers shared by the .cu files.
//
//   launch<kernel>(grid, block, shared_bytes, args...);
//
// checks the configuration against the device and the kernel (runtime/cuda_launch.cpp: LaunchError naming
// the kernel), queues the kernel on the renorm stream and checks the launch. Built against the CUDA
// emulator (RENORM_CUDA_EMULATION, tests only) the same call runs the kernel's own source on the host
// (emu/). Every kernel carries __launch_bounds__ equal to the largest block it is launched with; the
// build-time resource test checks them (scripts/check_kernel_resources.py).
#pragma once
#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>
#if !RENORM_CUDA_EMULATION
#include <cooperative_groups.h>
#endif

#include "runtime/allocator.h"
#include "runtime/detail/cuda_context.h"

namespace renorm::kernels::cuda {

constexpr int kThreads = 256;

// The kernel's name for messages and the launch log, worked out once per kernel.
template <auto Kernel>
const char* kernel_name() {
  static const std::string name = ::renorm::cuda::kernel_name_from_signature(__PRETTY_FUNCTION__);
  return name.c_str();
}

#if RENORM_CUDA_EMULATION
// The emulator runs the kernel's body per thread: the arguments as one tuple (kept by a graph that
// captures the launch), applied by a closure.
using EmulatedLaunch = void (*)(const char*, dim3, dim3, size_t, cudaStream_t, void (*)(const void*),
                                std::shared_ptr<const void>);
template <auto Kernel, class... Args>
void emulate(EmulatedLaunch run, const char* name, dim3 grid, dim3 block, size_t shared_bytes, Args... args) {
  run(name, grid, block, shared_bytes, ::renorm::cuda::stream(),
      [](const void* p) { std::apply(Kernel, *static_cast<const std::tuple<Args...>*>(p)); },
      std::make_shared<const std::tuple<Args...>>(args...));
}
#endif

template <auto Kernel, class... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, Args... args) {
  const char* name = kernel_name<Kernel>();
  ::renorm::cuda::check_launch(name, reinterpret_cast<const void*>(Kernel), grid, block, shared_bytes);
#if RENORM_CUDA_EMULATION
  emulate<Kernel>(::renorm_emu::launch, name, grid, block, shared_bytes, args...);
#else
  Kernel<<<grid, block, shared_bytes, ::renorm::cuda::stream()>>>(args...);
#endif
  RENORM_CUDA_LAUNCH_CHECK();
}

// Whether a kernel launched through pointers to its arguments reads each as it was passed: the same type,
// or a pointer passed for a pointer to the const of its pointee (the same bytes).
template <class A, class P>
constexpr bool passes_as = std::is_same_v<A, P> || (std::is_pointer_v<A> && std::is_pointer_v<P> &&
                                                     std::is_same_v<const std::remove_pointer_t<A>, std::remove_pointer_t<P>>);
template <class F, class... Args>
struct ArgumentsPass : std::false_type {};
template <class... P, class... Args>
struct ArgumentsPass<void (*)(P...), Args...> {
  static constexpr bool value = sizeof...(P) == sizeof...(Args) && (passes_as<Args, P> && ...);
};

// A cooperative launch (cudaLaunchCooperativeKernel): every block resident at once, so that the kernel
// may wait at grid_sync(); the grid must not exceed resident_blocks<Kernel, threads>(). The arguments
// must have the kernel's parameter types (a T* may stand for a const T*): cudaLaunchCooperativeKernel
// takes a pointer to each and the kernel reads its parameter's type from it (an int passed for an
// int64_t would be read as the wrong bytes on a GPU, where launch<>'s <<<>>> would have converted it).
// Refused at compile time, on every build.
template <auto Kernel, class... Args>
void launch_cooperative(dim3 grid, dim3 block, size_t shared_bytes, Args... args) {
  static_assert(ArgumentsPass<decltype(Kernel), Args...>::value,
                "launch_cooperative: an argument's type differs from the kernel's parameter (cudaLaunchCooperativeKernel "
                "passes pointers to the arguments: the kernel would read another type's bytes); convert it at the call");
  const char* name = kernel_name<Kernel>();
  ::renorm::cuda::check_launch(name, reinterpret_cast<const void*>(Kernel), grid, block, shared_bytes);
#if RENORM_CUDA_EMULATION
  emulate<Kernel>(::renorm_emu::launch_cooperative, name, grid, block, shared_bytes, args...);
#else
  void* pointers[] = {static_cast<void*>(&args)...};
  RENORM_CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(Kernel), grid, block, pointers,
                                                shared_bytes, ::renorm::cuda::stream()));
#endif
  RENORM_CUDA_LAUNCH_CHECK();
}

// How many blocks of Kernel (kBlockThreads threads each, no dynamic shared memory) the device holds at
// once: the occupancy query times the multiprocessors; 0 when the device has no cooperative launch.
// Asked once per kernel and process (renorm's devices in one process are alike).
template <auto Kernel, int kBlockThreads>
int64_t resident_blocks() {
  static const int64_t blocks = [] {
    if (!::renorm::cuda::properties().cooperativeLaunch) return int64_t(0);
#if RENORM_CUDA_EMULATION
    ::renorm_emu::name_kernel(reinterpret_cast<const void*>(Kernel), kernel_name<Kernel>());  // its compiled resources
#endif
    int per_sm = 0;
    RENORM_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, Kernel, kBlockThreads, 0));
    return int64_t(per_sm) * ::renorm::cuda::multiprocessor_count();
  }();
  return blocks;
}

// Inside a cooperative launch: every thread of the grid waits here until all have arrived, and what each
// wrote before is visible to all after (cooperative_groups::this_grid().sync()).
__device__ __forceinline__ void grid_sync() {
#if RENORM_CUDA_EMULATION
  ::renorm_emu::grid_sync();
#else
  cooperative_groups::this_grid().sync();
#endif
}

// A grid-stride kernel over n elements: kThreads per block, grid_for(n) blocks, nothing when n == 0.
template <auto Kernel, class... Args>
void launch_n(int64_t n, Args... args);

// Dynamic shared memory of the running block, as an array of T (extern __shared__ on a GPU).
#if RENORM_CUDA_EMULATION
#define RENORM_DYNAMIC_SHARED(T, name) T* name = ::renorm_emu::dynamic_shared<T>()
#else
#define RENORM_DYNAMIC_SHARED(T, name)                                    \
  extern __shared__ __align__(16) unsigned char renorm_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(renorm_dynamic_shared_)
#endif

// Grid for a grid-stride loop over n elements: enough blocks to fill the device, no more.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t want = (n + threads - 1) / threads;
  const int64_t cap = int64_t(::renorm::cuda::multiprocessor_count()) * 8;
  return static_cast<unsigned>(want < 1 ? 1 : (want < cap ? want : cap));
}

template <auto Kernel, class... Args>
void launch_n(int64_t n, Args... args) {
  if (n > 0) launch<Kernel>(grid_for(n), kThreads, 0, args...);
}

// Device scratch memory for one op, from the caching allocator; returned when the op's launches are
// queued (reuse is ordered by the single stream).
struct Scratch {
  void* p = nullptr;
  size_t bytes;
  explicit Scratch(size_t b) : bytes(b) {
    if (bytes) p = device_allocate(Device::CUDA, bytes);
  }
  ~Scratch() { device_release(Device::CUDA, p, bytes); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p); }
};

}  // namespace renorm::kernels::cuda
