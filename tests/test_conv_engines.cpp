// The CPU convolution engines (kernels/cpu/detail/conv_engines.h: oneDNN and im2col + OpenBLAS) against a
// direct double-precision convolution: forward with each epilogue (none, bias, bias + ReLU), backward
// data and backward filter, over strides, paddings, odd sizes, 1x1 and the CNN's 3-channel first layer;
// and NaN through the fused ReLU (kept, as renorm's ReLU keeps it), which oneDNN's own ReLU would lose.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cpu/detail/conv_engines.h"
#include "runtime/error.h"
#include "support/conv_reference.h"
#include "support/parity.h"

using namespace renorm;
using kernels::ConvShape;
using kernels::Epilogue;
using namespace renorm::test::conv;

namespace {

struct Engine {
  const char* name;
  void (*forward)(const float*, const float*, float*, const ConvShape&, const Epilogue&);
  void (*backward_data)(const float*, const float*, float*, const ConvShape&);
  void (*backward_filter)(const float*, const float*, float*, const ConvShape&);
};

std::vector<Engine> engines() {
  namespace c = kernels::cpu;
  std::vector<Engine> e{{"im2col", c::im2col::conv2d_forward, c::im2col::conv2d_backward_data, c::im2col::conv2d_backward_filter}};
  if (c::onednn::available())
    e.push_back({"onednn", c::onednn::conv2d_forward, c::onednn::conv2d_backward_data, c::onednn::conv2d_backward_filter});
  else
    WARN("renorm built without oneDNN: only the im2col engine is tested");
  return e;
}

}  // namespace

TEST_CASE("conv engines: forward with each epilogue matches a direct convolution in double", "[conv]") {
  for (const Case& tc : kCases) {
    const ConvShape& cs = tc.cs;
    const std::vector<float> x = random_vector(x_size(cs), 1), w = random_vector(w_size(cs), 2), bias = random_vector(cs.k, 3);
    std::vector<double> ref(static_cast<size_t>(y_size(cs)), 0.0);
    each_tap(cs, [&](int64_t xi, int64_t wi, int64_t yi) { ref[yi] += double(x[xi]) * double(w[wi]); });
    for (const Engine& e : engines())
      for (int variant = 0; variant < 3; ++variant) {
        const Epilogue ep{variant >= 1 ? bias.data() : nullptr, variant == 2};
        std::vector<double> want = ref;
        for (size_t i = 0; i < want.size(); ++i) {
          if (ep.bias) want[i] += bias[i % cs.k];
          if (ep.relu) want[i] = std::max(0.0, want[i]);
        }
        std::vector<float> y(static_cast<size_t>(y_size(cs)));
        e.forward(x.data(), w.data(), y.data(), cs, ep);
        INFO(tc.name << ", engine " << e.name << ", bias " << (ep.bias != nullptr) << ", relu " << ep.relu);
        CHECK(test::reference_error(y, want) <= test::kParityTol);
      }
  }
}

TEST_CASE("conv engines: backward data and backward filter match a direct convolution in double", "[conv]") {
  for (const Case& tc : kCases) {
    const ConvShape& cs = tc.cs;
    const std::vector<float> x = random_vector(x_size(cs), 4), w = random_vector(w_size(cs), 5), dy = random_vector(y_size(cs), 6);
    std::vector<double> dx_ref(static_cast<size_t>(x_size(cs)), 0.0), dw_ref(static_cast<size_t>(w_size(cs)), 0.0);
    each_tap(cs, [&](int64_t xi, int64_t wi, int64_t yi) {
      dx_ref[xi] += double(dy[yi]) * double(w[wi]);
      dw_ref[wi] += double(dy[yi]) * double(x[xi]);
    });
    for (const Engine& e : engines()) {
      INFO(tc.name << ", engine " << e.name);
      std::vector<float> dx(static_cast<size_t>(x_size(cs)), 7.f), dw(static_cast<size_t>(w_size(cs)), 7.f);  // overwritten
      e.backward_data(dy.data(), w.data(), dx.data(), cs);
      e.backward_filter(x.data(), dy.data(), dw.data(), cs);
      CHECK(test::reference_error(dx, dx_ref) <= test::kParityTol);
      CHECK(test::reference_error(dw, dw_ref) <= test::kParityTol);
    }
  }
}

TEST_CASE("conv engines: a NaN input stays NaN through the fused ReLU, on every engine", "[conv]") {
  const ConvShape cs{1, 6, 6, 4, 8, 3, 3, 1, 1, 1, 1};
  std::vector<float> x = random_vector(x_size(cs), 7);
  const std::vector<float> w = random_vector(w_size(cs), 8), bias = random_vector(cs.k, 9);
  x[((0 * cs.h + 2) * cs.w + 3) * cs.c + 1] = NAN;  // pixel (2, 3), channel 1
  for (const Engine& e : engines()) {
    std::vector<float> y(static_cast<size_t>(y_size(cs)));
    e.forward(x.data(), w.data(), y.data(), cs, Epilogue{bias.data(), true});
    for (int64_t i = 0; i < cs.oh(); ++i)
      for (int64_t j = 0; j < cs.ow(); ++j)
        for (int64_t k = 0; k < cs.k; ++k) {
          const bool sees_nan = std::abs(i - 2) <= 1 && std::abs(j - 3) <= 1;  // the 3x3 window holds pixel (2, 3)
          const float v = y[(i * cs.ow() + j) * cs.k + k];
          INFO("engine " << e.name << ", output (" << i << ", " << j << ", " << k << ") = " << v);
          CHECK(std::isnan(v) == sees_nan);
          if (!sees_nan) CHECK(v >= 0.f);
        }
  }
}

TEST_CASE("conv engines: the default engine is oneDNN when built with it, and can be switched", "[conv]") {
  namespace c = kernels::cpu;
  const c::ConvEngine before = c::conv_engine();
  if (c::onednn_available() && !std::getenv("RENORM_CPU_CONV")) CHECK(before == c::ConvEngine::OneDnn);
  c::set_conv_engine(c::ConvEngine::Im2col);
  CHECK(c::conv_engine() == c::ConvEngine::Im2col);
  CHECK(std::string(c::conv_engine_name(c::conv_engine())) == "im2col");
  if (!c::onednn_available()) CHECK_THROWS_AS(c::set_conv_engine(c::ConvEngine::OneDnn), DeviceError);
  c::set_conv_engine(before);
}
