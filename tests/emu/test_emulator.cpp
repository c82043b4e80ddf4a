// The CUDA emulator's own semantics, with small kernels compiled through it like kernels/cuda/*.cu:
// barriers and shared memory per block, warp shuffles, dynamic shared memory, atomics, and the traps
// and launch checks that turn a kernel bug into an error naming the kernel, block and thread.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/allocator.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "tensor/tensor.h"
#include "launch_error.h"
#include "kernels/cuda/launch.cuh"

using namespace renorm;
using renorm::kernels::cuda::launch;
using renorm::test::launch_error;

namespace {
constexpr int kBlock = 64;

// Reverses each block's slice through shared memory: right only if the barrier separates the phases.
__global__ void __launch_bounds__(kBlock) reverse_in_block(const float* in, float* out) {
  __shared__ float sh[kBlock];
  const unsigned t = threadIdx.x, base = blockIdx.x * kBlock;
  sh[t] = in[base + t];
  __syncthreads();
  out[base + t] = sh[kBlock - 1 - t];
}

// Reads a shared slot nobody wrote: the emulator fills shared memory with all-ones bytes (NaN).
__global__ void __launch_bounds__(32) read_unwritten_shared(float* out) {
  __shared__ float sh[32];
  out[blockIdx.x * 32 + threadIdx.x] = sh[threadIdx.x];
}

// Warp sum with __shfl_down_sync, then the xor butterfly, the broadcast and the inclusive scan.
__global__ void __launch_bounds__(kBlock) warp_ops(const float* in, float* out, unsigned mask) {
  const unsigned t = threadIdx.x;
  float v = in[t], b = in[t], s = in[t];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(mask, v, o);
  for (int o = 16; o > 0; o >>= 1) b += __shfl_xor_sync(0xffffffffu, b, o);
  for (int o = 1; o < 32; o <<= 1) {
    const float up = __shfl_up_sync(0xffffffffu, s, o);
    if (t % 32 >= unsigned(o)) s += up;
  }
  const float first = __shfl_sync(0xffffffffu, in[t], 0);
  out[4 * t] = v, out[4 * t + 1] = b, out[4 * t + 2] = s, out[4 * t + 3] = first;
}

__global__ void __launch_bounds__(kBlock) early_exit_then_barrier(float* out) {
  if (threadIdx.x == 5) return;
  __syncthreads();
  out[threadIdx.x] = 1.f;
}

__global__ void __launch_bounds__(48) full_mask_in_partial_warp(float* out) {
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, float(threadIdx.x), 1);
}

__global__ void __launch_bounds__(kBlock) dynamic_shared_sum(const float* in, float* out) {
  RENORM_DYNAMIC_SHARED(float, buf);
  buf[threadIdx.x] = in[threadIdx.x];
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0.f;
    for (unsigned i = 0; i < blockDim.x; ++i) s += buf[i];
    out[0] = s;
  }
}

__global__ void __launch_bounds__(kBlock) count_threads(float* counter) { atomicAdd(counter, 1.f); }

// Writes each block's index into the next slot: the order the blocks ran in.
__global__ void __launch_bounds__(1) record_block_order(float* slot, float* order) {
  order[int(atomicAdd(slot, 1.f))] = float(blockIdx.x + 4 * blockIdx.y);
}

std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.f);
  return v;
}

}  // namespace

TEST_CASE("emulator: the device is the emulator, with the configured multiprocessors", "[cuda][emulator]") {
  REQUIRE(cuda_emulated());
  REQUIRE(cuda_available());
  const std::string name = device_description(Device::CUDA);
  CHECK(name.find("renorm CUDA emulator") != std::string::npos);
  const char* sms = std::getenv("RENORM_EMU_SMS");
  CHECK(::renorm::cuda::multiprocessor_count() == (sms ? std::atoi(sms) : 132));
}

TEST_CASE("emulator: __syncthreads separates the phases of a block, __shared__ is one per block", "[cuda][emulator]") {
  const Tensor in = Tensor::from_vector(iota(3 * kBlock), Shape{3 * kBlock}, Device::CUDA);
  Tensor out = Tensor::empty(Shape{3 * kBlock}, Device::CUDA);
  launch<reverse_in_block>(3, kBlock, 0, in.data(), out.data());
  const std::vector<float> y = out.to_vector();
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < kBlock; ++t) REQUIRE(y[b * kBlock + t] == float(b * kBlock + kBlock - 1 - t));
}

TEST_CASE("emulator: shared memory starts as garbage in every block", "[cuda][emulator]") {
  Tensor out = Tensor::empty(Shape{64}, Device::CUDA);
  launch<read_unwritten_shared>(2, 32, 0, out.data());
  for (float v : out.to_vector()) CHECK(std::isnan(v));
}

TEST_CASE("emulator: warp shuffles follow CUDA's lane rules", "[cuda][emulator]") {
  const Tensor in = Tensor::from_vector(iota(kBlock), Shape{kBlock}, Device::CUDA);
  Tensor out = Tensor::empty(Shape{4 * kBlock}, Device::CUDA);
  launch<warp_ops>(1, kBlock, 0, in.data(), out.data(), 0xffffffffu);
  const std::vector<float> y = out.to_vector();
  for (int t = 0; t < kBlock; ++t) {
    const int w = t / 32 * 32, lane = t % 32;
    const float warp_sum = float(32 * w + 31 * 32 / 2);  // w + (w+1) + ... + (w+31)
    if (lane == 0) CHECK(y[4 * t] == warp_sum);          // the down-tree leaves the sum in lane 0
    CHECK(y[4 * t + 1] == warp_sum);
    CHECK(y[4 * t + 2] == float((lane + 1) * w + lane * (lane + 1) / 2));
    CHECK(y[4 * t + 3] == float(w));
  }
}

TEST_CASE("emulator: a shuffle that reads a lane outside its mask traps, naming kernel, block and thread",
          "[cuda][emulator]") {
  const std::string e = launch_error([] {
    const Tensor in = Tensor::full(Shape{kBlock}, 1.f, Device::CUDA);
    Tensor out = Tensor::empty(Shape{4 * kBlock}, Device::CUDA);
    launch<warp_ops>(1, kBlock, 0, in.data(), out.data(), 0x0000ffffu);
  });
  INFO(e);
  CHECK(e.find("warp_ops") != std::string::npos);
  CHECK(e.find("0x0000ffff") != std::string::npos);
  CHECK(e.find("block (0,0,0), thread (") != std::string::npos);
}

TEST_CASE("emulator: a thread that ends while the block waits at __syncthreads traps", "[cuda][emulator]") {
  const std::string e = launch_error([] {
    Tensor out = Tensor::empty(Shape{kBlock}, Device::CUDA);
    launch<early_exit_then_barrier>(1, kBlock, 0, out.data());
  });
  INFO(e);
  CHECK(e.find("thread (5,0,0): ended while 63 threads wait at __syncthreads") != std::string::npos);
}

TEST_CASE("emulator: a mask naming lanes outside the block traps", "[cuda][emulator]") {
  const std::string e = launch_error([] {
    Tensor out = Tensor::empty(Shape{48}, Device::CUDA);
    launch<full_mask_in_partial_warp>(1, 48, 0, out.data());
  });
  INFO(e);
  CHECK(e.find("names lanes that do not exist (this warp has 16 threads)") != std::string::npos);
}

TEST_CASE("emulator: dynamic shared memory and atomics", "[cuda][emulator]") {
  const Tensor in = Tensor::from_vector(iota(kBlock), Shape{kBlock}, Device::CUDA);
  Tensor out = Tensor::empty(Shape{1}, Device::CUDA);
  launch<dynamic_shared_sum>(1, kBlock, kBlock * sizeof(float), in.data(), out.data());
  CHECK(out.to_vector()[0] == float(kBlock * (kBlock - 1) / 2));
  Tensor counter = Tensor::zeros(Shape{1}, Device::CUDA);
  launch<count_threads>(dim3(3, 2), kBlock, 0, counter.data());
  CHECK(counter.to_vector()[0] == float(6 * kBlock));
}

TEST_CASE("launch: a configuration over the device's limits is a LaunchError naming the kernel", "[cuda][emulator]") {
  Tensor counter = Tensor::zeros(Shape{1}, Device::CUDA);
  float* p = counter.data();
  CHECK_THROWS_WITH(launch<count_threads>(1, dim3(64, 32), 0, p),
                    Catch::Contains("count_threads") && Catch::Contains("2048 threads exceed the device's 1024"));
  CHECK_THROWS_AS(launch<count_threads>(dim3(1, 70000), 32, 0, p), LaunchError);
  CHECK_THROWS_WITH(launch<dynamic_shared_sum>(1, kBlock, 64 * 1024, p, p), Catch::Contains("shared memory exceed 49152"));
}

TEST_CASE("allocator: exact-size mode hands out exactly the bytes asked for", "[cuda][emulator]") {
  REQUIRE(exact_allocation());  // renorm_tests_emu turns it on
  CHECK(cuda_allocation_size(100) == 100);
  CHECK(cuda_allocation_size(3 << 20) == size_t(3) << 20);
}

TEST_CASE("allocator: a block freed on another device goes back to its own device's cache", "[cuda][emulator]") {
  int devices = 0;
  REQUIRE(cudaGetDeviceCount(&devices) == cudaSuccess);
  REQUIRE(devices >= 2);  // renorm_tests_emu emulates two
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  {
    Tensor t = Tensor::empty(Shape{777}, Device::CUDA);  // a block of device 0 ...
    REQUIRE(cudaSetDevice(1) == cudaSuccess);             // ... freed while device 1 is current
  }
  const CudaAllocatorStats before1 = cuda_allocator_stats();
  { Tensor u = Tensor::empty(Shape{777}, Device::CUDA); }  // device 1 must not get device 0's block
  CHECK(cuda_allocator_stats().cuda_mallocs == before1.cuda_mallocs + 1);
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  const CudaAllocatorStats before0 = cuda_allocator_stats();
  { Tensor v = Tensor::empty(Shape{777}, Device::CUDA); }  // device 0 gets it back from its cache
  CHECK(cuda_allocator_stats().cache_hits == before0.cache_hits + 1);
  CHECK(cuda_allocator_stats().cuda_mallocs == before0.cuda_mallocs);
}

// A test that matches an error's text must mean the same on a GPU: the emulator answers with CUDA's own
// strings, and what it knows beyond them is renorm_emu::error_detail's (and CudaError::detail()'s).
TEST_CASE("emulator: cudaGetErrorString is CUDA's own - the emulator's detail comes apart", "[cuda][emulator]") {
  CHECK(std::string(cudaGetErrorString(cudaErrorStreamCaptureUnsupported)) == "operation not permitted when stream is capturing");
  CHECK(std::string(cudaGetErrorString(cudaErrorLaunchFailure)) == "unspecified launch failure");
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidValue)) == "invalid argument");
  CHECK(std::string(cudaGetErrorString(cudaSuccess)) == "no error");
  std::vector<float> host(4, 1.f), other(4);
  REQUIRE(cudaMemcpy(other.data(), host.data(), 16, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(std::string(cudaGetErrorString(cudaGetLastError())) == "invalid argument");
  CHECK(renorm_emu::error_detail(cudaErrorInvalidValue).find("destination is not emulated device memory") != std::string::npos);
  CHECK(renorm_emu::error_detail(cudaErrorLaunchFailure).empty());  // the detail is the last error's only
}

TEST_CASE("emulator: a copy whose kind does not match its pointers is an error", "[cuda][emulator]") {
  std::vector<float> host(4, 1.f), other(4);
  CHECK(cudaMemcpy(other.data(), host.data(), 16, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(renorm_emu::error_detail(cudaErrorInvalidValue).find("destination is not emulated device memory") != std::string::npos);
  cudaGetLastError();
  Tensor dev = Tensor::empty(Shape{4}, Device::CUDA);
  CHECK(cudaMemcpy(dev.data(), host.data(), 16, cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemcpy(dev.data(), host.data(), 17, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  cudaGetLastError();
}

TEST_CASE("emulator: the blocks of a grid run in the configured order (RENORM_EMU_BLOCKS)", "[cuda][emulator]") {
  const char* env = std::getenv("RENORM_EMU_BLOCKS");
  const std::string order = env ? env : "forward";
  std::vector<float> want(8);
  std::iota(want.begin(), want.end(), 0.f);
  if (order == "reverse") std::reverse(want.begin(), want.end());
  if (order == "interleaved") want = {0, 2, 4, 6, 1, 3, 5, 7};
  bool moved = false;  // random: some launch differs from the forward order
  for (int launch_no = 0; launch_no < 3; ++launch_no) {
    Tensor slot = Tensor::zeros(Shape{1}, Device::CUDA), ran = Tensor::zeros(Shape{8}, Device::CUDA);
    launch<record_block_order>(dim3(4, 2), 1, 0, slot.data(), ran.data());  // a 4x2 grid: linear index x + 4y
    std::vector<float> got = ran.to_vector();
    if (order.rfind("random", 0) == 0) {
      moved = moved || got != want;
      std::sort(got.begin(), got.end());  // still every block exactly once
    }
    CHECK(got == want);
  }
  if (order.rfind("random", 0) == 0) CHECK(moved);
}
