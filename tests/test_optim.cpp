// Optimizer rules against hand-written loops, learning-rate schedules, and the CNN learning one batch.
#include <catch2/catch.hpp>

#include <cmath>

#include "runtime/error.h"
#include "tensor/ops.h"
#include "train/optim.h"
#include "models/cifar_cnn.h"

using namespace renorm;

TEST_CASE("optim: SGD momentum, Nesterov, weight decay follow the update rule", "[optim]") {
  for (bool nesterov : {false, true}) {
    Tensor p = Tensor::from_vector({1.f, -2.f}, Shape{2}).requires_grad_();
    Sgd opt({{"p", p}}, 0.1f, SgdOptions{0.9f, 0.01f, nesterov});
    double ref[2] = {1, -2}, vel[2] = {0, 0};
    for (int step = 0; step < 5; ++step) {
      p.set_grad(Tensor::from_vector({0.5f * step, 1.f}, Shape{2}));
      opt.step();
      const double g0[2] = {0.5 * step, 1.0};
      for (int i = 0; i < 2; ++i) {
        const double g = g0[i] + 0.01 * ref[i];
        vel[i] = 0.9 * vel[i] + g;
        ref[i] -= 0.1 * (nesterov ? g + 0.9 * vel[i] : vel[i]);
      }
    }
    const auto v = p.to_vector();
    CHECK(v[0] == Approx(ref[0]).epsilon(1e-5));
    CHECK(v[1] == Approx(ref[1]).epsilon(1e-5));
  }
}

TEST_CASE("optim: Adam with bias correction follows the update rule", "[optim]") {
  Tensor p = Tensor::from_vector({0.5f}, Shape{1}).requires_grad_();
  Adam opt({{"p", p}}, 0.01f);
  double ref = 0.5, m = 0, v = 0;
  for (int t = 1; t <= 10; ++t) {
    const double g = std::sin(t);
    p.set_grad(Tensor::from_vector({float(g)}, Shape{1}));
    opt.step();
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    ref -= 0.01 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
  }
  CHECK(p.item() == Approx(ref).epsilon(1e-5));
  CHECK(opt.named_state().size() == 2);
  CHECK(opt.named_state()[1].first == "p.v");
}

TEST_CASE("optim: learning-rate schedules", "[optim]") {
  LrSchedule s;
  s.base = 0.1f;
  s.warmup_steps = 10;
  CHECK(s.at(0) == Approx(0.01f));
  CHECK(s.at(9) == Approx(0.1f));
  CHECK(s.at(500) == Approx(0.1f));
  s.kind = LrSchedule::Kind::Step;
  s.warmup_steps = 0;
  s.step_size = 100;
  CHECK(s.at(250) == Approx(0.001f));
  s.kind = LrSchedule::Kind::Cosine;
  s.total_steps = 100;
  CHECK(s.at(0) == Approx(0.1f));
  CHECK(s.at(50) == Approx(0.05f));
  CHECK(s.at(100) == Approx(0.f).margin(1e-7));
  CHECK_THROWS_AS(enum_parse<LrSchedule::Kind>("linear", "--lr-schedule"), ConfigError);
}

TEST_CASE("cnn: shapes for CIFAR-10 and Fashion-MNIST input, and its parameters", "[cnn]") {
  ModelConfig cfg;
  cfg.norm = NormKind::BatchNorm;
  CifarCnn cifar(cfg, Device::CPU);
  CHECK(cifar.forward(Tensor::zeros(Shape{4, 32, 32, 3})).shape() == Shape{4, 10});
  CHECK(cifar.norms().size() == 6);
  CHECK(cifar.named_buffers().size() == 12);
  CHECK(cifar.named_parameters().size() == 6 * 2 + 6 * 2 + 2);
  cfg.height = cfg.width = 28;
  cfg.channels = 1;
  cfg.norm = NormKind::None;
  CifarCnn fashion(cfg, Device::CPU);
  CHECK(fashion.forward(Tensor::zeros(Shape{2, 28, 28, 1})).shape() == Shape{2, 10});
  CHECK(fashion.norms().empty());
  CHECK_THROWS_AS(parse_norm("layernorm"), ConfigError);
}

TEST_CASE("cnn: each norm kind drives the loss on one fixed batch close to zero", "[cnn][slow]") {
  const Tensor x = Tensor::normal(Shape{8, 16, 16, 3}, 3, 0.f, 1.f);
  const Tensor labels = Tensor::from_vector({0, 1, 2, 3, 4, 5, 6, 7}, Shape{8});
  for (NormKind kind : {NormKind::None, NormKind::BatchNorm, NormKind::BatchRenorm}) {
    DYNAMIC_SECTION(norm_name(kind)) {
      ModelConfig cfg;
      cfg.height = cfg.width = 16;
      cfg.norm = kind;
      cfg.norm_config.microbatch = 4;
      cfg.norm_config.schedule = ClipSchedule::paper(150);
      CifarCnn net(cfg, Device::CPU);
      Adam opt(net.named_parameters(), 2e-3f);
      float first = 0, last = 0;
      int step = 0;
      for (; step < 150; ++step) {
        opt.zero_grad();
        Tensor loss = softmax_cross_entropy(net.forward(x), labels);
        loss.backward();
        opt.step();
        last = loss.item();
        if (step == 0) first = last;
        if (last < 0.05f) break;
      }
      INFO("loss " << first << " -> " << last << " after " << step << " steps");
      CHECK(first > 1.5f);
      CHECK(last < 0.05f);
    }
  }
}
