// The emulated device's account (emu/include/cuda_runtime.h, issue 23): what a piece of work asks of
// the device — launches per kernel, memsets, copies, synchronizations, allocations, library calls —
// counted exactly, and the norm family's launches reported against issue 23's budgets (printed, not yet
// enforced: today's kernels are over them; the budget test comes with the rebuilt kernels).
#include <catch2/catch.hpp>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cuda/launch.cuh"
#include "norm_ops.h"
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

std::string kernels_of(const renorm_emu::Account& a) {
  std::string s;
  for (const auto& [kernel, n] : a.launches) {
    const std::string shown = kernel.rfind("{anonymous}::", 0) == 0 ? kernel.substr(13) : kernel;
    s += (s.empty() ? "" : ", ") + shown + (n > 1 ? " x" + std::to_string(n) : "");
  }
  return s;
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
    CHECK(t.shared_bytes == 0);
  }
  cudaFree(d);
}

// Issue 23's account of the norm family at one shape: B 8, 4x4, C 8, microbatches of 4 (N 2). Once warm
// (the caching allocator holds the scratch), no op may allocate or synchronize; the launches and the
// distinct bytes are printed beside the budgets (scripts/gpu-traffic.sh prints them for any shape).
TEST_CASE("account: the norm family's launches, and no sync or allocation once warm", "[cuda][account]") {
  test::NormOps norm(kernels::NormShape{2, 4 * 4 * 4, 8});
  const double f = norm.pass_bytes();
  std::printf("norm family on the emulated device, x of 2 microbatches x 64 rows x 8 channels:\n");
  for (const test::NormOp& op : norm.ops()) {
    op.run();  // warm: the caching allocator now holds this op's scratch
    const renorm_emu::Account a = account_of(op.run);
    std::printf("  %-9s %llu launches (budget %llu%s): %s\n", op.name, (unsigned long long)a.total_launches(),
                (unsigned long long)op.launch_budget, a.total_launches() > op.launch_budget ? ", over" : "",
                kernels_of(a).c_str());
    CHECK(a.total_launches() >= 1);
    CHECK(a.syncs == 0);
    CHECK(a.allocations == 0);
    CHECK(a.memsets + a.copies == 0);
    if (renorm_emu::traffic_counted()) {
      const renorm_emu::Traffic t = a.total_traffic();
      std::printf("            distinct %.2f F (least %.2f F), read %.2f F, written %.2f F, shared %.2f F\n",
                  double(t.bytes_distinct) / f, op.min_passes, double(t.bytes_read) / f, double(t.bytes_written) / f,
                  double(t.shared_bytes) / f);
      CHECK(double(t.bytes_distinct) >= op.min_passes * f);  // nothing can move less than its inputs and outputs once
    }
  }
}
