// Values and finite-difference gradient checks of the core ops on CPU.
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

TEST_CASE("ops: shape and device errors name the op and the shapes", "[ops]") {
  const Tensor a = Tensor::zeros(Shape{2, 3}), b = Tensor::zeros(Shape{2, 2});
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("matmul") && Catch::Contains("[2,3]") && Catch::Contains("[2,2]"));
  CHECK_THROWS_AS(add(a, b), ShapeError);
  CHECK_THROWS_AS(mul(a, Tensor()), ShapeError);
  CHECK_THROWS_AS(mean(Tensor::zeros(Shape{0})), ShapeError);
}

TEST_CASE("gradcheck: add, mul, scale", "[gradcheck]") {
  CHECK(check_gradients([](const auto& in) { return add(in[0], in[1]); }, {rnd({3, 4}, 1), rnd({3, 4}, 2)}) == 24);
  CHECK(check_gradients([](const auto& in) { return mul(in[0], in[1]); }, {rnd({5}, 3), rnd({5}, 4)}) == 10);
  CHECK(check_gradients([](const auto& in) { return scale(in[0], -2.5f); }, {rnd({2, 3}, 5)}) == 6);
}

TEST_CASE("gradcheck: sum and mean", "[gradcheck]") {
  CHECK(check_gradients([](const auto& in) { return sum(in[0]); }, {rnd({4, 3}, 6)}) == 12);
  CHECK(check_gradients([](const auto& in) { return mean(in[0]); }, {rnd({7}, 7)}) == 7);
}

TEST_CASE("gradcheck: matmul, both operands", "[gradcheck]") {
  CHECK(check_gradients([](const auto& in) { return matmul(in[0], in[1]); }, {rnd({3, 5}, 8), rnd({5, 4}, 9)}) == 35);
}

TEST_CASE("gradcheck: relu with a kink window at 0", "[gradcheck]") {
  GradCheckOptions opt;
  opt.kink = 0.0;
  opt.kink_range = 2 * opt.step;
  CHECK(check_gradients([](const auto& in) { return relu(in[0]); }, {rnd({50}, 10)}, opt) > 30);
}

TEST_CASE("gradcheck: a composite through reshape", "[gradcheck]") {
  auto f = [](const std::vector<Tensor>& in) {
    return mean(relu(matmul(in[0].reshape(Shape{2, 6}), in[1])));
  };
  GradCheckOptions opt;
  CHECK(check_gradients(f, {rnd({3, 4}, 11), rnd({6, 3}, 12)}, opt) == 30);
}
