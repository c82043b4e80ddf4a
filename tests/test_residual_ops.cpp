// The residual network's ops (tensor/ops/residual.h) against values worked out by hand: the op table
// checks their gradients by finite differences (with an absolute floor that small gradients stay under)
// and their CUDA kernels against these CPU ones; this pins the CPU values themselves.
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "tensor/ops.h"

using namespace renorm;

namespace {
std::vector<float> iota(int64_t n, float from = 0.f) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), from);
  return v;
}
}  // namespace

TEST_CASE("residual ops: global average pooling and its gradient", "[ops][residual]") {
  // x [2,2,2,3]: example n, position p, channel c holds 100n + 10p + c.
  std::vector<float> v;
  for (int n = 0; n < 2; ++n)
    for (int p = 0; p < 4; ++p)
      for (int c = 0; c < 3; ++c) v.push_back(float(100 * n + 10 * p + c));
  Tensor x = Tensor::from_vector(v, Shape{2, 2, 2, 3}).requires_grad_();
  Tensor y = global_avg_pool(x);
  CHECK(y.shape() == Shape{2, 3});
  CHECK(y.to_vector() == std::vector<float>{15, 16, 17, 115, 116, 117});
  y.backward(Tensor::from_vector({4, 8, 12, -4, -8, -12}, Shape{2, 3}));
  const std::vector<float> g = x.grad().to_vector();
  for (int p = 0; p < 4; ++p)
    for (int c = 0; c < 3; ++c) {
      CHECK(g[size_t(p * 3 + c)] == float(c + 1));
      CHECK(g[size_t(12 + p * 3 + c)] == -float(c + 1));
    }
}

TEST_CASE("residual ops: the option-A shortcut subsamples and zero-pads channels", "[ops][residual]") {
  Tensor x = Tensor::from_vector(iota(1 * 3 * 3 * 2), Shape{1, 3, 3, 2}).requires_grad_();
  Tensor y = shortcut_a(x, 2, 6);  // 2 zero channels, x's 2, 2 zero channels; positions (0,0) (0,2) (2,0) (2,2)
  CHECK(y.shape() == Shape{1, 2, 2, 6});
  CHECK(y.to_vector() == std::vector<float>{0, 0, 0, 1, 0, 0, 0, 0, 4, 5, 0, 0, 0, 0, 12, 13, 0, 0, 0, 0, 16, 17, 0, 0});
  y.backward(Tensor::from_vector(iota(24, 1.f), Shape{1, 2, 2, 6}));
  // x(0,0) gets dy channels 2, 3 of output (0,0): 3, 4; x(0,2) those of output (0,1): 9, 10; ...
  CHECK(x.grad().to_vector() == std::vector<float>{3, 4, 0, 0, 9, 10, 0, 0, 0, 0, 0, 0, 15, 16, 0, 0, 21, 22});
  CHECK_THROWS_AS(shortcut_a(x, 2, 1), ShapeError);
}

TEST_CASE("residual ops: add + ReLU, one gradient for both inputs", "[ops][residual]") {
  Tensor a = Tensor::from_vector({1, -2, 3, 0.5f}, Shape{4}).requires_grad_();
  Tensor b = Tensor::from_vector({1, 1, -4, -0.25f}, Shape{4}).requires_grad_();
  Tensor y = add_relu(a, b);
  CHECK(y.to_vector() == std::vector<float>{2, 0, 0, 0.25f});
  y.backward(Tensor::from_vector({10, 20, 30, 40}, Shape{4}));
  CHECK(a.grad().to_vector() == std::vector<float>{10, 0, 0, 40});
  CHECK(b.grad().to_vector() == std::vector<float>{10, 0, 0, 40});
  CHECK_THROWS_AS(add_relu(a, Tensor::zeros(Shape{3})), ShapeError);
}
