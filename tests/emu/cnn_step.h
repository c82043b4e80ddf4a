// One training step of the CIFAR CNN on the (emulated) CUDA device, as train/trainer.cpp's train_step
// runs it (the batch already on the device): learning rate set, forward, softmax cross-entropy with the hits, zero_grad, backward, SGD
// (momentum, weight decay), the loss and accuracy summed on the device. For the step's account (the
// budget test and scripts/gpu-traffic.sh); convolutions and GEMMs need the emulator's reference
// libraries (renorm_emu::set_reference_libraries).
#pragma once
#include <cstdint>
#include <vector>

#include "models/cifar_cnn.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "train/optim.h"

namespace renorm::test {

class CnnStep {
 public:
  CnnStep(NormKind norm, int64_t batch, int64_t microbatch)
      : net_(config(norm, microbatch), Device::CUDA),
        opt_(net_.named_parameters(), 0.05f, SgdOptions{.momentum = 0.9f, .weight_decay = 5e-4f, .nesterov = true}),
        x_(Tensor::normal(Shape{batch, 32, 32, 3}, 5, 0.f, 1.f, Device::CUDA)),
        labels_(Tensor::from_vector(label_values(batch), Shape{batch}, Device::CUDA)) {}

  void run() {
    opt_.set_lr(0.05f / float(++step_));
    Tensor hits;
    Tensor loss = softmax_cross_entropy(net_.forward(x_), labels_, &hits);
    opt_.zero_grad();
    loss.backward();
    opt_.step();
    NoGradGuard ng;
    loss_sum_ = add(loss_sum_, loss.detach());
    acc_sum_ = add(acc_sum_, scale(sum(hits), 1.f / float(labels_.numel())));
  }

 private:
  static ModelConfig config(NormKind norm, int64_t microbatch) {
    ModelConfig c;
    c.norm = norm;
    c.norm_config.microbatch = microbatch;
    c.norm_config.schedule = ClipSchedule::constant(2.f, 1.f);
    return c;
  }
  static std::vector<float> label_values(int64_t batch) {
    std::vector<float> v;
    for (int64_t i = 0; i < batch; ++i) v.push_back(float(i % 10));
    return v;
  }
  CifarCnn net_;
  Sgd opt_;
  Tensor x_, labels_;
  Tensor loss_sum_ = Tensor::zeros(Shape{}, Device::CUDA), acc_sum_ = Tensor::zeros(Shape{}, Device::CUDA);
  int64_t step_ = 0;
};

}  // namespace renorm::test
