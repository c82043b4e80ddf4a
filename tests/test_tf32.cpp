// --precision tf32 (issue 26; runtime/tf32.h): the rounding itself; the CPU's TF32 convolution, linear and
// matmul are exactly their float32 selves on operands rounded to TF32; the CUDA ones (a real GPU's
// tensor cores, or the emulator's reference libraries, which truncate as the tensor cores read) agree
// with the CPU element by element within tf32_error_bound (tests/support/parity.h) — derived from TF32's
// 10-bit mantissa and each sum's length, with the sums of magnitudes computed by the same ops on |inputs| —
// and differ from their own float32 math wherever they ran in TF32. CUDA's TF32 math allows the tensor
// cores, it does not force them: a convolution's plan says per product what cuDNN chose (conv2d_math),
// and the emulator's reference cuDNN declines TF32 for sums under 128 products, so both branches run in
// CI; cuBLAS does not say, so a GEMM's difference is checked on the emulator only (its reference cuBLAS
// always takes TF32 when allowed). A tf32 model's layers all multiply in TF32.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "models/factory.h"
#include "runtime/device.h"
#include "runtime/tf32.h"
#include "support/parity.h"
#include "support/reference_libraries.h"
#include "tensor/ops.h"

using namespace renorm;

namespace {

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }
float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// A product op of the table: its leaf inputs' shapes, how to run it at a math, and the length of its
// longest float32 sum (forward or backward), which the bound grows with. A convolution also has its
// stride (pad 1) and the lengths of its three sums, forward, backward-data and backward-filter (the
// emulator's reference cuDNN declines TF32 for those under 128); a GEMM stride 0.
struct ProductCase {
  std::string name;
  std::vector<Shape> inputs;
  std::function<Tensor(const std::vector<Tensor>&, MatMath)> run;
  int64_t longest_sum;
  int64_t conv_stride = 0;
  std::vector<int64_t> sums = {};
};

std::vector<ProductCase> cases() {
  // conv [B,H,W,C] * [K,3,3,C] pad 1: forward sums 9C products, backward-data 9K, backward-filter B·OH·OW
  // (the comments: the three lengths).
  auto conv = [](int64_t stride) {
    return [stride](const std::vector<Tensor>& x, MatMath m) { return conv2d(x[0], x[1], x[2], stride, 1, false, m); };
  };
  return {
      {"conv3x3 pad1 [2,8,8,16] -> 24", {{2, 8, 8, 16}, {24, 3, 3, 16}, {24}}, conv(1), 9 * 24, 1, {144, 216, 128}},
      {"conv3x3 stride2 [2,9,9,8] -> 16", {{2, 9, 9, 8}, {16, 3, 3, 8}, {16}}, conv(2), 9 * 16, 2, {72, 144, 50}},
      {"linear [33,300] -> 10", {{33, 300}, {10, 300}, {10}},
       [](const std::vector<Tensor>& x, MatMath m) { return linear(x[0], x[1], x[2], m); }, 300},
      {"matmul [17,40] x [40,23]", {{17, 40}, {40, 23}},
       [](const std::vector<Tensor>& x, MatMath m) { return matmul(x[0], x[1], m); }, 40},
  };
}

// The case's values: inputs uniform in [-1, 1] (full float32 mantissas), one output gradient.
std::vector<std::vector<float>> case_values(const ProductCase& c) {
  std::vector<std::vector<float>> v;
  for (size_t i = 0; i < c.inputs.size(); ++i) v.push_back(Tensor::uniform(c.inputs[i], 40 + i, -1.f, 1.f).to_vector());
  return v;
}

// The output and every input's gradient (output gradient g) on device d, to host.
std::vector<std::vector<float>> run_case(const ProductCase& c, const std::vector<std::vector<float>>& in,
                                         const std::vector<float>& g, MatMath math, Device d) {
  std::vector<Tensor> x;
  for (size_t i = 0; i < in.size(); ++i) x.push_back(Tensor::from_vector(in[i], c.inputs[i], d).requires_grad_());
  const Tensor y = c.run(x, math);
  y.backward(Tensor::from_vector(g, y.shape(), d));
  std::vector<std::vector<float>> out{y.to_vector()};
  for (const Tensor& t : x) out.push_back(t.grad().to_vector());
  return out;
}

// Whether output i of the case (0: y, then the inputs' gradients) came from products in TF32 on CUDA:
// a convolution's plan says so per product (y forward, dx backward-data, dw backward-filter; a bias's
// gradient multiplies nothing); cuBLAS does not say — known only on the emulator, whose reference cuBLAS
// always takes TF32 when allowed.
std::vector<std::optional<bool>> ran_in_tf32(const ProductCase& c) {
  if (c.conv_stride == 0) {
    if (!cuda_emulated()) return std::vector<std::optional<bool>>(c.inputs.size() + 1);
    std::vector<std::optional<bool>> all(c.inputs.size() + 1, true);
    if (c.inputs.size() == 3) all[3] = std::nullopt;  // linear's bias gradient: a sum
    return all;
  }
  const Tensor x = Tensor::empty(c.inputs[0], Device::CUDA), w = Tensor::empty(c.inputs[1], Device::CUDA);
  const ConvMath m = conv2d_math(x, w, c.conv_stride, 1, MatMath::Tf32);
  INFO(c.name << ": cuDNN algorithms " << m.algorithms);
  if (cuda_emulated())  // the emulator's reference cuDNN offers a tensor-op algorithm for sums of 128 or more
    for (int i = 0; i < 3; ++i) {
      INFO("product " << i << " (forward, backward-data, backward-filter) sums " << c.sums[size_t(i)]);
      CHECK(((i == 0 ? m.forward : i == 1 ? m.backward_data : m.backward_filter) == MatMath::Tf32) == (c.sums[size_t(i)] >= 128));
    }
  return {m.forward == MatMath::Tf32, m.backward_data == MatMath::Tf32, m.backward_filter == MatMath::Tf32, std::nullopt};
}

std::vector<float> mapped(std::vector<float> v, float (*f)(float)) {
  for (float& x : v) x = f(x);
  return v;
}
float absolute(float x) { return std::fabs(x); }
std::vector<float> output_gradient(const ProductCase& c, const std::vector<std::vector<float>>& in) {
  std::vector<Tensor> x;
  for (size_t i = 0; i < in.size(); ++i) x.push_back(Tensor::from_vector(in[i], c.inputs[i]));
  return Tensor::normal(c.run(x, MatMath::Fp32).shape(), 7, 0.f, 1.f).to_vector();
}

}  // namespace

TEST_CASE("tf32: rounding to nearest, ties away from zero - infinities and NaN pass", "[tf32]") {
  CHECK(round_to_tf32(1.f) == 1.f);
  CHECK(round_to_tf32(1.f + 0x1p-10f) == 1.f + 0x1p-10f);           // representable: 10 mantissa bits
  CHECK(round_to_tf32(1.f + 0x1p-11f) == 1.f + 0x1p-10f);           // a tie: away from zero
  CHECK(round_to_tf32(-(1.f + 0x1p-11f)) == -(1.f + 0x1p-10f));
  CHECK(round_to_tf32(1.f + 0x1p-11f - 0x1p-23f) == 1.f);           // below the tie
  CHECK(round_to_tf32(2.f - 0x1p-23f) == 2.f);                      // carries into the exponent
  CHECK(std::isinf(round_to_tf32(std::numeric_limits<float>::max())));  // past TF32's largest: infinity
  CHECK(std::isinf(round_to_tf32(-INFINITY)));
  CHECK(std::isnan(round_to_tf32(from_bits(0x7f800001u))));        // a NaN whose payload is all low bits
  CHECK(bits(round_to_tf32(from_bits(0x00001000u))) == 0x00002000u);  // a subnormal tie
  CHECK(round_to_tf32(from_bits(0x00000fffu)) == 0.f);
  // Over many values: the low 13 bits are zero and the error at most half a TF32 ulp (2^-11 relative).
  for (const float x : Tensor::uniform(Shape{4096}, 3, -100.f, 100.f).to_vector()) {
    const float r = round_to_tf32(x);
    REQUIRE((bits(r) & 0x1fffu) == 0);
    REQUIRE(std::abs(double(r) - x) <= 0x1p-11 * std::abs(double(x)));
  }
}

TEST_CASE("tf32: on the CPU each product op is its float32 self on operands rounded to TF32", "[tf32]") {
  for (const ProductCase& c : cases()) {
    DYNAMIC_SECTION(c.name) {
      const std::vector<std::vector<float>> in = case_values(c);
      const std::vector<float> g = output_gradient(c, in);
      std::vector<std::vector<float>> rounded;
      for (const auto& v : in) rounded.push_back(mapped(v, round_to_tf32));
      if (rounded.size() == 3) rounded[2] = in[2];  // the bias is added in float32, not multiplied
      const auto tf32 = run_case(c, in, g, MatMath::Tf32, Device::CPU);
      const auto fp32 = run_case(c, in, g, MatMath::Fp32, Device::CPU);
      const auto fp32_on_rounded = run_case(c, rounded, mapped(g, round_to_tf32), MatMath::Fp32, Device::CPU);
      // y, then the gradients of the multiplied inputs (a bias's is a sum of the unrounded gradient)
      for (size_t i = 0; i < 3; ++i) {
        INFO("output " << i << " (0: y, then the inputs' gradients)");
        CHECK(tf32[i] == fp32_on_rounded[i]);
        CHECK(tf32[i] != fp32[i]);
      }
    }
  }
}

TEST_CASE("parity: TF32 convolutions and GEMMs, CPU vs CUDA, within TF32's bound", "[parity][cuda][tf32]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const test::ReferenceLibraries reference;  // the emulator's cuDNN and cuBLAS; nothing on a GPU
  for (const ProductCase& c : cases()) {
    DYNAMIC_SECTION(c.name) {
      const std::vector<std::vector<float>> in = case_values(c);
      const std::vector<float> g = output_gradient(c, in);
      const auto cpu = run_case(c, in, g, MatMath::Tf32, Device::CPU);
      const auto cuda = run_case(c, in, g, MatMath::Tf32, Device::CUDA);
      const auto cuda_fp32 = run_case(c, in, g, MatMath::Fp32, Device::CUDA);
      std::vector<std::vector<float>> abs_in;
      for (const auto& v : in) abs_in.push_back(mapped(v, absolute));
      const auto magnitude = run_case(c, abs_in, mapped(g, absolute), MatMath::Fp32, Device::CPU);
      const std::vector<std::optional<bool>> tf32 = ran_in_tf32(c);
      for (size_t i = 0; i < cpu.size(); ++i) {
        int64_t outside = 0;
        double worst = 0;
        for (size_t j = 0; j < cpu[i].size(); ++j) {
          const double err = std::abs(double(cuda[i][j]) - cpu[i][j]), bound = test::tf32_error_bound(magnitude[i][j], c.longest_sum);
          if (!(err <= bound)) ++outside;
          worst = std::max(worst, bound > 0 ? err / bound : 0.0);
        }
        INFO("output " << i << " (0: y, then the inputs' gradients): " << outside << " of " << cpu[i].size()
                       << " outside the bound, worst error / bound " << worst);
        CHECK(outside == 0);
        // Where the CUDA side multiplied in TF32, its float32 math gives other numbers.
        if (tf32[i].value_or(false)) CHECK(cuda[i] != cuda_fp32[i]);
      }
    }
  }
}

TEST_CASE("tf32: a tf32 model's convolutions and linear layers all multiply in TF32", "[tf32][models]") {
  for (const ModelKind kind : {ModelKind::CifarCnn, ModelKind::ResNet20}) {
    ModelConfig c;
    c.kind = kind;
    c.norm_config.microbatch = 4;
    c.norm_config.schedule = ClipSchedule::constant(2.f, 1.f);
    c.precision = Precision::Tf32;
    const auto model = make_model(c, Device::CPU);
    CHECK(model->activations() == DType::F32);
    int convs = 0, linears = 0;
    std::function<void(const Module&)> visit = [&](const Module& m) {
      if (const auto* conv = dynamic_cast<const Conv2d*>(&m)) convs += conv->options().math == MatMath::Tf32 ? 1 : -1000;
      if (const auto* lin = dynamic_cast<const Linear*>(&m)) linears += lin->math() == MatMath::Tf32 ? 1 : -1000;
      if (const auto* seq = dynamic_cast<const Sequential*>(&m))
        for (const auto& child : seq->children()) visit(*child);
    };
    visit(model->body());
    INFO(enum_name(kind));
    CHECK(convs == (kind == ModelKind::CifarCnn ? 6 : 1));  // ResNet-20's other convolutions are in its blocks
    CHECK(linears == 1);
  }
}
