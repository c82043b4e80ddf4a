// Minibatches for training and evaluation. Batch k is a pure function of (dataset, seed, k): the
// example order of epoch e = k / batches_per_epoch is a seeded permutation, augmentation draws are keyed
// by (seed, k, slot), so seek(k) resumes exactly. A background thread prepares the next batches into
// pinned host buffers (two slots) while the device trains on the current one; the upload is queued
// asynchronously (no host-device sync in the training step).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "tensor/tensor.h"
#include "data/dataset.h"
#include "runtime/named_enum.h"

namespace renorm {

enum class Sampler {
  Iid,     // a seeded permutation per epoch
  NonIid,  // the paper's non-i.i.d. setting: each minibatch is B/run runs of `class_run` same-class
           // examples (the paper: pairs, run 2); the runs' classes are distinct while B/run <= classes
           // (else they cycle), so each microbatch of M holds M/run classes
};
const EnumNames<Sampler>& enum_names(Sampler);  // "iid", "noniid"

struct LoaderConfig {
  int64_t batch = 0;  // set by the caller (the run's TrainConfig::batch)
  bool shuffle = true;
  bool augment = false;  // random crop with zero padding 4 (in normalized space: the mean) + horizontal flip
  bool drop_last = true;  // training: whole batches only; evaluation: false (a last, smaller batch)
  Sampler sampler = Sampler::Iid;
  uint64_t seed = 1;
  // Data parallelism: this loader yields shard `shard` of `shards` of every batch — its examples
  // [shard·B/shards, (shard+1)·B/shards) of the batch one loader would yield, augmented exactly as there.
  // Needs drop_last and shards dividing B.
  int64_t shard = 0, shards = 1;
  int64_t class_run = 2;  // NonIid: examples of one class in a row; must divide the batch (and each shard)
};

struct Batch {
  Tensor images;  // [B,H,W,C], normalized
  Tensor labels;  // [B], class index as float
  int64_t index = 0;
  Tensor storage;  // images then labels: one block on the device (next_into refills it)
};

class DataLoader {
 public:
  DataLoader(const Dataset& data, Normalization norm, LoaderConfig config, Device device);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  Batch next();               // batch position(), then advances
  // The same batch into `into`'s storage, reused when it has the batch's size (allocated otherwise):
  // static input buffers, filled by one asynchronous copy from pinned memory, that a captured training
  // step reads at the same addresses every step.
  void next_into(Batch& into);
  void seek(int64_t batch);   // the next call to next() returns batch `batch`
  int64_t position() const { return position_; }
  int64_t batches_per_epoch() const;
  int64_t batch_size(int64_t k) const;  // B (or the remainder for a last partial batch), over shards
  // Fills batch k into host buffers (images [B,H,W,C] floats, labels [B]). Thread-safe.
  void fill(int64_t k, float* images, float* labels) const;

 private:
  struct Slot {
    float* host = nullptr;  // pinned: images then labels
    int64_t index = -1;
    bool ready = false;
    uint64_t upload = 0;
  };
  const Dataset& data_;
  Normalization norm_;
  LoaderConfig cfg_;
  Device device_;
  int64_t position_ = 0;
  Slot slots_[2];
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  mutable std::mutex perm_mutex_;
  mutable int64_t perm_epoch_ = -1;
  mutable std::vector<int64_t> perm_;
  mutable std::vector<std::vector<int64_t>> by_class_;

  void start(int64_t from);
  void halt();
  void work(int64_t from);
  std::vector<int64_t> indices(int64_t k) const;        // this shard's examples of batch k
  std::vector<int64_t> batch_indices(int64_t k) const;  // all of batch k's
};

}  // namespace renorm
