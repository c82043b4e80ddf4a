// CPU-internal: host memory for the length of one kernel call, from the caching allocator (no fresh
// pages in a warm step). The CPU twin of kernels/cuda/launch.cuh's Scratch.
#pragma once
#include <cstddef>

#include "runtime/allocator.h"

namespace renorm::kernels::cpu {

struct HostBuffer {
  void* p = nullptr;
  size_t bytes;
  explicit HostBuffer(size_t b) : bytes(b) {
    if (bytes) p = device_allocate(Device::CPU, bytes);
  }
  ~HostBuffer() {
    if (p) device_release(Device::CPU, p, bytes);
  }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

}  // namespace renorm::kernels::cpu
