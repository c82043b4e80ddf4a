#include <catch2/catch.hpp>

#include "tensor/autograd.h"
#include "runtime/error.h"
#include "tensor/ops.h"

using namespace renorm;

TEST_CASE("autograd: gradients accumulate into leaves across uses and backward calls", "[autograd]") {
  Tensor x = Tensor::from_vector({1, 2, 3}, Shape{3}).requires_grad_();
  // y = Σ (x*x + x) uses x three times: dy/dx = 2x + 1
  Tensor y = sum(add(mul(x, x), x));
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{3, 5, 7});
  Tensor z = sum(scale(x, 2.f));
  z.backward();  // accumulates
  CHECK(x.grad().to_vector() == std::vector<float>{5, 7, 9});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());  // dropped: the next backward writes its first gradient
  sum(scale(x, 3.f)).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{3, 3, 3});
}

TEST_CASE("autograd: a gradient two leaves share is never changed under one of them", "[autograd]") {
  Tensor a = Tensor::from_vector({1, 2}, Shape{2}).requires_grad_(), b = Tensor::from_vector({3, 4}, Shape{2}).requires_grad_();
  sum(add(a, b)).backward();  // add's backward may hand both the same tensor
  sum(scale(a, 2.f)).backward();  // a second gradient for a only
  CHECK(a.grad().to_vector() == std::vector<float>{3, 3});
  CHECK(b.grad().to_vector() == std::vector<float>{1, 1});
}

TEST_CASE("autograd: diamond graph is processed once per node in topological order", "[autograd]") {
  Tensor x = Tensor::from_vector({2.f}, Shape{1}).requires_grad_();
  Tensor a = scale(x, 3.f);  // a = 3x
  Tensor b = mul(a, a);      // b = 9x^2
  Tensor c = add(b, a);      // c = 9x^2 + 3x  -> dc/dx = 18x + 3 = 39
  sum(c).backward();
  CHECK(x.grad().item() == Approx(39.f));
}

TEST_CASE("autograd: the graph is freed after backward", "[autograd]") {
  Tensor x = Tensor::from_vector({1, 2}, Shape{2}).requires_grad_();
  Tensor y = sum(mul(x, x));
  y.backward();
  CHECK_THROWS_AS(y.backward(), Error);
}

TEST_CASE("autograd: no-grad scope records nothing - detach cuts history", "[autograd]") {
  Tensor x = Tensor::from_vector({1, 2}, Shape{2}).requires_grad_();
  {
    NoGradGuard guard;
    Tensor y = mul(x, x);
    CHECK_FALSE(y.requires_grad());
    CHECK_FALSE(y.grad_fn());
  }
  CHECK(grad_enabled());
  Tensor y = mul(x, x);
  CHECK(y.requires_grad());
  CHECK_FALSE(y.detach().requires_grad());
  Tensor plain = Tensor::from_vector({1, 2}, Shape{2});
  CHECK_FALSE(mul(plain, plain).requires_grad());
}

TEST_CASE("autograd: backward with an explicit gradient and through reshape", "[autograd]") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}).requires_grad_();
  Tensor y = mul(x.reshape(Shape{4}), x.reshape(Shape{4}));
  y.backward(Tensor::from_vector({1, 0, 1, 0}, Shape{4}));
  CHECK(x.grad().to_vector() == std::vector<float>{2, 0, 6, 0});
  CHECK(x.grad().shape() == Shape{2, 2});
  CHECK_THROWS_AS(y.backward(Tensor::zeros(Shape{3})), ShapeError);
  Tensor leafless = Tensor::zeros(Shape{1});
  CHECK_THROWS_AS(leafless.backward(), Error);
}
