// The CIFAR CNN of the paper reproduction: three blocks of [conv3x3-relu-norm, conv3x3-relu-norm,
// maxpool2, dropout .2/.3/.4] with 32/64/128 channels, then dense(10); each ReLU fused into its
// convolution (ConvOptions::relu). Input [B,H,W,C]: 32x32x3 (CIFAR-10) or 28x28x1 (Fashion-MNIST); any
// H, W >= 8. Built through models/factory.h (ModelKind::CifarCnn).
#pragma once
#include "models/model.h"

namespace renorm {

class CifarCnn : public Model {
 public:
  CifarCnn(const ModelConfig& config, Device device);
  int64_t norm_positions() const override { return 6; }
};

}  // namespace renorm
