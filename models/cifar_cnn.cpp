#include "models/cifar_cnn.h"

#include "runtime/error.h"

namespace renorm {

CifarCnn::CifarCnn(const ModelConfig& cfg, Device device) : Model(cfg, device) {
  if (cfg.height < 8 || cfg.width < 8 || cfg.channels < 1 || cfg.classes < 2)
    throw ConfigError("cifar-cnn: input must be at least 8x8 with >= 1 channel and >= 2 classes");
  const int64_t widths[3] = {32, 64, 128};
  int64_t in = cfg.channels, h = cfg.height, w = cfg.width;
  uint64_t seed = cfg.seed * 1000;
  for (int block = 0; block < 3; ++block) {
    for (int j = 0; j < 2; ++j) {
      // conv-relu fused: one pass over the activations instead of three
      body_.emplace<Conv2d>(in, widths[block], 3, ConvOptions{.pad = 1, .seed = ++seed, .relu = true, .math = matmul_math(cfg.precision)}, device);
      in = widths[block];
      add_norm(body_, in, cfg, device);
    }
    body_.emplace<MaxPool2d>(2, 2);
    h /= 2;
    w /= 2;
    add_dropout(body_, cfg.dropout[block], static_cast<uint32_t>(block), cfg);
  }
  body_.emplace<Flatten>();
  body_.emplace<Linear>(in * h * w, cfg.classes, true, Init::GlorotUniform, ++seed, device, matmul_math(cfg.precision));
}

}  // namespace renorm
