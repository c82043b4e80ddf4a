// Per-step scalars that kernels read from memory on their device (issue 26): the clipping bounds of the
// norm layers, the dropout step, the learning rate and Adam's bias corrections. They change every step,
// so as kernel arguments they would be baked into a captured CUDA graph; read through a pointer instead,
// the same launches (or one graph) serve every step. Owners reserve words once, write them on the host
// each step, and one asynchronous copy (upload) moves the whole block to the device before the step's
// work: the model owns one block its layers and the optimizer share (models/model.h, train/optim.h).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "tensor/tensor.h"

namespace renorm {

class StepScalars {
 public:
  explicit StepScalars(Device device) : device_(device) {}
  StepScalars(const StepScalars&) = delete;
  StepScalars& operator=(const StepScalars&) = delete;

  Device device() const { return device_; }
  // `words` new 32-bit words, their first index returned. Only before the first view() or upload() (the
  // block's size is fixed then): a later reserve is a ConfigError naming `who`.
  int reserve(int words, const char* who);
  void set(int word, float value);          // host value, until the next upload()
  void set_bits(int word, uint32_t value);  // the same for an integer word
  float get(int word) const;
  // One asynchronous host-to-device copy of every word, through a page-locked staging slot
  // (runtime/allocator.h upload_small_async: the host may write the next step's values at once, and
  // nothing waits). Not inside a captured graph (a DeviceError): upload before the replay. On the CPU
  // the values are in place at once.
  void upload();
  // Words [word, word + count) on the device, as float32 (what the kernels are given; an integer word,
  // set_bits's, is read through a cast of its pointer). Stable for the block's life: a captured graph
  // may keep them.
  Tensor view(int word, int count) const;

 private:
  void allocate() const;
  Device device_;
  std::vector<uint32_t> host_;  // the values the next upload sends
  mutable Tensor words_;        // on device_, allocated at the first view() or upload()
};

// One component's words (a layer's): in a block of their own — made at the first use() on the device
// of the component's input, uploaded by the component itself each step — until attach() moves them into
// a shared block, whose owner then writes and uploads them (the component's forward no longer does).
class StepWords {
 public:
  StepWords(int count, const char* who) : count_(count), who_(who) {}
  void attach(std::shared_ptr<StepScalars> block);
  bool own() const { return own_; }
  StepScalars* block() const { return block_.get(); }  // null: own words not used yet
  int first() const { return first_; }
  // The block for work on `device` (an own block is made, or remade for another device, here).
  StepScalars& use(Device device);
  Tensor view() const { return block_->view(first_, count_); }

 private:
  int count_;
  const char* who_;
  std::shared_ptr<StepScalars> block_;
  int first_ = 0;
  bool own_ = true;
};

}  // namespace renorm
