// Module: the layer interface. Parameters (trainable, with gradients) and buffers (state such as the
// moving averages of a norm layer) are exposed by name for optimizers and checkpoints; train/eval mode.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace renorm {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;

  // Appends (prefix + name, tensor) for each parameter / buffer of this module and its children.
  virtual void collect_parameters(const std::string& prefix, NamedTensors& out) const {}
  virtual void collect_buffers(const std::string& prefix, NamedTensors& out) const {}
  NamedTensors named_parameters() const {
    NamedTensors out;
    collect_parameters("", out);
    return out;
  }
  NamedTensors named_buffers() const {
    NamedTensors out;
    collect_buffers("", out);
    return out;
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, t] : named_parameters()) out.push_back(t);
    return out;
  }
  void zero_grad() {
    for (Tensor& p : parameters()) p.zero_grad();
  }

  virtual void train(bool on = true) { training_ = on; }
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  bool training_ = true;
};

}  // namespace renorm
