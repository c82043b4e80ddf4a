// CPU-vs-CUDA parity of the renorm family (moments, training forward with the moving averages and the
// clip counts, backward, inference), table-driven over shapes: odd C (scalar path), C % 4 == 0 (float4
// path), H = W = 1, M = 1, M = B, and the CIFAR CNN's activation shapes.
#include <catch2/catch.hpp>

#include "runtime/allocator.h"
#include "tensor/ops/renorm.h"
#include "support/parity.h"

using namespace renorm;
using renorm::test::require_close;

namespace {
struct ParityCase {
  Shape x;
  int64_t m;
};

const std::vector<ParityCase> kParityCases = {
    {{8, 3, 5, 37}, 4},    {{6, 1, 1, 10}, 3},     {{4, 4, 4, 5}, 1},     {{8, 2, 2, 33}, 8},
    {{12, 7}, 4},          {{32, 32, 32, 32}, 4},  {{32, 16, 16, 64}, 32}, {{32, 8, 8, 128}, 4},
    {{16, 9, 9, 3}, 16},   {{64, 8, 8, 128}, 64},
};

struct Run {
  Tensor y, dx, dgamma, dbeta, run_mean, run_std, mean, var, infer;
  RenormSaved saved;
};

Run run_on(const ParityCase& k, Device d) {
  const int64_t c = k.x[-1];
  Run out;
  Tensor x = Tensor::normal(k.x, 1, 0.7f, 1.9f, d).requires_grad_();
  Tensor gamma = Tensor::uniform(Shape{c}, 2, 0.5f, 1.5f, d).requires_grad_();
  Tensor beta = Tensor::uniform(Shape{c}, 3, -0.5f, 0.5f, d).requires_grad_();
  out.run_mean = Tensor::uniform(Shape{c}, 4, 0.f, 1.4f, d);
  out.run_std = Tensor::uniform(Shape{c}, 5, 1.2f, 2.6f, d);
  NormConfig oc;
  RenormStep o;
  oc.microbatch = k.m;
  o.rmax = 1.5f;
  o.dmax = 0.5f;
  out.y = batch_renorm_train(x, gamma, beta, out.run_mean, out.run_std, oc, o, &out.saved);
  out.y.backward(Tensor::normal(k.x, 6, 0.f, 1.f, d));
  out.dx = x.grad();
  out.dgamma = gamma.grad();
  out.dbeta = beta.grad();
  microbatch_moments(x.detach(), k.m, &out.mean, &out.var);
  out.infer = batch_renorm_inference(x.detach(), gamma.detach(), beta.detach(), out.run_mean, out.run_std);
  return out;
}
}  // namespace

TEST_CASE("parity: renorm moments, forward, moving averages, backward, inference", "[parity][cuda][renorm]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  for (const ParityCase& k : kParityCases) {
    DYNAMIC_SECTION("x " << k.x.str() << " M " << k.m) {
      const Run a = run_on(k, Device::CPU), b = run_on(k, Device::CUDA);
      require_close(a.mean, b.mean, "moments mean");
      require_close(a.var, b.var, "moments var");
      require_close(a.y, b.y, "forward y");
      require_close(a.saved.mean, b.saved.mean, "saved mean");
      require_close(a.saved.invstd, b.saved.invstd, "saved invstd");
      require_close(a.saved.r, b.saved.r, "r");
      require_close(a.saved.d, b.saved.d, "d");
      CHECK(a.saved.clip_counts.to_vector() == b.saved.clip_counts.to_vector());
      require_close(a.run_mean, b.run_mean, "running mean");
      require_close(a.run_std, b.run_std, "running std");
      require_close(a.dx, b.dx, "dx");
      require_close(a.dgamma, b.dgamma, "dgamma");
      require_close(a.dbeta, b.dbeta, "dbeta");
      require_close(a.infer, b.infer, "inference");
    }
  }
}

TEST_CASE("cuda: a renorm training step allocates no new device memory once warm", "[cuda][renorm]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const ParityCase k{{32, 16, 16, 64}, 4};
  run_on(k, Device::CUDA);  // warm-up fills the cache
  const size_t mallocs = cuda_allocator_stats().cuda_mallocs;
  for (int i = 0; i < 3; ++i) run_on(k, Device::CUDA);
  CHECK(cuda_allocator_stats().cuda_mallocs == mallocs);
}
