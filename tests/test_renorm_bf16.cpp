// The norm family in bfloat16 storage (issue 25): on the CPU its results are exactly the float32 path's
// on the same (widened) values, each stored output rounded once — the statistics, r, d, the moving
// averages, dγ and dβ are float32 and bitwise equal. So a kernel that accumulated its statistics in
// bfloat16, or rounded a coefficient, fails here. CPU-vs-CUDA parity of the same: the op table's
// "bfloat16 storage" rows.
#include <catch2/catch.hpp>

#include "runtime/bf16.h"
#include "tensor/ops.h"

using namespace renorm;

namespace {
struct NormRun {
  Tensor y, dx, dgamma, dbeta, rm, rs;
  RenormSaved saved;
};

// One training step and its backward with x and dy in `dtype`; gamma, beta and the moving averages float32.
NormRun run(const Tensor& x32, const Tensor& dy32, DType dtype, int64_t m, float rmax, float dmax) {
  const int64_t c = x32.dim(-1);
  NormRun out;
  const Tensor x = x32.to(dtype).detach().requires_grad_();
  Tensor gamma = Tensor::uniform(Shape{c}, 2, 0.5f, 1.5f).requires_grad_(), beta = Tensor::uniform(Shape{c}, 3, -0.5f, 0.5f).requires_grad_();
  out.rm = Tensor::uniform(Shape{c}, 4, 0.f, 1.4f);
  out.rs = Tensor::uniform(Shape{c}, 5, 1.2f, 2.6f);
  NormConfig cfg;
  cfg.microbatch = m;
  RenormStep step;
  step.rmax = rmax;
  step.dmax = dmax;
  out.y = batch_renorm_train(x, gamma, beta, out.rm, out.rs, cfg, step, &out.saved);
  out.y.backward(dy32.to(dtype));
  out.dx = x.grad();
  out.dgamma = gamma.grad();
  out.dbeta = beta.grad();
  return out;
}

std::vector<uint16_t> bits(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  std::vector<uint16_t> b;
  for (float f : v) b.push_back(float_to_bf16(f));
  return b;
}
}  // namespace

TEST_CASE("renorm bf16: the float32 path's values, each stored output rounded once (CPU)", "[bf16][renorm]") {
  for (auto [shape, m] : std::vector<std::pair<Shape, int64_t>>{{Shape{8, 5, 5, 24}, 2}, {Shape{12, 3, 3, 37}, 4}, {Shape{16, 7}, 16}}) {
    DYNAMIC_SECTION(shape.str() << " M " << m) {
      // x and dy representable in bfloat16, so that both paths start from the same values
      const Tensor x = Tensor::normal(shape, 1, 0.7f, 1.9f).to(DType::BF16).to(DType::F32).detach();
      const Tensor dy = Tensor::normal(shape, 9, 0.f, 1.f).to(DType::BF16).to(DType::F32).detach();
      const NormRun h = run(x, dy, DType::BF16, m, 1.2f, 0.2f), f = run(x, dy, DType::F32, m, 1.2f, 0.2f);
      REQUIRE(h.y.dtype() == DType::BF16);
      REQUIRE(h.dx.dtype() == DType::BF16);
      CHECK(bits(h.y) == bits(f.y));  // h.y's values are bf16; f.y rounded once must be them
      CHECK(bits(h.dx) == bits(f.dx));
      for (auto [a, b] : {std::pair{h.saved.mean, f.saved.mean}, {h.saved.invstd, f.saved.invstd}, {h.saved.r, f.saved.r},
                          {h.saved.d, f.saved.d}, {h.saved.clip_counts, f.saved.clip_counts}, {h.rm, f.rm}, {h.rs, f.rs},
                          {h.dgamma, f.dgamma}, {h.dbeta, f.dbeta}})
        CHECK(a.to_vector() == b.to_vector());  // float32, bit for bit
      const std::vector<float> counts = h.saved.clip_counts.to_vector();
      CHECK(counts[0] + counts[1] > 0);  // r or d clipped somewhere: the bounds act
    }
  }
  const Tensor x = Tensor::normal(Shape{6, 4, 4, 20}, 3, 0.2f, 1.3f).to(DType::BF16);
  const Tensor g = Tensor::uniform(Shape{20}, 2, 0.5f, 1.5f), b = Tensor::uniform(Shape{20}, 3, -0.5f, 0.5f);
  const Tensor rm = Tensor::uniform(Shape{20}, 4, 0.f, 1.4f), rs = Tensor::uniform(Shape{20}, 5, 1.2f, 2.6f);
  const Tensor yi = batch_renorm_inference(x, g, b, rm, rs);
  CHECK(yi.dtype() == DType::BF16);
  CHECK(bits(yi) == bits(batch_renorm_inference(x.to(DType::F32), g, b, rm, rs)));
  Tensor mean, var, mean32, var32;
  microbatch_moments(x, 2, &mean, &var);
  microbatch_moments(x.to(DType::F32), 2, &mean32, &var32);
  CHECK(mean.to_vector() == mean32.to_vector());
  CHECK(var.to_vector() == var32.to_vector());
}
