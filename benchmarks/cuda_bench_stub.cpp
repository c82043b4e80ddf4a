// Without CUDA the benchmarks run on the CPU only; these are never reached (the device is checked first).
#include "benchmarks/cuda_bench.h"
#include "runtime/error.h"

namespace renorm::bench {
double cuda_time_ms(const std::function<void()>&, int) { throw DeviceError("benchmarks built without CUDA"); }
PipelinedTime cuda_pipelined_ms(const std::function<void()>&, int) { throw DeviceError("benchmarks built without CUDA"); }
double cuda_copy_gbs() { throw DeviceError("benchmarks built without CUDA"); }
double cuda_copy_ms(double, int) { throw DeviceError("benchmarks built without CUDA"); }
struct CudnnBatchNorm::Impl {};
CudnnBatchNorm::CudnnBatchNorm(int, int, int, int) : impl(nullptr) { throw DeviceError("benchmarks built without CUDA"); }
CudnnBatchNorm::~CudnnBatchNorm() = default;
void CudnnBatchNorm::forward_training(const float*, float*, const float*, const float*, float*, float*, float*, float*) {}
void CudnnBatchNorm::backward(const float*, const float*, float*, const float*, float*, float*, const float*, const float*) {}
}  // namespace renorm::bench
