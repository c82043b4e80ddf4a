// Data-parallel averaging of the gradients and of the norm layers' moving averages (docs/distributed.md).
// The parameters' gradients are copied into a flat buffer in buckets of about `bucket_bytes`, in the
// order backward produces them (last layer first); a bucket's all-reduce (a sum, in float32, the
// parameters' own dtype) starts as soon as autograd reports its last gradient final
// (set_grad_ready_hook), so it overlaps the rest of backward. finish() completes them and writes
// sum / K back: one scale at the end. The buffers (moving mean and std, final after forward) are one
// more bucket, started before backward. The flat buffer lives on the run's device (host for MPI,
// device for NCCL) and is allocated once: a warm step allocates nothing.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "layers/module.h"
#include "runtime/comm.h"
#include "tensor/tensor.h"

namespace renorm {

class GradReducer {
 public:
  GradReducer(NamedTensors params, NamedTensors buffers, Communicator& comm, Device device,
              int64_t bucket_bytes = int64_t(1) << 18);
  // One step: start_buffers() after forward; backward(loss) in place of loss.backward(); finish()
  // before the optimizer step.
  void start_buffers();
  void backward(const Tensor& loss);
  void finish();
  int64_t bytes_per_step() const { return flat_.numel() * int64_t(sizeof(float)); }
  int64_t buckets() const { return int64_t(buckets_.size()); }

 private:
  struct Slot {  // one tensor's place in the flat buffer
    Tensor t;
    int64_t offset, bucket;
  };
  struct Bucket {
    int64_t offset = 0, numel = 0, members = 0, waiting = 0;
    bool started = false;
  };
  void ready(int64_t slot);  // the slot's gradient is final: copy it in, start its bucket when full
  void start(Bucket& b);

  Communicator& comm_;
  Device device_;
  std::vector<Slot> params_, buffers_;
  std::vector<Bucket> buckets_;  // parameter buckets, then the buffers' bucket (last)
  std::unordered_map<const TensorImpl*, int64_t> index_;
  std::vector<char> done_;  // per parameter, this step
  Tensor flat_;
};

}  // namespace renorm
