#include "tensor/step_scalars.h"

#include <cstring>
#include <string>

#include "runtime/allocator.h"
#include "runtime/error.h"

namespace renorm {

int StepScalars::reserve(int words, const char* who) {
  if (words_.defined())
    throw ConfigError(std::string(who) + ": the step's scalar block is in use already; reserve its words before the first step");
  const int first = int(host_.size());
  host_.resize(host_.size() + size_t(words), 0u);
  return first;
}

void StepScalars::set(int word, float value) { std::memcpy(&host_.at(size_t(word)), &value, sizeof(float)); }
void StepScalars::set_bits(int word, uint32_t value) { host_.at(size_t(word)) = value; }

float StepScalars::get(int word) const {
  float v;
  std::memcpy(&v, &host_.at(size_t(word)), sizeof(float));
  return v;
}

// The device words start as the host's (what the owners wrote when they reserved them), so a block
// viewed before its first upload reads defined values.
void StepScalars::allocate() const {
  if (words_.defined()) return;
  std::vector<float> initial(std::max<size_t>(host_.size(), 1), 0.f);
  std::memcpy(initial.data(), host_.data(), host_.size() * sizeof(uint32_t));
  words_ = Tensor::from_vector(initial, Shape{int64_t(initial.size())}, device_);
}

void StepScalars::upload() {
  allocate();
  if (!host_.empty()) upload_small_async(words_.data(), device_, host_.data(), host_.size() * sizeof(uint32_t));
}

Tensor StepScalars::view(int word, int count) const {
  allocate();
  if (word < 0 || count < 0 || size_t(word) + size_t(count) > host_.size())
    throw ConfigError("step scalars: words [" + std::to_string(word) + ", " + std::to_string(word + count) +
                      ") outside the block's " + std::to_string(host_.size()));
  Tensor v = words_.detach();
  v.impl()->offset = word;
  v.impl()->shape = Shape{count};
  return v;
}


void StepWords::attach(std::shared_ptr<StepScalars> block) {
  block_ = std::move(block);
  first_ = block_->reserve(count_, who_);
  own_ = false;
}

StepScalars& StepWords::use(Device device) {
  if (own_ && (!block_ || block_->device() != device)) {
    block_ = std::make_shared<StepScalars>(device);
    first_ = block_->reserve(count_, who_);
  }
  return *block_;
}

}  // namespace renorm
