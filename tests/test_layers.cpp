// Layers on CPU: conv against a direct loop, gradient checks of every layer, dropout, loss values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/error.h"
#include "tensor/ops.h"
#include "kernels/nn.h"
#include "layers/layers.h"
#include "support/gradcheck.h"
#include "support/parity.h"

using namespace renorm;
using renorm::test::check_gradients;
using renorm::test::kParityTol;
using renorm::test::reference_error;

namespace {
Tensor rnd(const Shape& s, uint64_t seed) { return Tensor::uniform(s, seed, -1.f, 1.f).requires_grad_(); }

// Direct convolution in double: y[b,i,j,k] = Σ_{r,s,c} x[b, i·st-p+r, j·st-p+s, c] · w[k,r,s,c] + bias[k].
std::vector<double> direct_conv(const Tensor& xt, const Tensor& wt, const Tensor& bt, int64_t st, int64_t p) {
  const auto x = xt.to_vector(), w = wt.to_vector(), bias = bt.to_vector();
  const int64_t B = xt.dim(0), H = xt.dim(1), W = xt.dim(2), C = xt.dim(3), K = wt.dim(0), R = wt.dim(1), S = wt.dim(2);
  const int64_t OH = (H + 2 * p - R) / st + 1, OW = (W + 2 * p - S) / st + 1;
  std::vector<double> y(B * OH * OW * K);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j)
        for (int64_t k = 0; k < K; ++k) {
          double acc = bias[k];
          for (int64_t r = 0; r < R; ++r)
            for (int64_t s = 0; s < S; ++s)
              for (int64_t c = 0; c < C; ++c) {
                const int64_t hh = i * st - p + r, ww = j * st - p + s;
                if (hh >= 0 && hh < H && ww >= 0 && ww < W)
                  acc += double(x[((b * H + hh) * W + ww) * C + c]) * w[((k * R + r) * S + s) * C + c];
              }
          y[((b * OH + i) * OW + j) * K + k] = acc;
        }
  return y;
}

}  // namespace

TEST_CASE("conv2d: equals a direct convolution for several shapes, strides and paddings", "[layers][conv]") {
  struct C {
    Shape x;
    int64_t k, r, stride, pad;
  };
  const std::vector<C> cases = {{{2, 7, 6, 3}, 5, 3, 1, 1}, {{3, 8, 8, 4}, 6, 3, 2, 0}, {{2, 9, 7, 5}, 4, 5, 2, 2},
                                {{4, 5, 5, 8}, 3, 1, 1, 0}, {{1, 6, 6, 2}, 2, 2, 3, 1}, {{80, 16, 16, 32}, 8, 3, 1, 1}};
  for (const C& c : cases) {
    DYNAMIC_SECTION("x " << c.x.str() << " k" << c.k << " r" << c.r << " stride " << c.stride << " pad " << c.pad) {
      const Tensor x = Tensor::uniform(c.x, 1, -1.f, 1.f), w = Tensor::uniform(Shape{c.k, c.r, c.r, c.x[3]}, 2, -1.f, 1.f);
      const Tensor b = Tensor::uniform(Shape{c.k}, 3, -1.f, 1.f);
      const Tensor y = conv2d(x, w, b, c.stride, c.pad);
      CHECK(reference_error(y.to_vector(), direct_conv(x, w, b, c.stride, c.pad)) < kParityTol);
    }
  }
  CHECK_THROWS_AS(conv2d(Tensor::zeros(Shape{1, 4, 4, 3}), Tensor::zeros(Shape{2, 3, 3, 2}), Tensor()), ShapeError);
  CHECK_THROWS_AS(conv2d(Tensor::zeros(Shape{1, 2, 2, 3}), Tensor::zeros(Shape{2, 5, 5, 3}), Tensor()), ShapeError);
}

TEST_CASE("gradcheck: flatten (the ops' own checks are rows of tests/test_op_table.cpp)", "[gradcheck][layers]") {
  Flatten flat;
  CHECK(check_gradients([&](const auto& in) { return flat.forward(in[0]); }, {rnd({2, 3, 2, 2}, 4)}) == 24);
}

TEST_CASE("dropout: inverted scaling, mask keyed by seed/layer/step, identity in eval", "[layers]") {
  const Tensor x = Tensor::full(Shape{100000}, 1.f);
  const std::vector<float> y = dropout(x, 0.3f, 1, 2, 3).to_vector();
  int64_t kept = 0;
  for (float f : y) {
    REQUIRE((f == 0.f || std::abs(f - 1.f / 0.7f) < 1e-6f));
    kept += f != 0.f;
  }
  CHECK(std::abs(kept / 100000.0 - 0.7) < 0.01);
  CHECK(dropout(x, 0.3f, 1, 2, 3).to_vector() == y);
  CHECK(dropout(x, 0.3f, 1, 2, 4).to_vector() != y);
  CHECK(dropout(x, 0.3f, 1, 5, 3).to_vector() != y);
  Dropout layer(0.5f, 0, 1);
  layer.eval();
  CHECK(layer.forward(x).data() == x.data());
  CHECK_THROWS_AS(Dropout(1.f, 0), ConfigError);
}

TEST_CASE("dropout: K shards of a minibatch, each told its first example, draw the whole minibatch's mask",
          "[layers]") {
  // 15 elements per example: shards start inside the stream's groups of 4 (one Philox call each).
  const Tensor x = Tensor::full(Shape{6, 5, 3}, 1.f);
  const std::vector<float> whole = dropout(x, 0.4f, 3, 1, 7).to_vector();
  for (int64_t k : {2, 3, 6}) {
    std::vector<float> joined;
    for (int64_t r = 0; r < k; ++r) {
      const int64_t b = 6 / k;
      const std::vector<float> part = dropout(Tensor::full(Shape{b, 5, 3}, 1.f), 0.4f, 3, 1, 7, r * b).to_vector();
      joined.insert(joined.end(), part.begin(), part.end());
    }
    CHECK(joined == whole);
  }
  // Without the offset every shard would draw the first shard's mask.
  CHECK(dropout(Tensor::full(Shape{3, 5, 3}, 1.f), 0.4f, 3, 1, 7, 3).to_vector() !=
        dropout(Tensor::full(Shape{3, 5, 3}, 1.f), 0.4f, 3, 1, 7).to_vector());
}

TEST_CASE("dropout: each Philox call decides 4 independent elements", "[layers]") {
  // Four decisions per call from its four words: neighbours inside a group of 4 agree as often as
  // independent draws do, p^2 + (1-p)^2, not always (one word reused) and not never.
  const float p = 0.3f;
  int64_t same = 0, pairs = 0, kept = 0;
  for (int64_t q = 0; q < 20000; ++q) {
    const uint32_t keep = kernels::dropout_keep4(11, 2, 5, q, p);
    for (int j = 0; j < 4; ++j) {
      CHECK(kernels::dropout_keep(11, 2, 5, 4 * q + j, p) == bool((keep >> j) & 1u));
      kept += (keep >> j) & 1u;
      if (j > 0) {
        same += ((keep >> j) & 1u) == ((keep >> (j - 1)) & 1u);
        ++pairs;
      }
    }
  }
  CHECK(std::abs(double(same) / pairs - (p * p + (1 - p) * (1 - p))) < 0.01);
  CHECK(std::abs(double(kept) / 80000 - (1 - p)) < 0.01);
}

TEST_CASE("softmax cross-entropy: values, stability, accuracy, bad labels", "[layers]") {
  const Tensor logits = Tensor::from_vector({1, 2, 3, 1000, 0, -1000}, Shape{2, 3});
  const Tensor labels = Tensor::from_vector({2, 1}, Shape{2});
  Tensor correct;
  const float loss = softmax_cross_entropy(logits, labels, &correct).item();
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0, l1 = 1000.0;
  CHECK(loss == Approx((l0 + l1) / 2).epsilon(1e-6));
  CHECK(correct.to_vector() == std::vector<float>{1, 0});
  CHECK(std::isnan(softmax_cross_entropy(logits, Tensor::from_vector({3, 0}, Shape{2})).item()));
  CHECK_THROWS_AS(softmax_cross_entropy(logits, Tensor::zeros(Shape{3})), ShapeError);
}

TEST_CASE("modules: named parameters, train/eval propagation", "[layers]") {
  Sequential net;
  net.emplace<Conv2d>(3, 4, 3, ConvOptions{1, 1, true, Init::HeNormal, 1});
  net.emplace<ReLU>();
  net.emplace<Flatten>();
  net.emplace<Linear>(4 * 5 * 5, 2);
  const NamedTensors p = net.named_parameters();
  REQUIRE(p.size() == 4);
  CHECK(p[0].first == "0.weight");
  CHECK(p[3].first == "3.bias");
  CHECK(net.forward(Tensor::zeros(Shape{2, 5, 5, 3})).shape() == Shape{2, 2});
  net.eval();
  CHECK_FALSE(net.children()[0]->training());
  CHECK_THROWS_AS(Conv2d(0, 4, 3), ConfigError);
}

TEST_CASE("initializers: He and Glorot scales", "[layers]") {
  Tensor w = Tensor::empty(Shape{256, 3, 3, 64});
  initialize(w, Init::HeNormal, 3 * 3 * 64, 0, 1);
  double ss = 0;
  for (float f : w.to_vector()) ss += double(f) * f;
  CHECK(std::sqrt(ss / w.numel()) == Approx(std::sqrt(2.0 / 576)).epsilon(0.02));
  initialize(w, Init::GlorotUniform, 100, 50, 2);
  const auto v = w.to_vector();
  const float bound = std::sqrt(6.f / 150.f);
  CHECK(*std::max_element(v.begin(), v.end()) <= bound);
  CHECK(*std::max_element(v.begin(), v.end()) > 0.99f * bound);
  CHECK_THROWS_AS(parse_init("xavier"), ConfigError);
}
