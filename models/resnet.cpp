#include "models/resnet.h"

#include "runtime/error.h"
#include "tensor/ops/residual.h"

namespace renorm {

BasicBlock::BasicBlock(std::shared_ptr<Sequential> branch, int64_t stride, int64_t in_channels, int64_t out_channels)
    : branch_(std::move(branch)), stride_(stride), in_(in_channels), out_(out_channels) {}

Tensor BasicBlock::forward(const Tensor& x) {
  const Tensor shortcut = stride_ == 1 && in_ == out_ ? x : shortcut_a(x, stride_, out_);
  return add_relu(branch_->forward(x), shortcut);
}

void BasicBlock::collect_parameters(const std::string& prefix, NamedTensors& out) const {
  branch_->collect_parameters(prefix, out);
}
void BasicBlock::collect_buffers(const std::string& prefix, NamedTensors& out) const { branch_->collect_buffers(prefix, out); }
void BasicBlock::train(bool on) {
  Module::train(on);
  branch_->train(on);
}

namespace {
constexpr int kBlocksPerStage = 3;  // ResNet-20: 6·3 + 2 layers
}  // namespace

ResNet20::ResNet20(const ModelConfig& cfg, Device device) : Model(cfg, device) {
  if (cfg.height < 4 || cfg.width < 4 || cfg.channels < 1 || cfg.classes < 2)
    throw ConfigError("resnet20: input must be at least 4x4 with >= 1 channel and >= 2 classes");
  const bool normed = cfg.norm != NormKind::None;
  uint64_t seed = cfg.seed * 1000;
  // conv (bias only without a norm after it), then the norm, then — in `relu` — the ReLU (fused into the
  // convolution when there is no norm between them).
  auto conv_norm = [&](Sequential& into, int64_t in, int64_t out, int64_t stride, bool relu) {
    const bool fuse = relu && !normed;
    into.emplace<Conv2d>(in, out, 3, ConvOptions{.stride = stride, .pad = 1, .bias = !normed, .seed = ++seed, .relu = fuse,
                                                          .math = matmul_math(cfg.precision)}, device);
    add_norm(into, out, cfg, device);
    if (relu && !fuse) into.emplace<ReLU>();
  };
  conv_norm(body_, cfg.channels, 16, 1, true);
  int64_t in = 16;
  for (const int64_t width : {16, 32, 64})
    for (int b = 0; b < kBlocksPerStage; ++b) {
      const int64_t stride = b == 0 && width != 16 ? 2 : 1;
      auto branch = std::make_shared<Sequential>();
      conv_norm(*branch, in, width, stride, true);
      conv_norm(*branch, width, width, 1, false);
      body_.emplace<BasicBlock>(branch, stride, in, width);
      in = width;
    }
  body_.emplace<GlobalAvgPool>();
  body_.emplace<Linear>(in, cfg.classes, true, Init::GlorotUniform, ++seed, device, matmul_math(cfg.precision));
}

}  // namespace renorm
