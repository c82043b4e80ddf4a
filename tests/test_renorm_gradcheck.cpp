// Finite-difference gradient checks of the whole Batch Renorm op (x, γ, β), r and d held constant.
#include <catch2/catch.hpp>

#include "tensor/ops/renorm.h"
#include "support/gradcheck.h"

using namespace renorm;
using renorm::test::check_gradients;

namespace {
// The function of (x, γ, β) with r and d frozen at the values of the unperturbed forward: the
// paper's gradient treats them as constants, so the finite differences must too.
int64_t check_frozen(float rmax, float dmax, const Tensor& run_mean, const Tensor& run_std, int* clipped) {
  const Shape xs{4, 2, 3, 3};
  const Tensor x = Tensor::normal(xs, 1, 0.5f, 1.5f).requires_grad_();
  const Tensor gamma = Tensor::uniform(Shape{3}, 2, 0.5f, 1.5f).requires_grad_();
  const Tensor beta = Tensor::uniform(Shape{3}, 3, -0.5f, 0.5f).requires_grad_();
  NormConfig oc;
  RenormStep o;
  oc.microbatch = 2;
  o.rmax = rmax;
  o.dmax = dmax;
  o.update_running = false;
  RenormSaved saved;
  {
    NoGradGuard ng;
    batch_renorm_train(x, gamma, beta, run_mean, run_std, oc, o, &saved);
  }
  const std::vector<float> counts = saved.clip_counts.to_vector();
  *clipped = int(counts[0] + counts[1]);
  o.fixed_r = saved.r;
  o.fixed_d = saved.d;
  return check_gradients(
      [&](const std::vector<Tensor>& in) { return batch_renorm_train(in[0], in[1], in[2], run_mean, run_std, oc, o); },
      {x, gamma, beta});
}
}  // namespace

TEST_CASE("gradcheck: batch renorm, bounds that do not clip", "[gradcheck][renorm]") {
  int clipped = -1;
  const Tensor rm = Tensor::full(Shape{3}, 0.3f), rs = Tensor::full(Shape{3}, 1.2f);
  CHECK(check_frozen(100.f, 100.f, rm, rs, &clipped) == 72 + 3 + 3);
  CHECK(clipped == 0);
}

TEST_CASE("gradcheck: batch renorm, bounds that clip", "[gradcheck][renorm]") {
  int clipped = -1;
  const Tensor rm = Tensor::full(Shape{3}, -2.f), rs = Tensor::full(Shape{3}, 0.2f);
  CHECK(check_frozen(1.5f, 0.5f, rm, rs, &clipped) == 78);
  CHECK(clipped == 12);  // every r and d of the 2x3 (n,c)
}

TEST_CASE("gradcheck: batch renorm with every r and d clipped needs no freezing", "[gradcheck][renorm]") {
  // Far from the bounds, clipped r and d are locally constant: the true derivative is the paper's.
  const Tensor rm = Tensor::full(Shape{3}, -5.f), rs = Tensor::full(Shape{3}, 0.05f);
  NormConfig oc;
  RenormStep o;
  oc.microbatch = 2;
  o.rmax = 2.f;
  o.dmax = 1.f;
  o.update_running = false;
  const Tensor x = Tensor::normal(Shape{4, 2, 3, 3}, 4, 0.f, 1.f).requires_grad_();
  const Tensor gamma = Tensor::full(Shape{3}, 1.3f).requires_grad_(), beta = Tensor::zeros(Shape{3}).requires_grad_();
  CHECK(check_gradients([&](const auto& in) { return batch_renorm_train(in[0], in[1], in[2], rm, rs, oc, o); },
                        {x, gamma, beta}) == 78);
}
