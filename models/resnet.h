// ResNet-20 for CIFAR (He et al. 2016, section 4.2): a 3x3 convolution of 16 channels, three stages of
// three basic blocks (16, 32, 64 channels; stride 2 in the first block of stages 2 and 3), global
// average pooling and a linear layer: 0.27M parameters. Each convolution is followed by the chosen norm
// (batchnorm or Batch Renorm over microbatches of M); a block is
//   y = relu(norm(conv(relu(norm(conv(x))))) + shortcut(x)),
// the add and the last ReLU one op (add_relu). Shortcuts are option A, the paper's for CIFAR: identity,
// or where a block halves the resolution a strided subsample with the new channels zero-padded
// (shortcut_a) — parameter-free, so the network has the paper's 0.27M parameters and all 19 norm layers
// sit in the residual branches. Input [B,H,W,C], any H, W >= 4. Built through models/factory.h.
#pragma once
#include <memory>

#include "models/model.h"

namespace renorm {

// y = add_relu(branch(x), shortcut(x)): identity, or option A to `out_channels` at `stride`.
class BasicBlock : public Module {
 public:
  BasicBlock(std::shared_ptr<Sequential> branch, int64_t stride, int64_t in_channels, int64_t out_channels);
  Tensor forward(const Tensor& x) override;
  void collect_parameters(const std::string& prefix, NamedTensors& out) const override;
  void collect_buffers(const std::string& prefix, NamedTensors& out) const override;
  void train(bool on = true) override;

 private:
  std::shared_ptr<Sequential> branch_;
  int64_t stride_, in_, out_;
};

class ResNet20 : public Model {
 public:
  ResNet20(const ModelConfig& config, Device device);
  int64_t norm_positions() const override { return 19; }
};

}  // namespace renorm
