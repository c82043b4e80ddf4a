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
#include "kernels/renorm.h"
#include "runtime/device.h"
#include "tensor/tensor.h"

using namespace renorm;
using kernels::NormShape;
using kernels::RenormParams;

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
// (the caching allocator holds the scratch), no op may allocate or synchronize; the launches are
// printed beside the budget (forward and backward 2 each, moments 1, inference 1).
TEST_CASE("account: the norm family's launches, and no sync or allocation once warm", "[cuda][account]") {
  const NormShape s{2, 4 * 4 * 4, 8};
  const int64_t n = s.numel(), nc = s.n * s.c;
  auto buffer = [](int64_t k, float v) { return Tensor::full(Shape{k}, v, Device::CUDA); };
  const Tensor x = Tensor::normal(Shape{n}, 3, 0.5f, 2.f, Device::CUDA), dy = Tensor::normal(Shape{n}, 4, 0.f, 1.f, Device::CUDA);
  Tensor y = buffer(n, 0.f), dx = buffer(n, 0.f), gamma = buffer(s.c, 1.f), beta = buffer(s.c, 0.f);
  Tensor run_mean = buffer(s.c, 0.f), run_std = buffer(s.c, 1.f), mean = buffer(nc, 0.f), var = buffer(nc, 0.f);
  Tensor invstd = buffer(nc, 0.f), r = buffer(nc, 0.f), d = buffer(nc, 0.f), clips = buffer(2, 0.f);
  Tensor dgamma = buffer(s.c, 0.f), dbeta = buffer(s.c, 0.f);
  const RenormParams p{1e-3f, 0.01f, 3.f, 5.f, true, false};
  namespace k = kernels::cuda;
  struct Op {
    const char* name;
    uint64_t budget;
    double byte_budget;  // distinct bytes, in units of F = one pass over x (0: none set)
    std::function<void()> run;
  };
  const double f = 4.0 * double(n);
  const std::vector<Op> ops = {
      {"forward", 2, 2.1, [&] { k::renorm_forward_train(x.data(), s, gamma.data(), beta.data(), run_mean.data(), run_std.data(), p,
                                                   y.data(), mean.data(), invstd.data(), r.data(), d.data(), clips.data()); }},
      {"backward", 2, 3.1, [&] { k::renorm_backward(x.data(), dy.data(), s, gamma.data(), mean.data(), invstd.data(), r.data(),
                                               d.data(), dx.data(), dgamma.data(), dbeta.data()); }},
      {"moments", 1, 0, [&] { k::moments(x.data(), s, mean.data(), var.data()); }},
      {"inference", 1, 2.05, [&] { k::renorm_inference(x.data(), s.n * s.rows, s.c, gamma.data(), beta.data(), run_mean.data(),
                                                 run_std.data(), y.data()); }},
  };
  std::printf("norm family on the emulated device, x %lldx%lldx%lld (N, rows, C):\n", (long long)s.n, (long long)s.rows,
              (long long)s.c);
  for (const Op& op : ops) {
    op.run();  // warm: the caching allocator now holds this op's scratch
    const renorm_emu::Account a = account_of(op.run);
    std::printf("  %-9s %llu launches (budget %llu%s): %s\n", op.name, (unsigned long long)a.total_launches(),
                (unsigned long long)op.budget, a.total_launches() > op.budget ? ", over" : "", kernels_of(a).c_str());
    if (renorm_emu::traffic_counted()) {
      const renorm_emu::Traffic t = a.total_traffic();
      std::printf("            distinct %.2f F (budget %s), read %.2f F, written %.2f F, shared %.2f F\n",
                  double(t.bytes_distinct) / f, op.byte_budget > 0 ? std::to_string(op.byte_budget).substr(0, 4).c_str() : "-",
                  double(t.bytes_read) / f, double(t.bytes_written) / f, double(t.shared_bytes) / f);
      CHECK(t.bytes_distinct >= uint64_t(f));  // every op reads x at least once
    }
    CHECK(a.total_launches() >= 1);
    CHECK(a.syncs == 0);
    CHECK(a.allocations == 0);
    CHECK(a.memsets + a.copies == 0);
  }
}
