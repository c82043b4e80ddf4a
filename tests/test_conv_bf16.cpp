// The CPU convolution in bfloat16 storage (kernels/conv.h): activations rounded to bfloat16, the float32
// filters rounded as they are read, products exact and summed in float32, y and dx rounded once, dw
// float32. Checked element by element against a double-precision convolution of the rounded values,
// within dot_error_bound (tests/support/parity.h) — derived from the unit roundoffs and each sum's
// length, the same for every shape — on both ways the CPU computes it: oneDNN's bf16 kernels (where this
// CPU has them) and the widened float32 path (the im2col engine). Then linear (tensor/ops/gemm.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "runtime/bf16.h"
#include "support/conv_reference.h"
#include "support/parity.h"
#include "tensor/ops.h"

using namespace renorm;
using kernels::ConvShape;
using kernels::Epilogue;
using namespace renorm::test::conv;
namespace kc = renorm::kernels::cpu;

namespace {

std::vector<bf16_bits> to_bits(const std::vector<float>& v) {
  std::vector<bf16_bits> b;
  for (float f : v) b.push_back(float_to_bf16(f));
  return b;
}
std::vector<float> widened(const std::vector<bf16_bits>& b) {
  std::vector<float> v;
  for (bf16_bits h : b) v.push_back(bf16_to_float(h));
  return v;
}

// An exact sum and the sum of its terms' magnitudes, per output element.
struct Reference {
  std::vector<double> exact, magnitude;
  explicit Reference(int64_t n) : exact(size_t(n), 0.0), magnitude(size_t(n), 0.0) {}
  void add(int64_t i, double term) {
    exact[size_t(i)] += term;
    magnitude[size_t(i)] += std::abs(term);
  }
};

// How many of `actual` fall outside the bound of their n-term sums (0 expected), and the worst ratio.
struct Outside {
  int64_t count = 0;
  double worst = 0;
};
Outside outside(const std::vector<float>& actual, const Reference& ref, int64_t n, bool stored_bf16) {
  Outside o;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double err = std::abs(double(actual[i]) - ref.exact[i]);
    const double bound = test::dot_error_bound(ref.exact[i], ref.magnitude[i], n, stored_bf16);
    if (!(err <= bound)) ++o.count;
    o.worst = std::max(o.worst, bound > 0 ? err / bound : (err > 0 ? INFINITY : 0.0));
  }
  return o;
}

// The CPU's bfloat16 paths: oneDNN's kernels where it has a JIT one here, and the widened float32 path.
std::vector<kc::ConvEngine> bf16_paths() {
  std::vector<kc::ConvEngine> paths{kc::ConvEngine::Im2col};
  if (kc::onednn_available()) paths.push_back(kc::ConvEngine::OneDnn);
  return paths;
}
std::string path_name(kc::ConvEngine e) {
  if (e == kc::ConvEngine::Im2col) return "widened float32 (im2col)";
  return kc::onednn_bf16() ? "oneDNN bf16 kernels" : "oneDNN engine, no bf16 JIT here: widened float32";
}

}  // namespace

TEST_CASE("conv bf16: forward, backward data and backward filter within the rounding bound of their sums (CPU)",
          "[conv][bf16]") {
  const kc::ConvEngine before = kc::conv_engine();
  for (const Case& tc : kCases) {
    const ConvShape& cs = tc.cs;
    const std::vector<bf16_bits> x = to_bits(random_vector(x_size(cs), 1)), dy = to_bits(random_vector(y_size(cs), 6));
    const std::vector<float> w = random_vector(w_size(cs), 2), bias = random_vector(cs.k, 3);
    const std::vector<float> xr = widened(x), wr = widened(to_bits(w)), dyr = widened(dy);  // the values multiplied
    Reference y_ref(y_size(cs)), dx_ref(x_size(cs)), dw_ref(w_size(cs));
    each_tap(cs, [&](int64_t xi, int64_t wi, int64_t yi) {
      y_ref.add(yi, double(xr[xi]) * wr[wi]);
      dx_ref.add(xi, double(dyr[yi]) * wr[wi]);
      dw_ref.add(wi, double(dyr[yi]) * xr[xi]);
    });
    for (int64_t i = 0; i < y_size(cs); ++i) y_ref.add(i, bias[size_t(i % cs.k)]);
    for (const kc::ConvEngine path : bf16_paths()) {
      kc::set_conv_engine(path);
      INFO(tc.name << ", " << path_name(path));
      std::vector<bf16_bits> y(size_t(y_size(cs))), dx(size_t(x_size(cs)), 0x7fff);  // dx overwritten
      std::vector<float> dw(size_t(w_size(cs)), 7.f);
      kc::conv2d_forward(x.data(), w.data(), y.data(), cs, Epilogue{bias.data(), false});
      kc::conv2d_backward_data(dy.data(), w.data(), dx.data(), cs);
      kc::conv2d_backward_filter(x.data(), dy.data(), dw.data(), cs);
      const Outside fy = outside(widened(y), y_ref, cs.r * cs.s * cs.c + 1, true);
      const Outside fdx = outside(widened(dx), dx_ref, cs.k * cs.r * cs.s, true);
      const Outside fdw = outside(dw, dw_ref, cs.b * cs.oh() * cs.ow(), false);
      INFO("worst error / bound: y " << fy.worst << ", dx " << fdx.worst << ", dw " << fdw.worst);
      CHECK(fy.count == 0);
      CHECK(fdx.count == 0);
      CHECK(fdw.count == 0);
    }
  }
  kc::set_conv_engine(before);
}

TEST_CASE("conv bf16: the op keeps x's storage for y and dx, float32 for the filters' and bias' gradients",
          "[conv][bf16][autograd]") {
  const Tensor x = Tensor::uniform(Shape{2, 6, 6, 8}, 1, -1.f, 1.f).to(DType::BF16).detach().requires_grad_();
  const Tensor w = Tensor::uniform(Shape{4, 3, 3, 8}, 2, -0.3f, 0.3f).requires_grad_();
  const Tensor b = Tensor::uniform(Shape{4}, 3, -0.1f, 0.1f).requires_grad_();
  const Tensor y = conv2d(x, w, b, 1, 1, true);
  CHECK(y.dtype() == DType::BF16);
  y.backward(Tensor::normal(y.shape(), 4, 0.f, 1.f).to(DType::BF16));
  CHECK(x.grad().dtype() == DType::BF16);
  CHECK(w.grad().dtype() == DType::F32);
  CHECK(b.grad().dtype() == DType::F32);
  // bfloat16 filters are refused: the master weights are float32 (a DTypeError naming the kernel).
  CHECK_THROWS_AS(conv2d(x, w.detach().to(DType::BF16), Tensor(), 1, 1, false), DTypeError);
}

TEST_CASE("linear bf16: the product of the rounded values within the rounding bound, gradients as conv's",
          "[linear][bf16]") {
  const int64_t rows = 33, in = 300, out = 10;
  const Tensor x = Tensor::uniform(Shape{rows, in}, 1, -1.f, 1.f).to(DType::BF16).detach().requires_grad_();
  const Tensor w = Tensor::uniform(Shape{out, in}, 2, -1.f, 1.f).requires_grad_();
  const Tensor y = linear(x, w, Tensor());
  REQUIRE(y.dtype() == DType::BF16);
  const std::vector<float> xr = x.to_vector(), wr = w.detach().to(DType::BF16).to_vector();
  Reference ref(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) ref.add(r * out + o, double(xr[r * in + i]) * wr[o * in + i]);
  CHECK(outside(y.to_vector(), ref, in, true).count == 0);
  y.backward(Tensor::normal(y.shape(), 4, 0.f, 1.f).to(DType::BF16));
  CHECK(x.grad().dtype() == DType::BF16);
  CHECK(w.grad().dtype() == DType::F32);
}
