// Finite-difference gradient checker (after caffe's test_gradient_check_util.hpp).
// For f: inputs -> y it checks the autograd gradient of the scalar L = Σ w·y (w a fixed random
// projection, so every output element is exercised) against central differences
// (L(x+h) - L(x-h)) / 2h, element by element, with the tolerance threshold·max(|a|,|n|,1).
// Elements within kink_range of `kink` (ReLU's 0, a clip bound) are skipped: the derivative jumps there.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include "tensor/autograd.h"
#include "tensor/tensor.h"

namespace renorm::test {

struct GradCheckOptions {
  double step = 1e-2;       // h
  double threshold = 1e-2;  // relative tolerance
  double kink = 0.0;
  double kink_range = -1.0;  // < 0: no kink window
  uint64_t seed = 20170210;  // projection weights
};

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

inline double projected(const Tensor& y, const std::vector<float>& w) {
  const std::vector<float> v = y.to_vector();
  double s = 0.0;
  for (size_t i = 0; i < v.size(); ++i) s += double(w[i]) * v[i];
  return s;
}

// inputs: CPU leaf tensors; those with requires_grad() are checked. Returns the number of elements checked.
inline int64_t check_gradients(const GradFn& f, std::vector<Tensor> inputs, const GradCheckOptions& opt = {}) {
  for (Tensor& x : inputs) x.set_grad(Tensor());
  Tensor y = f(inputs);
  const Tensor w = Tensor::normal(y.shape(), opt.seed, 0.f, 1.f);
  y.backward(w);
  const std::vector<float> wv = w.to_vector();
  int64_t checked = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    REQUIRE(x.grad().defined());
    const std::vector<float> analytic = x.grad().to_vector();
    std::vector<float> values = x.to_vector();
    for (size_t j = 0; j < values.size(); ++j) {
      const float x0 = values[j];
      if (opt.kink_range >= 0 && std::abs(x0 - opt.kink) < opt.kink_range) continue;
      double l[2];
      for (int s = 0; s < 2; ++s) {
        values[j] = x0 + float(s == 0 ? opt.step : -opt.step);
        x.copy_from(values);
        NoGradGuard no_grad;
        l[s] = projected(f(inputs), wv);
      }
      values[j] = x0;
      x.copy_from(values);
      const double numeric = (l[0] - l[1]) / (2 * opt.step), a = analytic[j];
      const double scale = std::max({std::abs(a), std::abs(numeric), 1.0});
      INFO("input " << i << " element " << j << " value " << x0 << ": analytic " << a << " numeric " << numeric);
      CHECK(std::abs(a - numeric) <= opt.threshold * scale);
      ++checked;
    }
  }
  return checked;
}

}  // namespace renorm::test
