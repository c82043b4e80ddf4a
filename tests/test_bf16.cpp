// bfloat16 storage (issue 25): the conversion's values at its edges, the tensor's dtype, the
// differentiable conversion. The conversion against the emulator's independent derivation of the
// device's: tests/emu/test_bf16_device.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/bf16.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "tensor/ops.h"
#include "train/checkpoint.h"

using namespace renorm;

namespace {
float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace

TEST_CASE("bf16: round to nearest even, the canonical NaN, overflow to infinity, subnormals kept", "[bf16]") {
  CHECK(float_to_bf16(1.f) == 0x3f80);
  CHECK(float_to_bf16(-2.f) == 0xc000);
  CHECK(float_to_bf16(bits_float(0x3f808000)) == 0x3f80);  // 1 + 2^-8: a tie, to the even 1
  CHECK(float_to_bf16(bits_float(0x3f818000)) == 0x3f82);  // 1 + 3·2^-8: a tie, to the even 1 + 2^-6
  CHECK(float_to_bf16(bits_float(0x3f808001)) == 0x3f81);  // just past the tie: up
  CHECK(float_to_bf16(bits_float(0x3f807fff)) == 0x3f80);  // just before it: down
  CHECK(float_to_bf16(-0.f) == 0x8000);
  CHECK(float_to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // past the largest bf16 + half an ulp
  CHECK(float_to_bf16(bits_float(0x7f7f7fff)) == 0x7f7f);             // below it: the largest finite bf16
  CHECK(float_to_bf16(std::nanf("")) == 0x7fff);
  CHECK(float_to_bf16(-std::nanf("")) == 0x7fff);  // any NaN, as cvt.rn.bf16.f32
  CHECK(float_to_bf16(bits_float(0x00010000)) == 0x0001);  // the smallest bf16 subnormal, 2^-133, exact
  CHECK(float_to_bf16(bits_float(0x00008000)) == 0x0000);  // half of it: a tie, to the even 0
  CHECK(float_to_bf16(bits_float(0x00018000)) == 0x0002);  // 1.5 of it: a tie, to the even 2
  CHECK(bf16_to_float(0x3f80) == 1.f);
  CHECK(bf16_to_float(0x0001) == std::ldexp(1.f, -133));
  CHECK(std::isnan(bf16_to_float(0x7fff)));
  for (float v : {0.1f, -3.3e-5f, 7.77e20f, 123.456f}) {  // the round trip is within half a bf16 ulp
    const float back = bf16_to_float(float_to_bf16(v));
    CHECK(std::fabs(back - v) <= std::ldexp(std::fabs(v), -8));
  }
}

TEST_CASE("bf16: a tensor's dtype is its storage - float32 accessors refuse it", "[bf16][tensor]") {
  const Tensor x = Tensor::from_vector({1.f, 0.1f, -2.5f, 3e-3f, 65504.f}, Shape{5});
  const Tensor h = x.to(DType::BF16);
  CHECK(h.dtype() == DType::BF16);
  CHECK(x.to(DType::F32).impl() == x.impl());  // already float32: itself
  CHECK(h.str() == "Tensor[5] cpu bfloat16");
  CHECK(x.str() == "Tensor[5] cpu");
  CHECK(h.to_vector() == std::vector<float>{1.f, bf16_to_float(float_to_bf16(0.1f)), -2.5f,
                                            bf16_to_float(float_to_bf16(3e-3f)), 65536.f});
  CHECK_THROWS_AS(h.data(), DTypeError);
  CHECK_THROWS_WITH(h.data(), "Tensor::data: the tensor [5] holds bfloat16, not float32 (convert it with to(DType))");
  CHECK_THROWS_AS(x.data_bf16(), DTypeError);
  Tensor f = Tensor::zeros(Shape{5});
  CHECK_THROWS_WITH(f.copy_(h), "Tensor::copy_: a bfloat16 source into a float32 tensor (convert it with to(DType))");
  // A float32 op given bfloat16, or an op given mixed dtypes: a typed error naming the kernel and the
  // dtypes, not garbage.
  CHECK_THROWS_WITH(mul(h, h), "mul: Tensor::data: the tensor [5] holds bfloat16, not float32 (convert it with to(DType))");
  CHECK_THROWS_WITH(add(h, x), "add: Tensor::data_bf16: the tensor [5] holds float32, not bfloat16 (convert it with to(DType))");
  CHECK(relu(h).dtype() == DType::BF16);  // relu, add, the residual ops and the norm take either storage
  const Tensor c = h.clone(), d = h.detach(), r = h.reshape(Shape{5, 1});
  CHECK(c.dtype() == DType::BF16);
  CHECK(d.dtype() == DType::BF16);
  CHECK(r.dtype() == DType::BF16);
  CHECK(c.to_vector() == h.to_vector());
  CHECK(h.to(DType::F32).to_vector() == h.to_vector());  // widening is exact
}

TEST_CASE("bf16: the conversion's gradient is the output's, converted back", "[bf16][autograd]") {
  Tensor x = Tensor::from_vector({0.3f, -1.7f, 2.f}, Shape{3}).requires_grad_();
  const Tensor y = x.to(DType::BF16).to(DType::F32);
  CHECK(y.requires_grad());
  const std::vector<float> g = {0.1f, 1.f, -0.3333f};
  y.backward(Tensor::from_vector(g, Shape{3}));
  const std::vector<float> dx = x.grad().to_vector();
  REQUIRE(x.grad().dtype() == DType::F32);
  for (size_t i = 0; i < g.size(); ++i) CHECK(dx[i] == bf16_to_float(float_to_bf16(g[i])));  // through bf16
}

TEST_CASE("bf16: safetensors keeps each tensor's dtype - BF16 entries are checked like F32 ones", "[bf16][checkpoint]") {
  const std::string path = "/tmp/renorm-test-bf16.safetensors";
  const Tensor w = Tensor::from_vector({1.f, -0.3f, 5e-3f}, Shape{3});
  const Tensor h = Tensor::from_vector({0.1f, 2.f, -7.f, 1e10f}, Shape{2, 2}).to(DType::BF16);
  save_safetensors(path, {{"w", w}, {"h", h}});
  const SafeTensors st = load_safetensors(path);
  REQUIRE(st.find("h"));
  CHECK(st.find("h")->dtype() == DType::BF16);
  CHECK(st.find("h")->to_vector() == h.to_vector());
  CHECK(st.find("w")->dtype() == DType::F32);
  CHECK(st.find("w")->to_vector() == w.to_vector());
  const std::string bytes = read_file(path, "test");
  CHECK(bytes.find("\"h\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[12,20]}") != std::string::npos);
  // A float32 parameter is not restored from a BF16 tensor of the same name and shape.
  const Tensor master = Tensor::zeros(Shape{2, 2});
  CHECK_THROWS_WITH(restore_tensors({{"h", master}}, st, "", path), path + ": tensor 'h' is BF16, expected F32");
  // Hostile headers: a BF16 entry whose byte range is float32-sized, and a dtype we do not read.
  auto file = [](const std::string& header, size_t data_bytes) {
    std::string head = header;
    while (head.size() % 8) head += ' ';
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(head.size()) >> (8 * i)) & 0xff);
    return out + head + std::string(data_bytes, '\0');
  };
  CHECK_THROWS_WITH(parse_safetensors(file("{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "f"),
                    Catch::Contains("f: tensor 'x' has data_offsets [0, 8] that do not match its shape [2]"));
  CHECK_THROWS_WITH(parse_safetensors(file("{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4), "f"),
                    "f: tensor 'x' is not an F32 or BF16 entry with shape and data_offsets");
  CHECK(parse_safetensors(file("{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4), "f")
            .tensors[0].second.to_vector() == std::vector<float>{0.f, 0.f});
}

TEST_CASE("bf16: gradients that meet add in bfloat16 - relu and add round once", "[bf16][autograd]") {
  Tensor x = Tensor::from_vector({1.f, -2.f, 3.f, 0.5f}, Shape{4}).requires_grad_();
  const Tensor h = x.to(DType::BF16);
  const Tensor y = add(relu(h), h);  // h used twice: its two gradients are added in bfloat16
  CHECK(y.dtype() == DType::BF16);
  CHECK(y.to_vector() == std::vector<float>{2.f, -2.f, 6.f, 1.f});
  y.backward(Tensor::from_vector({0.1f, 0.2f, 0.3f, 0.4f}, Shape{4}).to(DType::BF16));
  const auto r = [](float v) { return bf16_to_float(float_to_bf16(v)); };
  const float g[4] = {r(0.1f), r(0.2f), r(0.3f), r(0.4f)};
  // relu passes g where x > 0; the sum g + g is exact in bfloat16 (a doubling)
  CHECK(x.grad().to_vector() == std::vector<float>{2 * g[0], g[1], 2 * g[2], 2 * g[3]});
  CHECK(add_relu(h, h).to_vector() == std::vector<float>{2.f, 0.f, 6.f, 1.f});
}
