// Batch Renorm on CPU against the double-precision loop reference, and its defining properties.
#include <catch2/catch.hpp>

#include "runtime/error.h"
#include "tensor/ops.h"
#include "layers/batch_renorm.h"
#include "models/cifar_cnn.h"
#include "tensor/autograd.h"
#include "support/parity.h"
#include "support/renorm_reference.h"

using namespace renorm;
using namespace renorm::test;

namespace {

struct Case {
  RefShape s;
  bool images;  // [B,H,W,C]; else [B,C] (H = W = 1)
};

// The shapes the issue names: C not a multiple of 32, H = W = 1, M = 1 on images, M = B, dense [B,C].
const std::vector<Case> kCases = {
    {{8, 3, 5, 37, 4}, true}, {{6, 1, 1, 10, 3}, true}, {{4, 4, 4, 5, 1}, true},
    {{8, 2, 2, 33, 8}, true}, {{12, 1, 1, 7, 4}, false},
};

struct Inputs {
  Tensor x, gamma, beta, run_mean, run_std;
};

// Statistics chosen so that, with rmax = 1.5 and dmax = 0.5, some r and d clip and some do not.
Inputs make_inputs(const Case& k, uint64_t seed, Device dev = Device::CPU) {
  const RefShape& s = k.s;
  const Shape xs = k.images ? Shape{s.b, s.h, s.w, s.c} : Shape{s.b, s.c};
  Inputs in;
  in.x = add(Tensor::normal(xs, seed, 0.3f, 1.7f, dev), Tensor::uniform(xs, seed + 1, -1.f, 1.f, dev));
  in.gamma = Tensor::uniform(Shape{s.c}, seed + 2, 0.5f, 1.5f, dev).requires_grad_();
  in.beta = Tensor::uniform(Shape{s.c}, seed + 3, -0.5f, 0.5f, dev).requires_grad_();
  in.run_mean = Tensor::uniform(Shape{s.c}, seed + 4, -0.5f, 1.f, dev);
  in.run_std = Tensor::uniform(Shape{s.c}, seed + 5, 0.8f, 2.5f, dev);
  return in;
}

NormConfig config(int m) {
  NormConfig c;
  c.microbatch = m;
  return c;
}

RenormStep bounds(float rmax, float dmax) {
  RenormStep o;
  o.rmax = rmax;
  o.dmax = dmax;
  return o;
}
}  // namespace

TEST_CASE("renorm: forward and backward equal the double-precision loop reference", "[renorm]") {
  for (const Case& k : kCases) {
    const RefShape& s = k.s;
    DYNAMIC_SECTION("B" << s.b << " H" << s.h << " W" << s.w << " C" << s.c << " M" << s.m) {
      Inputs in = make_inputs(k, 100 + s.c);
      in.x.requires_grad_();
      const RefResult ref = ref_forward(s, in.x.to_vector(), in.gamma.to_vector(), in.beta.to_vector(),
                                        in.run_mean.to_vector(), in.run_std.to_vector(), 1e-3, 0.01, 1.5, 0.5);
      RenormSaved saved;
      Tensor y = batch_renorm_train(in.x, in.gamma, in.beta, in.run_mean, in.run_std, config(s.m), bounds(1.5f, 0.5f), &saved);
      CHECK(reference_error(y.to_vector(), ref.y) < kParityTol);
      CHECK(reference_error(saved.mean.to_vector(), ref.mean) < kParityTol);
      CHECK(reference_error(saved.r.to_vector(), ref.r) < kParityTol);
      CHECK(reference_error(saved.d.to_vector(), ref.d) < kParityTol);
      CHECK(reference_error(in.run_mean.to_vector(), ref.run_mean) < kParityTol);
      CHECK(reference_error(in.run_std.to_vector(), ref.run_std) < kParityTol);
      CHECK(saved.clip_counts.to_vector() == std::vector<float>{float(ref.clipped_r), float(ref.clipped_d)});
      if (s.c >= 10) {  // the bounds are active and inactive in the same step
        CHECK(ref.clipped_r > 0);
        CHECK(ref.clipped_r < s.n() * s.c);
      }
      const Tensor dy = Tensor::normal(y.shape(), 7, 0.f, 1.f);
      y.backward(dy);
      std::vector<double> dx, dg, db;
      ref_backward(s, in.x.to_vector(), dy.to_vector(), in.gamma.to_vector(), ref, 1e-3, dx, dg, db);
      CHECK(reference_error(in.x.grad().to_vector(), dx) < kParityTol);
      CHECK(reference_error(in.gamma.grad().to_vector(), dg) < kParityTol);
      CHECK(reference_error(in.beta.grad().to_vector(), db) < kParityTol);
    }
  }
}

TEST_CASE("renorm: microbatch moments equal the reference (mean, biased variance)", "[renorm]") {
  for (const Case& k : kCases) {
    const Inputs in = make_inputs(k, 5);
    Tensor mean, var;
    microbatch_moments(in.x, k.s.m, &mean, &var);
    const RefResult ref = ref_forward(k.s, in.x.to_vector(), in.gamma.to_vector(), in.beta.to_vector(),
                                      in.run_mean.to_vector(), in.run_std.to_vector(), 1e-3, 0.01, 1, 0);
    CHECK(mean.shape() == Shape{k.s.n(), k.s.c});
    CHECK(reference_error(mean.to_vector(), ref.mean) < kParityTol);
    CHECK(reference_error(var.to_vector(), ref.var) < kParityTol);
  }
}

TEST_CASE("renorm: moments are stable for data far from zero", "[renorm]") {
  // mean 1e4, std 1: a naive E[x²] - E[x]² in float would lose every digit of the variance.
  const Case k{{4, 8, 8, 16, 2}, true};
  const Tensor x = add(Tensor::normal(Shape{4, 8, 8, 16}, 3, 0.f, 1.f), Tensor::full(Shape{4, 8, 8, 16}, 1e4f));
  Tensor mean, var;
  microbatch_moments(x, 2, &mean, &var);
  const std::vector<float> ones(16, 1.f), zeros(16, 0.f);
  const RefResult ref = ref_forward(k.s, x.to_vector(), ones, zeros, zeros, ones, 1e-3, 0.01, 1, 0);
  CHECK(reference_error(var.to_vector(), ref.var) < kParityTol);
  CHECK(reference_error(mean.to_vector(), ref.mean) < kParityTol);
}

TEST_CASE("renorm: rmax = 1, dmax = 0 is the classic batchnorm formula - M = B is no microbatching", "[renorm]") {
  const Case k{{8, 3, 3, 6, 4}, true};
  const Inputs in = make_inputs(k, 11);
  const Tensor y = batch_renorm_train(in.x, in.gamma, in.beta, in.run_mean.clone(), in.run_std.clone(), config(4), bounds(1, 0));
  const std::vector<float> x = in.x.to_vector(), g = in.gamma.to_vector(), b = in.beta.to_vector();
  std::vector<double> want(x.size());
  const RefShape& s = k.s;
  for (int n = 0; n < s.n(); ++n)
    for (int c = 0; c < s.c; ++c) {
      double mu = 0, var = 0;
      const int count = s.m * s.h * s.w;
      for (int j = 0; j < count; ++j) mu += x[(size_t(n) * count + j) * s.c + c];
      mu /= count;
      for (int j = 0; j < count; ++j) var += std::pow(x[(size_t(n) * count + j) * s.c + c] - mu, 2);
      var /= count;
      for (int j = 0; j < count; ++j) {
        const size_t i = (size_t(n) * count + j) * s.c + c;
        want[i] = g[c] * (x[i] - mu) / std::sqrt(var + 1e-3) + b[c];
      }
    }
  CHECK(reference_error(y.to_vector(), want) < kParityTol);
  const Tensor whole = batch_renorm_train(in.x, in.gamma, in.beta, in.run_mean.clone(), in.run_std.clone(), config(0), bounds(1.5f, 0.5f));
  const Tensor m_eq_b = batch_renorm_train(in.x, in.gamma, in.beta, in.run_mean.clone(), in.run_std.clone(), config(8), bounds(1.5f, 0.5f));
  CHECK(whole.to_vector() == m_eq_b.to_vector());
}

TEST_CASE("renorm: changing one microbatch leaves every other microbatch's output unchanged", "[renorm]") {
  const Case k{{12, 4, 4, 9, 4}, true};
  const Inputs in = make_inputs(k, 21);
  const NormConfig oc = config(4);
  const RenormStep o = bounds(2.f, 1.f);
  const std::vector<float> before =
      batch_renorm_train(in.x, in.gamma, in.beta, in.run_mean.clone(), in.run_std.clone(), oc, o).to_vector();
  std::vector<float> x = in.x.to_vector();
  const size_t per_mb = size_t(4) * 4 * 4 * 9;
  for (size_t i = per_mb; i < 2 * per_mb; ++i) x[i] = x[i] * 3.f + 2.f;  // microbatch 1 only
  const Tensor x2 = Tensor::from_vector(x, in.x.shape());
  const std::vector<float> after =
      batch_renorm_train(x2, in.gamma, in.beta, in.run_mean.clone(), in.run_std.clone(), oc, o).to_vector();
  for (size_t i = 0; i < before.size(); ++i) {
    if (i >= per_mb && i < 2 * per_mb) continue;
    REQUIRE(before[i] == after[i]);
  }
  CHECK(std::vector<float>(before.begin() + per_mb, before.begin() + 2 * per_mb) !=
        std::vector<float>(after.begin() + per_mb, after.begin() + 2 * per_mb));
}

TEST_CASE("renorm: moving averages after k steps equal the closed form - eval mode uses them", "[renorm]") {
  NormConfig cfg;
  cfg.microbatch = 2;
  cfg.alpha = 0.1f;
  cfg.schedule = ClipSchedule::constant(2.f, 1.f);
  BatchRenorm layer(5, cfg);
  const Tensor x = Tensor::normal(Shape{6, 3, 3, 5}, 31, 2.f, 3.f);
  Tensor mean, var;
  microbatch_moments(x, 2, &mean, &var);
  const std::vector<float> mv = mean.to_vector(), vv = var.to_vector();
  const int k = 25;
  for (int i = 0; i < k; ++i) layer.forward(x);
  CHECK(layer.step() == k);
  const std::vector<float> rm = layer.running_mean.to_vector(), rs = layer.running_std.to_vector();
  const double decay = std::pow(1.0 - 0.1, k);
  std::vector<double> want_mean(5), want_std(5), want_y;
  for (int c = 0; c < 5; ++c) {
    double mu_t = 0, sigma_t = 0;
    for (int n = 0; n < 3; ++n) {
      mu_t += mv[n * 5 + c] / 3.0;
      sigma_t += std::sqrt(vv[n * 5 + c] + 1e-3) / 3.0;
    }
    want_mean[c] = mu_t + decay * (0.0 - mu_t);  // from μ0 = 0
    want_std[c] = sigma_t + decay * (1.0 - sigma_t);  // from σ0 = 1
  }
  CHECK(reference_error(rm, want_mean) < 1e-5);
  CHECK(reference_error(rs, want_std) < 1e-5);
  layer.eval();
  const std::vector<float> y = layer.forward(x).to_vector(), xv = x.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) want_y.push_back((xv[i] - rm[i % 5]) / rs[i % 5]);  // γ = 1, β = 0
  CHECK(reference_error(y, want_y) < kParityTol);
  CHECK(layer.step() == k);  // eval does not advance the schedule
}

TEST_CASE("renorm: clipping schedule (paper's, scaled) and the clipped fraction", "[renorm]") {
  const ClipSchedule p = ClipSchedule::paper(16000);  // a tenth of the paper's 160k
  CHECK(p.warmup_steps == 500);
  CHECK(p.rmax_steps == 4000);
  CHECK(p.dmax_steps == 2500);
  CHECK(p.rmax(0) == 1.f);
  CHECK(p.dmax(500) == 0.f);
  CHECK(p.rmax(2250) == Approx(2.f));
  CHECK(p.dmax(1500) == Approx(2.5f));
  CHECK(p.rmax(4000) == 3.f);
  CHECK(p.rmax(100000) == 3.f);
  CHECK(p.dmax(2500) == 5.f);
  const ClipSchedule def;  // the final bounds, no steps: a layer refuses it (below)
  CHECK(!def.is_set());
  CHECK(def.rmax_final == 3.f);
  CHECK(def.dmax_final == 5.f);
  CHECK(ClipSchedule::paper(160000).is_set());
  CHECK(ClipSchedule::constant(2.f, 1.f).is_set());

  NormConfig cfg;
  cfg.microbatch = 2;
  BatchNorm bn(4, cfg);  // rmax = 1: every r sits on its bound unless σ_B = σ exactly
  const Tensor x = Tensor::normal(Shape{4, 2, 2, 4}, 2, 1.f, 2.f);
  bn.forward(x);
  CHECK(bn.last_clip_fractions().r == 1.f);
  CHECK(bn.last_clip_fractions().d == 1.f);
  cfg.schedule = ClipSchedule::constant(1000.f, 1000.f);
  BatchRenorm wide(4, cfg);
  wide.forward(x);
  CHECK(wide.last_clip_fractions().r == 0.f);
  CHECK(wide.last_clip_fractions().d == 0.f);
}

TEST_CASE("renorm: bad configuration gets a clear error naming the setting", "[renorm]") {
  auto make = [](auto edit) {
    NormConfig c;
    c.schedule = ClipSchedule::for_run(1000, c.alpha);
    edit(c);
    return BatchRenorm(4, c);
  };
  CHECK_NOTHROW(make([](auto& c) { c.microbatch = 0; }));  // 0: the whole minibatch
  CHECK_THROWS_WITH(make([](auto& c) { c.microbatch = -2; }), Catch::Contains("microbatch must be >= 1 (or 0"));
  CHECK_THROWS_WITH(make([](auto& c) { c.schedule.rmax_final = 0.5f; }), Catch::Contains("rmax must be >= 1"));
  CHECK_THROWS_WITH(make([](auto& c) { c.schedule.dmax_final = -1.f; }), Catch::Contains("dmax must be >= 0"));
  CHECK_THROWS_WITH(make([](auto& c) { c.eps = 0.f; }), Catch::Contains("eps must be > 0"));
  CHECK_THROWS_WITH(make([](auto& c) { c.alpha = 0.f; }), Catch::Contains("alpha must be in (0, 1]"));
  CHECK_THROWS_WITH(make([](auto& c) { c.alpha = 1.5f; }), Catch::Contains("alpha"));
  CHECK_NOTHROW(make([](auto& c) { c.alpha = 1.f; }));
  // No schedule: refused, not the paper's absolute 5000-step warmup that keeps a short run batchnorm.
  CHECK_THROWS_WITH(make([](auto& c) { c.schedule = ClipSchedule{}; }), Catch::Contains("NormConfig::schedule has no steps"));
  CHECK_NOTHROW(BatchNorm(4, NormConfig{}));  // batchnorm needs none
  NormConfig c;
  c.schedule = ClipSchedule::constant(3.f, 5.f);
  c.microbatch = 3;
  BatchRenorm layer(4, c);
  CHECK_THROWS_AS(layer.forward(Tensor::zeros(Shape{8, 2, 2, 4})), ConfigError);
  CHECK_THROWS_WITH(layer.forward(Tensor::zeros(Shape{8, 2, 2, 4})),
                    Catch::Contains("microbatch 3 does not divide the batch size 8"));
  CHECK_THROWS_AS(layer.forward(Tensor::zeros(Shape{6, 2, 2, 5})), ShapeError);  // 5 channels, layer has 4
}

// The mechanism behind Figure 2 (issue 14): a network trained on microbatch statistics is evaluated with
// moving averages. With batchnorm over the whole batch the two agree once the moving averages have
// converged on that batch; over microbatches of 2 they cannot (each microbatch has its own statistics).
TEST_CASE("train/inference gap: closes for batchnorm over the whole batch, stays open for microbatches",
          "[renorm][mechanism]") {
  const Tensor x = Tensor::normal(Shape{16, 8, 8, 3}, 11, 0.3f, 1.5f);
  double whole = 0, micro = 0;
  for (int64_t m : {16, 2}) {
    ModelConfig cfg;
    cfg.height = cfg.width = 8;
    cfg.norm = NormKind::BatchNorm;
    cfg.norm_config.microbatch = m;
    cfg.norm_config.alpha = 0.5f;
    cfg.dropout[0] = cfg.dropout[1] = cfg.dropout[2] = 0.f;  // the training forward must be the eval one
    CifarCnn net(cfg, Device::CPU);
    {
      NoGradGuard no_grad;
      for (int i = 0; i < 60; ++i) net.forward(x);  // moving averages converge on x's statistics
    }
    const std::vector<double> gaps = net.train_inference_gaps(x);
    REQUIRE(gaps.size() == 6);
    double worst = 0;
    for (double g : gaps) worst = std::max(worst, g);
    (m == 16 ? whole : micro) = worst;
  }
  INFO("largest gap, M = B: " << whole << ", M = 2: " << micro);
  CHECK(whole < 1e-3);
  CHECK(micro > 0.05);
}

