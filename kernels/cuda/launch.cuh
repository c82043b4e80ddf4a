// Small launch helpers shared by the .cu files.
#pragma once
#include <cstdint>

#include "core/allocator.h"
#include "core/cuda_context.h"

namespace renorm::kernels::cuda {

constexpr int kThreads = 256;

// Grid for a grid-stride loop over n elements: enough blocks to fill the device, no more.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t want = (n + threads - 1) / threads;
  const int64_t cap = int64_t(::renorm::cuda::multiprocessor_count()) * 8;
  return static_cast<unsigned>(want < 1 ? 1 : (want < cap ? want : cap));
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
