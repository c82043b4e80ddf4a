// The CPU convolution: one of two engines (kernels/cpu/detail/conv_engines.h), chosen at run time;
// bfloat16 in oneDNN's bf16 kernels, or widened to float32 where there are none; TF32 as float32 on
// rounded copies of the operands (kernels/cpu/detail/tf32_copy.h).
#include <atomic>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "kernels/conv.h"
#include "kernels/convert.h"
#include "kernels/cpu/detail/conv_engines.h"
#include "kernels/cpu/detail/host_buffer.h"
#include "kernels/cpu/detail/tf32_copy.h"
#include "runtime/error.h"

namespace renorm::kernels::cpu {

namespace {
// The default: RENORM_CPU_CONV from the environment when set (onednn or im2col), else oneDNN when built in.
ConvEngine initial_engine() {
  const char* env = std::getenv("RENORM_CPU_CONV");
  if (!env || !*env) return onednn::available() ? ConvEngine::OneDnn : ConvEngine::Im2col;
  const std::string v = env;
  if (v == "im2col") return ConvEngine::Im2col;
  if (v != "onednn") throw ConfigError("RENORM_CPU_CONV: '" + v + "' is not one of onednn, im2col");
  if (!onednn::available())
    throw ConfigError("RENORM_CPU_CONV: 'onednn' asked for, but renorm was built without oneDNN (Debian: libdnnl-dev)");
  return ConvEngine::OneDnn;
}

std::atomic<ConvEngine>& engine() {
  static std::atomic<ConvEngine> e{initial_engine()};
  return e;
}
bool use_onednn() { return engine().load(std::memory_order_relaxed) == ConvEngine::OneDnn; }
}  // namespace

bool onednn_available() { return onednn::available(); }
std::string onednn_version() { return onednn::version(); }
ConvEngine conv_engine() { return engine().load(); }
const char* conv_engine_name(ConvEngine e) { return e == ConvEngine::OneDnn ? "onednn" : "im2col"; }

void set_conv_engine(ConvEngine e) {
  if (e == ConvEngine::OneDnn && !onednn::available())
    throw DeviceError("CPU convolution engine 'onednn': renorm was built without oneDNN (Debian: libdnnl-dev)");
  engine().store(e);
}

bool onednn_bf16() { return use_onednn() && onednn::bf16_jit(); }

namespace {
int64_t input_size(const ConvShape& cs) { return cs.b * cs.h * cs.w * cs.c; }
int64_t output_size(const ConvShape& cs) { return cs.b * cs.oh() * cs.ow() * cs.k; }
int64_t filter_size(const ConvShape& cs) { return cs.k * cs.r * cs.s * cs.c; }

// bfloat16 through the float32 engines, where oneDNN has no bf16 kernel (or the engine is im2col): the
// activations widened and the filters rounded to bfloat16 into float32 copies, so the products and sums
// are the ones oneDNN's bf16 kernels compute (exact products, float32 sums), only slower.
struct Widened {
  HostBuffer buffer;
  float* p;
  explicit Widened(int64_t n) : buffer(n * sizeof(float)), p(buffer.as<float>()) {}
  Widened(const bf16_bits* x, int64_t n) : Widened(n) { to_f32(x, p, n); }
  // float32 values rounded to bfloat16 (the filters)
  Widened(const float* w, int64_t n) : Widened(n) {
    for (int64_t i = 0; i < n; ++i) p[i] = bf16_to_float(float_to_bf16(w[i]));
  }
};

// The shape with plain float32 math: what the engines run on the TF32-rounded copies.
ConvShape fp32(ConvShape cs) {
  cs.math = MatMath::Fp32;
  return cs;
}
bool tf32(const ConvShape& cs) { return cs.math == MatMath::Tf32; }
}  // namespace

template <class T>
void conv2d_forward(const T* x, const float* w, T* y, const ConvShape& cs, const Epilogue& ep) {
  if constexpr (std::is_same_v<T, float>) {
    if (tf32(cs)) return conv2d_forward(Tf32Copy(x, input_size(cs)).p, Tf32Copy(w, filter_size(cs)).p, y, fp32(cs), ep);
    if (use_onednn()) return onednn::conv2d_forward(x, w, y, cs, ep);
    im2col::conv2d_forward(x, w, y, cs, ep);
  } else {
    if (onednn_bf16()) return onednn::conv2d_forward(x, w, y, cs, ep);
    const Widened xf(x, input_size(cs)), wf(w, filter_size(cs)), yf(output_size(cs));
    conv2d_forward(xf.p, wf.p, yf.p, cs, ep);
    to_bf16(yf.p, y, output_size(cs));
  }
}

template <class T>
void conv2d_backward_data(const T* dy, const float* w, T* dx, const ConvShape& cs) {
  if constexpr (std::is_same_v<T, float>) {
    if (tf32(cs)) return conv2d_backward_data(Tf32Copy(dy, output_size(cs)).p, Tf32Copy(w, filter_size(cs)).p, dx, fp32(cs));
    if (use_onednn()) return onednn::conv2d_backward_data(dy, w, dx, cs);
    im2col::conv2d_backward_data(dy, w, dx, cs);
  } else {
    if (onednn_bf16()) return onednn::conv2d_backward_data(dy, w, dx, cs);
    const Widened dyf(dy, output_size(cs)), wf(w, filter_size(cs)), dxf(input_size(cs));
    conv2d_backward_data(dyf.p, wf.p, dxf.p, cs);
    to_bf16(dxf.p, dx, input_size(cs));
  }
}

template <class T>
void conv2d_backward_filter(const T* x, const T* dy, float* dw, const ConvShape& cs) {
  if constexpr (std::is_same_v<T, float>) {
    if (tf32(cs)) return conv2d_backward_filter(Tf32Copy(x, input_size(cs)).p, Tf32Copy(dy, output_size(cs)).p, dw, fp32(cs));
    if (use_onednn()) return onednn::conv2d_backward_filter(x, dy, dw, cs);
    im2col::conv2d_backward_filter(x, dy, dw, cs);
  } else {
    if (onednn_bf16()) return onednn::conv2d_backward_filter(x, dy, dw, cs);
    const Widened xf(x, input_size(cs)), dyf(dy, output_size(cs));
    conv2d_backward_filter(xf.p, dyf.p, dw, cs);
  }
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_CONV_T)

// The CPU rounds the operands exactly as asked, in every direction.
void conv2d_plan_math(const ConvShape& cs, ConvPlanMath* out) {
  *out = ConvPlanMath{};
  for (bool& t : out->tf32) t = tf32(cs);
}

}  // namespace renorm::kernels::cpu
