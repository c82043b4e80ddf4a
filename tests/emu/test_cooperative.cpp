// The emulator's cooperative launch (kernels/cuda/launch.cuh launch_cooperative, grid_sync): every block
// alive at once, each with its own shared memory across the grid barrier; a grid barrier outside a
// cooperative launch, a grid larger than the device holds and a block that ends while others wait are
// errors naming the kernel.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "launch_error.h"
#include "kernels/cuda/launch.cuh"

using namespace renorm;
using renorm::kernels::cuda::grid_sync;
using renorm::kernels::cuda::launch;
using renorm::kernels::cuda::launch_cooperative;
using renorm::test::launch_error;

namespace {
constexpr int kBlock = 32;

// Phase 1: each block writes its slot; phase 2: reads its neighbour's (written in another block's phase
// 1: right only after the barrier) plus its own __shared__ value, which every block set differently.
__global__ void __launch_bounds__(kBlock) neighbour_sum(const float* in, float* scratch, float* out) {
  __shared__ float mine;
  const unsigned b = blockIdx.x, t = threadIdx.x, nb = gridDim.x;
  if (t == 0) mine = in[b];
  __syncthreads();
  scratch[b * kBlock + t] = mine + float(t);
  grid_sync();
  out[b * kBlock + t] = __ldcg(&scratch[((b + 1) % nb) * kBlock + t]) + mine;  // another block's write: __ldcg
  grid_sync();  // a second phase: the barrier is reusable
  scratch[b * kBlock + t] = 0.f;
}

__global__ void __launch_bounds__(kBlock) sync_in_plain_launch(float* out) {
  grid_sync();
  out[threadIdx.x] = 1.f;
}

__global__ void __launch_bounds__(kBlock) block_leaves_early(float* out) {
  if (blockIdx.x == 1) return;
  grid_sync();
  out[blockIdx.x * kBlock + threadIdx.x] = 1.f;
}

}  // namespace

TEST_CASE("emulator: a cooperative launch syncs its grid - each block keeps its shared memory", "[cuda][emulator]") {
  const int blocks = 6;
  std::vector<float> in(blocks);
  std::iota(in.begin(), in.end(), 10.f);
  const Tensor x = Tensor::from_vector(in, Shape{blocks}, Device::CUDA);
  Tensor scratch = Tensor::zeros(Shape{blocks * kBlock}, Device::CUDA), out = Tensor::zeros(Shape{blocks * kBlock}, Device::CUDA);
  launch_cooperative<neighbour_sum>(blocks, kBlock, 0, x.data(), scratch.data(), out.data());
  const std::vector<float> got = out.to_vector();
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < kBlock; ++t) REQUIRE(got[b * kBlock + t] == in[(b + 1) % blocks] + float(t) + in[b]);
  CHECK(scratch.to_vector() == std::vector<float>(blocks * kBlock, 0.f));
}

TEST_CASE("emulator: grid_sync outside a cooperative launch, too large a grid, a block that leaves: errors",
          "[cuda][emulator]") {
  Tensor out = Tensor::zeros(Shape{4 * kBlock}, Device::CUDA);
  float* p = out.data();
  std::string e = launch_error([p] { launch<sync_in_plain_launch>(2, kBlock, 0, p); });
  INFO(e);
  CHECK(e.find("sync_in_plain_launch") != std::string::npos);
  CHECK(e.find("grid.sync() outside a cooperative launch") != std::string::npos);
  const int resident = renorm_emu::resident_blocks_per_multiprocessor(kBlock, 0) * ::renorm::cuda::multiprocessor_count();
  CHECK(kernels::cuda::resident_blocks<sync_in_plain_launch, kBlock>() == resident);
  e = launch_error([p, resident] { launch_cooperative<sync_in_plain_launch>(resident + 1, kBlock, 0, p); });
  CHECK(e.find("cudaErrorCooperativeLaunchTooLarge") != std::string::npos);
  CHECK(e.find("only " + std::to_string(resident) + " can be resident") != std::string::npos);
  e = launch_error([p] { launch_cooperative<block_leaves_early>(3, kBlock, 0, p); });
  CHECK(e.find("block_leaves_early: 1 blocks ended while 2 wait at grid.sync()") != std::string::npos);
}

// The cooperative kernels' occupancy on the emulator is a Hopper GPU's: bounded by the registers and static
// shared memory each was compiled with for sm_90 (the build's table, emu/occupancy.cpp), not by the
// device's thread limit alone, which admits 8 blocks of 256 threads per multiprocessor — grids a GPU
// refuses (docs/kernel-resources.md: 528 and 396 blocks on an H200's 132 multiprocessors).
TEST_CASE("emulator: the cooperative kernels' occupancy comes from their compiled registers and shared memory", "[cuda][emulator]") {
  if (renorm_emu::kernel_resources_source().empty()) {
    WARN("SKIPPED: no kernel resource table (a build without the CUDA backend or cuobjdump): the device's limits alone");
    return;
  }
  CHECK(renorm_emu::resident_blocks_per_multiprocessor(256, 0) == 8);  // the device's thread limit: 2048 / 256
  for (const char* kernel : {"{anonymous}::forward_coop", "{anonymous}::backward_coop"}) {
    INFO(kernel);
    renorm_emu::KernelResources r;
    REQUIRE(renorm_emu::kernel_resources(kernel, &r));
    // 65,536 registers per multiprocessor, allocated per warp in units of 256; 228 KiB of shared memory, 1 KiB
    // of each block the system's.
    const int by_registers = 65536 / (8 * ((r.registers * 32 + 255) / 256 * 256));
    const int by_shared = int((228 * 1024) / (r.static_shared + 1024));
    const int expected = std::min({8, by_registers, by_shared});
    CHECK(renorm_emu::resident_blocks_of(kernel, 256, 0) == expected);
    CHECK(expected < 8);  // the old bound admitted more
  }
}
