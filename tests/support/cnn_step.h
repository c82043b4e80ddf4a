// One training step of the CIFAR CNN on the (emulated) CUDA device, as train/trainer.cpp's train_step
// runs it: the batch copied into static buffers, this step's scalars (clipping bounds, dropout step,
// learning rate) written and uploaded in one copy, then forward, softmax cross-entropy with the hits,
// zero_grad, backward, SGD (momentum, weight decay) and the loss and accuracy summed in place — eagerly
// (run) or as a captured graph after warm-up steps in its pool (run_graph). For the step's account
// (the budget test, scripts/gpu-traffic.sh) and the graph-vs-eager test; convolutions and GEMMs need the
// emulator's reference libraries (renorm_emu::set_reference_libraries).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "models/cifar_cnn.h"
#include "runtime/cuda_graph.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "train/optim.h"

namespace renorm::test {

class CnnStep {
 public:
  static constexpr int kGraphWarmup = 2;  // eager steps in the graph's pool before the capture

  // side: the images' height and width; the clipping bounds ramp over the first 8 steps and the
  // learning rate falls every step, so every per-step scalar changes.
  CnnStep(NormKind norm, int64_t batch, int64_t microbatch, int64_t side = 32)
      : net_(config(norm, microbatch, side), Device::CUDA),
        opt_(net_.named_parameters(), 0.05f, SgdOptions{.momentum = 0.9f, .weight_decay = 5e-4f, .nesterov = true},
             net_.step_scalars()),
        x_(Tensor::normal(Shape{batch, side, side, 3}, 5, 0.f, 1.f, Device::CUDA)),
        labels_(Tensor::from_vector(label_values(batch), Shape{batch}, Device::CUDA)) {}

  void run() {
    prepare();
    work();
  }

  void run_graph() {
    prepare();
    if (!graph_) graph_ = std::make_unique<CudaGraph>();
    graph_->run([this] { work(); }, kGraphWarmup);
  }

  // Parameters, moving averages, the optimizer's momentum and the two sums, by name.
  NamedTensors state() const {
    NamedTensors all = net_.named_parameters();
    for (auto& nt : net_.named_buffers()) all.push_back(nt);
    for (auto& nt : opt_.named_state()) all.push_back(nt);
    all.emplace_back("loss_sum", loss_sum_);
    all.emplace_back("acc_sum", acc_sum_);
    return all;
  }
  CifarCnn& net() { return net_; }
  const CudaGraph* graph() const { return graph_.get(); }  // null before the first run_graph
  // A new input batch before every step (the budget test's warm step keeps one: no extra launch).
  void set_fresh_inputs(bool on) { fresh_inputs_ = on; }

 private:
  // What the trainer does before a step: a new batch into the static input (when fresh_inputs), the
  // step's scalars.
  void prepare() {
    if (fresh_inputs_) x_.normal_(100 + uint64_t(step_), 0.f, 1.f);
    opt_.set_lr(0.05f / float(step_ + 1));
    net_.write_step(step_);
    opt_.write_step();
    net_.step_scalars()->upload();
    ++step_;
  }
  void work() {
    Tensor hits;
    Tensor loss = softmax_cross_entropy(net_.forward(x_), labels_, &hits);
    opt_.zero_grad();
    loss.backward();
    opt_.apply();
    NoGradGuard ng;
    add_into(loss_sum_, loss.detach());
    add_into(acc_sum_, scale(sum(hits), 1.f / float(labels_.numel())));
  }
  static ModelConfig config(NormKind norm, int64_t microbatch, int64_t side) {
    ModelConfig c;
    c.height = c.width = side;
    c.norm = norm;
    c.norm_config.microbatch = microbatch;
    c.norm_config.schedule = ClipSchedule{.warmup_steps = 1, .rmax_steps = 8, .dmax_steps = 6, .rmax_final = 2.f,
                                          .dmax_final = 1.f};
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
  std::unique_ptr<CudaGraph> graph_;
  bool fresh_inputs_ = false;
};

}  // namespace renorm::test
