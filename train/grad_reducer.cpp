#include "train/grad_reducer.h"

#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"
#include "runtime/allocator.h"
#include "tensor/autograd.h"

namespace renorm {

GradReducer::GradReducer(NamedTensors params, NamedTensors buffers, Communicator& comm, Device device,
                         int64_t bucket_bytes)
    : comm_(comm), device_(device) {
  int64_t offset = 0;
  const int64_t cap = std::max<int64_t>(1, bucket_bytes / int64_t(sizeof(float)));
  // Reverse order: backward reaches the last layer first.
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Tensor& t = it->second;
    if (buckets_.empty() || buckets_.back().numel >= cap) buckets_.push_back(Bucket{offset});
    Bucket& b = buckets_.back();
    index_[t.impl()] = int64_t(params_.size());
    params_.push_back({t, offset, int64_t(buckets_.size()) - 1});
    b.numel += t.numel();
    ++b.members;
    offset += t.numel();
  }
  buckets_.push_back(Bucket{offset});
  for (auto& [name, t] : buffers) {
    buffers_.push_back({t, offset, int64_t(buckets_.size()) - 1});
    buckets_.back().numel += t.numel();
    offset += t.numel();
  }
  done_.assign(params_.size(), 0);
  flat_ = Tensor::zeros(Shape{std::max<int64_t>(offset, 1)}, device);
}

void GradReducer::start(Bucket& b) {
  b.started = true;
  if (b.numel > 0) comm_.start_allreduce_sum(flat_.data() + b.offset, b.numel);
}

void GradReducer::ready(int64_t i) {
  if (done_[size_t(i)]) return;
  done_[size_t(i)] = 1;
  const Slot& s = params_[size_t(i)];
  const Tensor g = s.t.grad();
  float* dst = flat_.data() + s.offset;
  if (g.defined()) copy_bytes(dst, device_, g.data(), g.device(), size_t(g.numel()) * sizeof(float));
  else RENORM_DISPATCH(device_, fill, dst, s.t.numel(), 0.f);  // a parameter no gradient reached
  Bucket& b = buckets_[size_t(s.bucket)];
  if (--b.waiting == 0) start(b);
}

void GradReducer::start_buffers() {
  for (Bucket& b : buckets_) {
    b.waiting = b.members;
    b.started = false;
  }
  std::fill(done_.begin(), done_.end(), 0);
  for (const Slot& s : buffers_)
    copy_bytes(flat_.data() + s.offset, device_, s.t.data(), s.t.device(), size_t(s.t.numel()) * sizeof(float));
  start(buckets_.back());
}

void GradReducer::backward(const Tensor& loss) {
  const GradReadyHook hook = [this](const std::shared_ptr<TensorImpl>& leaf) {
    const auto it = index_.find(leaf.get());
    if (it != index_.end()) ready(it->second);
  };
  set_grad_ready_hook(&hook);
  try {
    loss.backward();
  } catch (...) {
    set_grad_ready_hook(nullptr);
    throw;
  }
  set_grad_ready_hook(nullptr);
}

void GradReducer::finish() {
  for (size_t i = 0; i < params_.size(); ++i) ready(int64_t(i));  // parameters outside the graph
  comm_.finish();
  const float inv = 1.f / float(comm_.size());
  for (Slot& s : params_) {  // a new gradient tensor: the one backward left may be shared (autograd.cpp)
    s.t.set_grad(Tensor::empty(s.t.shape(), device_));
    RENORM_DISPATCH(device_, scale, flat_.data() + s.offset, inv, s.t.grad().data(), s.t.numel());
  }
  for (Slot& s : buffers_) RENORM_DISPATCH(device_, scale, flat_.data() + s.offset, inv, s.t.data(), s.t.numel());
}

}  // namespace renorm
