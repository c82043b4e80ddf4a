// Small launch helpers shared by the .cu files.
#pragma once
#include <cstdint>

#include "core/cuda_context.h"

namespace renorm::kernels::cuda {

constexpr int kThreads = 256;

// Grid for a grid-stride loop over n elements: enough blocks to fill the device, no more.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t want = (n + threads - 1) / threads;
  const int64_t cap = int64_t(::renorm::cuda::multiprocessor_count()) * 8;
  return static_cast<unsigned>(want < 1 ? 1 : (want < cap ? want : cap));
}

}  // namespace renorm::kernels::cuda
