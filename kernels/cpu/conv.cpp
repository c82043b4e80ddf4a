// The CPU convolution: one of two engines (kernels/cpu/detail/conv_engines.h), chosen at run time.
#include <atomic>
#include <cstdlib>
#include <string>

#include "kernels/conv.h"
#include "kernels/cpu/detail/conv_engines.h"
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
ConvEngine conv_engine() { return engine().load(); }
const char* conv_engine_name(ConvEngine e) { return e == ConvEngine::OneDnn ? "onednn" : "im2col"; }

void set_conv_engine(ConvEngine e) {
  if (e == ConvEngine::OneDnn && !onednn::available())
    throw DeviceError("CPU convolution engine 'onednn': renorm was built without oneDNN (Debian: libdnnl-dev)");
  engine().store(e);
}

void conv2d_forward(const float* x, const float* w, float* y, const ConvShape& cs, const Epilogue& ep) {
  if (use_onednn()) return onednn::conv2d_forward(x, w, y, cs, ep);
  im2col::conv2d_forward(x, w, y, cs, ep);
}

void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& cs) {
  if (use_onednn()) return onednn::conv2d_backward_data(dy, w, dx, cs);
  im2col::conv2d_backward_data(dy, w, dx, cs);
}

void conv2d_backward_filter(const float* x, const float* dy, float* dw, const ConvShape& cs) {
  if (use_onednn()) return onednn::conv2d_backward_filter(x, dy, dw, cs);
  im2col::conv2d_backward_filter(x, dy, dw, cs);
}

}  // namespace renorm::kernels::cpu
