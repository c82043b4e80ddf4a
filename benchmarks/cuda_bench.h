// CUDA-side helpers of the benchmarks (benchmarks/cuda_bench.cu when built with CUDA; otherwise the
// stubs in benchmarks/cuda_bench_stub.cpp throw). Timing: cudaEvents around each repeat, warm-up first,
// the L2 flushed (a write of twice its size) before every repeat, the median reported.
#pragma once
#include <functional>

namespace renorm::bench {

double cuda_time_ms(const std::function<void()>& f, int repeats);
// `steps` calls of `step` queued back to back, nothing waited for in between: the host's time per call to
// queue its work (enqueue) and the device's time per call (cudaEvents around all of them). A step the
// host cannot queue faster than the device runs it shows host_ms ≈ gpu_ms: it is launch-bound.
struct PipelinedTime {
  double host_ms = 0, gpu_ms = 0;
};
PipelinedTime cuda_pipelined_ms(const std::function<void()>& step, int steps);
// Device-to-device copy of 1 GiB, bytes read + written per second, in GB/s (the achievable ceiling).
double cuda_copy_gbs();
// The time of a device-to-device copy that moves `bytes_moved` (reads half, writes half), timed as
// cuda_time_ms: the floor a kernel moving the same bytes is compared with, fixed costs included.
double cuda_copy_ms(double bytes_moved, int repeats);

// cuDNN batch normalization (NHWC, CUDNN_BATCHNORM_SPATIAL_PERSISTENT) on x [b,h,w,c], the comparison
// for renorm at M = B. Buffers are the caller's device pointers.
struct CudnnBatchNorm {
  CudnnBatchNorm(int b, int h, int w, int c);
  ~CudnnBatchNorm();
  void forward_training(const float* x, float* y, const float* gamma, const float* beta, float* run_mean,
                        float* run_var, float* save_mean, float* save_invvar);
  void backward(const float* x, const float* dy, float* dx, const float* gamma, float* dgamma, float* dbeta,
                const float* save_mean, const float* save_invvar);
  struct Impl;
  Impl* impl;
};

}  // namespace renorm::bench
