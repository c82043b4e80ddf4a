// Values and errors of the core ops on CPU, and a gradient check of a composite (each op's own gradient
// check is a row of tests/test_op_table.cpp).
#include <catch2/catch.hpp>

#include "runtime/error.h"
#include "tensor/ops.h"
#include "support/gradcheck.h"

using namespace renorm;
using renorm::test::check_gradients;
using renorm::test::GradCheckOptions;

namespace {
Tensor rnd(const Shape& s, uint64_t seed) { return Tensor::uniform(s, seed, -1.f, 1.f).requires_grad_(); }
}  // namespace

TEST_CASE("ops: forward values", "[ops]") {
  const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor b = Tensor::from_vector({1, 0, -1, 0, 1, 0}, Shape{3, 2});
  CHECK(matmul(a, b).to_vector() == std::vector<float>{2, 0, 5, 0});
  CHECK(add(a, a).to_vector() == std::vector<float>{2, 4, 6, 8, 10, 12});
  CHECK(scale(a, -0.5f).to_vector() == std::vector<float>{-0.5f, -1, -1.5f, -2, -2.5f, -3});
  CHECK(sum(a).item() == 21.f);
  CHECK(mean(a).item() == 3.5f);
  CHECK(relu(scale(a, -1.f)).to_vector() == std::vector<float>(6, 0.f));
  CHECK(sum(a).shape().rank() == 0);
}

TEST_CASE("ops: bias add and bias relu on empty tensors (no channels, no rows) compute nothing and do not crash", "[ops]") {
  // No channels: the bias gradient's rows = numel / channels divided by zero (SIGFPE) before the guard.
  for (const Shape& s : {Shape{3, 0}, Shape{0, 5}}) {
    INFO("x " << s.str());
    Tensor x = Tensor::zeros(s).requires_grad_(), b = Tensor::from_vector(std::vector<float>(size_t(s[1]), 2.f), Shape{s[1]});
    b.requires_grad_();
    for (bool relu : {false, true}) {
      Tensor y = relu ? bias_relu(x, b) : bias_add(x, b);
      CHECK(y.shape() == s);
      y.backward(Tensor::zeros(s));
      CHECK(b.grad().to_vector() == std::vector<float>(size_t(s[1]), 0.f));  // a sum over no rows
    }
  }
  CHECK(bias_relu(Tensor::from_vector({-3, 1, 0.5f, -0.25f}, Shape{2, 2}), Tensor::from_vector({1, -2}, Shape{2}))
            .to_vector() == std::vector<float>{0, 0, 1.5f, 0});
}

TEST_CASE("ops: shape and device errors name the op and the shapes", "[ops]") {
  const Tensor a = Tensor::zeros(Shape{2, 3}), b = Tensor::zeros(Shape{2, 2});
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("matmul") && Catch::Contains("[2,3]") && Catch::Contains("[2,2]"));
  CHECK_THROWS_AS(add(a, b), ShapeError);
  CHECK_THROWS_AS(mul(a, Tensor()), ShapeError);
  CHECK_THROWS_AS(mean(Tensor::zeros(Shape{0})), ShapeError);
}

TEST_CASE("gradcheck: a composite through reshape", "[gradcheck]") {
  auto f = [](const std::vector<Tensor>& in) {
    return mean(relu(matmul(in[0].reshape(Shape{2, 6}), in[1])));
  };
  GradCheckOptions opt;
  CHECK(check_gradients(f, {rnd({3, 4}, 11), rnd({6, 3}, 12)}, opt) == 30);
}
