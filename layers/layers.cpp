#include "layers/layers.h"

#include <cmath>

#include "runtime/error.h"
#include "tensor/ops.h"

namespace renorm {

void initialize(Tensor& w, Init kind, int64_t fan_in, int64_t fan_out, uint64_t seed) {
  switch (kind) {
    case Init::HeNormal:
      w.normal_(seed, 0.f, std::sqrt(2.f / float(fan_in)));
      return;
    case Init::HeUniform: {
      const float bound = std::sqrt(6.f / float(fan_in));
      w.uniform_(seed, -bound, bound);
      return;
    }
    case Init::GlorotUniform: {
      const float bound = std::sqrt(6.f / float(fan_in + fan_out));
      w.uniform_(seed, -bound, bound);
      return;
    }
  }
}

Init parse_init(const std::string& name) {
  if (name == "he-normal") return Init::HeNormal;
  if (name == "he-uniform") return Init::HeUniform;
  if (name == "glorot-uniform") return Init::GlorotUniform;
  throw ConfigError("init: '" + name + "' is not one of he-normal, he-uniform, glorot-uniform");
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, ConvOptions o, Device device) : options_(o) {
  if (in <= 0 || out <= 0 || kernel <= 0)
    throw ConfigError("Conv2d: channels and kernel must be > 0 (in " + std::to_string(in) + ", out " +
                      std::to_string(out) + ", kernel " + std::to_string(kernel) + ")");
  weight = Tensor::empty(Shape{out, kernel, kernel, in}, device);
  initialize(weight, o.init, kernel * kernel * in, kernel * kernel * out, o.seed);
  weight.requires_grad_();
  if (o.bias) bias = Tensor::zeros(Shape{out}, device).requires_grad_();
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, options_.stride, options_.pad, options_.relu, options_.math); }

void Conv2d::collect_parameters(const std::string& prefix, NamedTensors& out) const {
  out.emplace_back(prefix + "weight", weight);
  if (bias.defined()) out.emplace_back(prefix + "bias", bias);
}

Linear::Linear(int64_t in, int64_t out, bool has_bias, Init init, uint64_t seed, Device device, MatMath math) : math_(math) {
  if (in <= 0 || out <= 0)
    throw ConfigError("Linear: sizes must be > 0 (in " + std::to_string(in) + ", out " + std::to_string(out) + ")");
  weight = Tensor::empty(Shape{out, in}, device);
  initialize(weight, init, in, out, seed);
  weight.requires_grad_();
  if (has_bias) bias = Tensor::zeros(Shape{out}, device).requires_grad_();
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias, math_); }

void Linear::collect_parameters(const std::string& prefix, NamedTensors& out) const {
  out.emplace_back(prefix + "weight", weight);
  if (bias.defined()) out.emplace_back(prefix + "bias", bias);
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_, stride_); }

Tensor Flatten::forward(const Tensor& x) {
  if (x.rank() < 1) throw ShapeError("Flatten: input of rank 0");
  return x.reshape(Shape{x.dim(0), -1});
}

Tensor GlobalAvgPool::forward(const Tensor& x) { return global_avg_pool(x); }

Dropout::Dropout(float p, uint32_t layer_id, uint64_t seed) : p_(p), layer_(layer_id), seed_(seed) {
  if (!(p >= 0.f && p < 1.f)) throw ConfigError("Dropout: p must be in [0, 1), got " + std::to_string(p));
}

void Dropout::use_step_scalars(std::shared_ptr<StepScalars> scalars) {
  words_.attach(std::move(scalars));
  write_step(step_);
}

void Dropout::write_step(int64_t step) {
  step_ = step;
  if (StepScalars* b = words_.block()) b->set_bits(words_.first(), static_cast<uint32_t>(step));
}

Tensor Dropout::forward(const Tensor& x) {
  if (!training_ || p_ == 0.f) return x;
  // On its own: the step advanced by each forward, its word this call's own (the backward reads it,
  // however many forwards come first). In a model's block: the word the block's owner wrote.
  if (words_.own()) return dropout(x, p_, seed_, layer_, static_cast<uint32_t>(step_++), first_example_);
  return dropout(x, p_, seed_, layer_, words_.view(), first_example_);
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  m->train(training_);
  children_.push_back(std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : children_) h = m->forward(h);
  return h;
}

void Sequential::collect_parameters(const std::string& prefix, NamedTensors& out) const {
  for (size_t i = 0; i < children_.size(); ++i) children_[i]->collect_parameters(prefix + std::to_string(i) + ".", out);
}

void Sequential::collect_buffers(const std::string& prefix, NamedTensors& out) const {
  for (size_t i = 0; i < children_.size(); ++i) children_[i]->collect_buffers(prefix + std::to_string(i) + ".", out);
}

void Sequential::train(bool on) {
  Module::train(on);
  for (auto& m : children_) m->train(on);
}

}  // namespace renorm
