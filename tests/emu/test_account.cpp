// The emulated device's account (emu/include/cuda_runtime.h, issue 23): what a piece of work asks of
// the device — launches per kernel, memsets, copies, synchronizations, allocations, library calls —
// counted exactly (the budgets it enforces: tests/emu/test_budgets.cpp).
#include <catch2/catch.hpp>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cuda/launch.cuh"
#include "runtime/device.h"
#include "tensor/tensor.h"

using namespace renorm;

namespace {
__global__ void __launch_bounds__(32) add_one(const float* in, float* out) { out[threadIdx.x] = in[threadIdx.x] + 1.f; }

// What fn() asked of the device.
renorm_emu::Account account_of(const std::function<void()>& fn) {
  renorm_emu::reset_account();
  fn();
  return renorm_emu::account();
}

}  // namespace

TEST_CASE("emulator: the account counts launches per kernel, memsets, copies, syncs, allocations", "[cuda][emulator]") {
  float* d = nullptr;
  float host[32] = {};
  const renorm_emu::Account a = account_of([&] {
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&d), 2 * sizeof host) == cudaSuccess);
    REQUIRE(cudaMemset(d, 0, 2 * sizeof host) == cudaSuccess);
    for (int i = 0; i < 3; ++i) kernels::cuda::launch<add_one>(1, 32, 0, i % 2 ? d + 32 : d, i % 2 ? d : d + 32);
    REQUIRE(cudaMemcpy(host, d + 32, sizeof host, cudaMemcpyDeviceToHost) == cudaSuccess);  // a copy and a sync
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  });
  CHECK(host[7] == 3.f);
  REQUIRE(a.launches.size() == 1);
  CHECK(a.launches.begin()->first.find("add_one") != std::string::npos);
  CHECK(a.launches.begin()->second == 3);
  CHECK(a.total_launches() == 3);
  CHECK(a.memsets == 1);
  CHECK(a.copies == 1);
  CHECK(a.syncs == 2);
  CHECK(a.allocations == 1);
  CHECK(a.library_calls == 0);
  if (renorm_emu::traffic_counted()) {  // per launch 32 floats read and 32 written: 4 + 4 sectors of 32 bytes
    const renorm_emu::Traffic t = a.total_traffic();
    CHECK(t.bytes_read == 3 * sizeof host);
    CHECK(t.bytes_written == 3 * sizeof host);
    CHECK(t.bytes_distinct == 3 * 2 * sizeof host);
    CHECK(a.bytes_distinct_all == 2 * sizeof host);  // the same two buffers each time
    CHECK(t.shared_bytes == 0);
  }
  cudaFree(d);
}
