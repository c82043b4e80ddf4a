// CPU-vs-CUDA parity of the cooperative single-launch Batch Renorm (kernels/cuda/renorm_coop.cu): every
// output of the forward (y, the saved μ_n, 1/σ_n, r_n, d_n, the moving averages, the clip counts) and
// of the backward (dx, dγ, dβ) against the CPU kernels on the same inputs, over shapes with partial
// 32-channel tiles, several chunks per microbatch, M = 1 and M = B, and bounds that clip some r and d.
// A shape whose grid the device cannot hold at once returns false and launches nothing.
#include <catch2/catch.hpp>

#include <vector>

#include "kernels/renorm.h"
#include "support/parity.h"

using namespace renorm;
using renorm::test::require_close;

namespace {
struct Buffers {  // one device's copies of every input and output
  Tensor x, dy, gamma, beta, run_mean, run_std, y, mean, invstd, r, d, clips, dx, dgamma, dbeta, limits;
  Buffers(kernels::NormShape s, Device dev)
      : x(Tensor::normal(Shape{s.numel()}, 1, 0.7f, 1.9f, dev)),
        dy(Tensor::normal(Shape{s.numel()}, 2, 0.f, 1.f, dev)),
        gamma(Tensor::uniform(Shape{s.c}, 3, 0.5f, 1.5f, dev)),
        beta(Tensor::uniform(Shape{s.c}, 4, -0.5f, 0.5f, dev)),
        run_mean(Tensor::uniform(Shape{s.c}, 5, 0.f, 1.4f, dev)),
        run_std(Tensor::uniform(Shape{s.c}, 6, 1.2f, 2.6f, dev)),
        y(Tensor::zeros(Shape{s.numel()}, dev)), mean(Tensor::zeros(Shape{s.n * s.c}, dev)),
        invstd(Tensor::zeros(Shape{s.n * s.c}, dev)), r(Tensor::zeros(Shape{s.n * s.c}, dev)),
        d(Tensor::zeros(Shape{s.n * s.c}, dev)), clips(Tensor::zeros(Shape{2}, dev)),
        dx(Tensor::zeros(Shape{s.numel()}, dev)), dgamma(Tensor::zeros(Shape{s.c}, dev)),
        dbeta(Tensor::zeros(Shape{s.c}, dev)), limits(Tensor::from_vector({1.5f, 0.5f}, Shape{2}, dev)) {}
};

// rmax 1.5, dmax 0.5 (Buffers::limits)
kernels::RenormParams params(const Buffers& b) { return {1e-3f, 0.01f, b.limits.data(), true, false}; }

void cpu_step(kernels::NormShape s, Buffers& b) {
  namespace k = kernels::cpu;
  k::renorm_forward_train(b.x.data(), s, b.gamma.data(), b.beta.data(), b.run_mean.data(), b.run_std.data(), params(b),
                          b.y.data(), b.mean.data(), b.invstd.data(), b.r.data(), b.d.data(), b.clips.data());
  k::renorm_backward(b.x.data(), b.dy.data(), s, b.gamma.data(), b.mean.data(), b.invstd.data(), b.r.data(),
                     b.d.data(), b.dx.data(), b.dgamma.data(), b.dbeta.data());
}

bool cooperative_step(kernels::NormShape s, Buffers& b) {
  namespace k = kernels::cuda;
  if (!k::renorm_forward_train_cooperative(b.x.data(), s, b.gamma.data(), b.beta.data(), b.run_mean.data(),
                                           b.run_std.data(), params(b), b.y.data(), b.mean.data(), b.invstd.data(),
                                           b.r.data(), b.d.data(), b.clips.data()))
    return false;
  // The backward kernel holds fewer blocks per multiprocessor (more registers): it may not fit where the forward did.
  return k::renorm_backward_cooperative(b.x.data(), b.dy.data(), s, b.gamma.data(), b.mean.data(), b.invstd.data(),
                                        b.r.data(), b.d.data(), b.dx.data(), b.dgamma.data(), b.dbeta.data());
}
}  // namespace

TEST_CASE("parity: the cooperative Batch Renorm forward and backward equal the CPU", "[parity][cuda][renorm]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  // (N microbatches, rows each, C): M·H·W rows. Kept small: the emulator holds every thread of the grid.
  const std::vector<kernels::NormShape> shapes = {{2, 60, 37}, {2, 3, 10}, {4, 16, 5}, {1, 32, 33},
                                                  {3, 7, 7},   {2, 256, 40}, {1, 286, 8}, {2, 300, 70}};
  int ran = 0;
  for (const kernels::NormShape s : shapes) {
    Buffers cpu(s, Device::CPU), cuda(s, Device::CUDA);
    cpu_step(s, cpu);
    INFO("N " << s.n << ", rows " << s.rows << ", C " << s.c);
    if (!cooperative_step(s, cuda)) continue;  // more blocks than this device holds at once
    ++ran;
    require_close(cpu.y, cuda.y, "y");
    require_close(cpu.mean, cuda.mean, "saved mean");
    require_close(cpu.invstd, cuda.invstd, "saved 1/sigma");
    require_close(cpu.r, cuda.r, "r");
    require_close(cpu.d, cuda.d, "d");
    require_close(cpu.run_mean, cuda.run_mean, "moving mean");
    require_close(cpu.run_std, cuda.run_std, "moving std");
    CHECK(cpu.clips.to_vector() == cuda.clips.to_vector());
    require_close(cpu.dx, cuda.dx, "dx");
    require_close(cpu.dgamma, cuda.dgamma, "dgamma");
    require_close(cpu.dbeta, cuda.dbeta, "dbeta");
  }
  // The small shapes fit even one emulated multiprocessor, which holds 4 forward and 3 backward blocks of
  // these kernels at their sm_90 registers (emu/occupancy.cpp): 4 of the 8 shapes there, all at 8 and 132.
  INFO("ran " << ran);
  CHECK(ran >= 3);
}

TEST_CASE("cuda: a cooperative Batch Renorm the device cannot hold at once launches nothing", "[cuda][renorm]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const kernels::NormShape s{1, 1, 32 * 2000};  // 2000 channel tiles: more blocks than an H200 holds (528)
  Buffers cuda(s, Device::CUDA);
  const std::vector<float> y_before = cuda.y.to_vector();
  CHECK_FALSE(kernels::cuda::renorm_forward_train_cooperative(
      cuda.x.data(), s, cuda.gamma.data(), cuda.beta.data(), cuda.run_mean.data(), cuda.run_std.data(), params(cuda),
      cuda.y.data(), cuda.mean.data(), cuda.invstd.data(), cuda.r.data(), cuda.d.data(), cuda.clips.data()));
  CHECK(cuda.y.to_vector() == y_before);
}
